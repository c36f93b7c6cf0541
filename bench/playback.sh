#!/usr/bin/env bash
# What a signed HLS playlist costs, measured side by side in one run on the
# local store in process (core's BenchmarkPlayback): a plain media data
# request (GET .../objects/KEY: Head and SignGet) and a playback link to a
# one-hour VOD playlist (600 fMP4 segments and the init section: one
# ReadObject, 601 GETs signed in one SignGets call, the rewrite). ROUNDS
# rounds (default 3), interleaved; medians.
# Prints a Markdown section and, with --write, replaces the "Playback"
# section of docs/benchmarks.md.
#   ROUNDS=3 BENCHTIME=2s bench/playback.sh [--write]
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

core_bench BenchmarkPlayback
result=$(python3 - "$work/out.txt" <<'PY'
import re, statistics, sys
runs, calls = {}, {}
for line in open(sys.argv[1]):
    m = re.match(r"BenchmarkPlayback/(\S+?)-\d+\s+\d+\s+([\d.]+) ns/op(?:\s+([\d.]+) provider_calls/op)?\s+(\d+) B/op\s+(\d+) allocs/op", line)
    if m:
        runs.setdefault(m.group(1), []).append((float(m.group(2)), int(m.group(5))))
        if m.group(3):
            calls[m.group(1)] = float(m.group(3))
med = {k: statistics.median(v[0] for v in vs) for k, vs in runs.items()}
allocs = {k: vs[0][1] for k, vs in runs.items()}
n = len(runs.get("media_data", []))
if calls.get("vod_playlist_600") != 2.0:
    sys.exit("the VOD playlist took %s provider calls per request, want 2 (one read, one batched signing)" % calls.get("vod_playlist_600"))
print("| | µs/op (median of %d) | allocs/op | provider calls |" % n)
print("|---|---:|---:|---:|")
print("| media data (`GET …/objects/KEY`) | %.1f | %d | 2 (Head, SignGet) |" % (med["media_data"] / 1000, allocs["media_data"]))
print("| playback link, 1-hour VOD playlist (601 signed URLs) | %.1f | %d | 2 (ReadObject, one SignGets) |" % (med["vod_playlist_600"] / 1000, allocs["vod_playlist_600"]))
print()
print("One playlist costs **%.1f×** one media data request, for 601 signed URLs "
      "(%.2f µs per URL); its provider calls stay two whatever its length." % (med["vod_playlist_600"] / med["media_data"], med["vod_playlist_600"] / 601 / 1000))
PY
)
section="## Playback

Measured by \`bench/playback.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores, in process on the
local store (no plugin hop, no network: what the gateway itself spends). A playback link to a
one-hour VOD playlist (600 fMP4 segments of 6 s and an init section) beside a plain media data
request, in the same run. The script fails unless the playlist took exactly two provider calls
per request: the read and one batched signing call (through a plugin, each is one round trip).

$result

A player fetches a VOD variant playlist once per session (a master signs nothing), so this is
paid once per rendition played, not per segment."
python3 bench/write_section.py ${write:+"$write"} "Playback" "$section"
