"""Print a bench script's Markdown section and, with --write, replace its
"## HEADING" section of docs/benchmarks.md (up to the next "## "), or
append it, so that each script owns only its own section.

usage: python3 bench/write_section.py [--write] HEADING SECTION_TEXT
"""
import os
import re
import sys

args = sys.argv[1:]
write = bool(args) and args[0] == "--write"
if write:
    args = args[1:]
heading, section = args[0], args[1].rstrip() + "\n"
sys.stdout.write(section)
if write:
    path = os.path.join("docs", "benchmarks.md")
    os.makedirs("docs", exist_ok=True)
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    pat = re.compile(r"^## " + re.escape(heading) + r"\n.*?(?=^## |\Z)", re.S | re.M)
    if pat.search(text):
        text = pat.sub(lambda m: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    open(path, "w").write(text)
    print("bench: wrote the %s section of %s" % (heading, path))
