#!/usr/bin/env bash
# Local store data path, measured side by side in one run:
#   plain   a plain Go server on the same disk (PUT: temp file, fsync,
#           rename; GET: http.ServeFile), in its own process
#   local   the local provider as `valet plugin serve local`, through
#           signed PUT and GET URLs
# Then the plugin's peak RSS (VmHWM) during one large upload.
# Prints a Markdown section and, with --write, replaces the "Local store"
# section of docs/benchmarks.md. Scratch files go to $DIR (default /tmp)
# and are deleted.
#   SIZE=1073741824 RSS_SIZE=4294967296 ROUNDS=2 bench/local.sh [--write]
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
rounds=${ROUNDS:-2}

go build -o "$work/valet" ./cmd/valet
go build -o "$work/localbench" ./bench/localbench
result=$("$work/localbench" -valet "$work/valet" -dir "${DIR:-/tmp}" \
  -size "${SIZE:-1073741824}" -rss-size "${RSS_SIZE:-4294967296}" -rounds "$rounds")

section="## Local store

Measured by \`bench/local.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores, loopback, scratch files
on the same disk for both servers. Goal: at least 0.9× the plain server both ways, and a plugin
peak RSS under 64 MiB whatever the file size.

$result

The RSS before the upload is the plugin process's baseline (the valet binary with every
provider linked in); a streamed upload adds next to nothing, since bodies go through one
pooled 1 MiB buffer to disk and downloads go through sendfile. On a shared 2-core machine
rounds vary by ±30%, so a ratio within 0.1 of 1 is a tie; rerun before drawing conclusions."
python3 bench/write_section.py ${write:+"$write"} "Local store" "$section"
