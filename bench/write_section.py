"""Replace one "## HEADING" section of a Markdown file (up to the next "## "),
or append it. Used by the bench scripts' --write so that each one owns only
its own section of docs/benchmarks.md.

usage: python3 bench/write_section.py FILE HEADING SECTION_TEXT
"""
import os
import re
import sys

path, heading, section = sys.argv[1], sys.argv[2], sys.argv[3].rstrip() + "\n"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
pat = re.compile(r"^## " + re.escape(heading) + r"\n.*?(?=^## |\Z)", re.S | re.M)
if pat.search(text):
    text = pat.sub(lambda m: section + "\n", text, count=1)
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
