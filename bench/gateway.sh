#!/usr/bin/env bash
# Gateway throughput, measured side by side in one run with wrk on loopback:
#   valet      POST /v1/stores/demo/uploads with a JWT (auth, policy, key
#              naming, upload-id sealing and the plugin hop to the local store)
#   hello      a hello-world net/http handler (the ceiling for any Go server)
#   companion  Uppy Companion's GET /s3/params with dummy S3 settings (signs
#              a POST policy locally, no network)
# Prints a Markdown table and, with --write, replaces the "Gateway" section
# of docs/benchmarks.md. Needs `e2e/install.sh bench` (wrk, @uppy/companion).
# The targets are measured in interleaved rounds (hello, valet, companion,
# hello, ...) and each figure is the median over the rounds, so that load
# from elsewhere on the machine hits all three alike.
#   ROUNDS=3 DURATION=5s CONNECTIONS=32 THREADS=2 bench/gateway.sh [--write]
set -euo pipefail
duration=${DURATION:-5s}
rounds=${ROUNDS:-3}
conns=${CONNECTIONS:-32}
threads=${THREADS:-2}
write=; [ "${1:-}" = --write ] && write=--write
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
need wrk node

start_valet
start_hello
start_companion
upload_slot

run() { wrk_run "$@"; }

# Warm up every server briefly, then measure each in turn.
for u in "http://127.0.0.1:$hport/" "http://127.0.0.1:$cport$companion_path"; do
  wrk -t1 -c4 -d1s "$u" >/dev/null
done
wrk -t1 -c4 -d1s -s bench/upload.lua "http://127.0.0.1:$vport/v1/stores/demo/uploads" >/dev/null

load_before=$(cut -d' ' -f1 /proc/loadavg)
: >"$work/results"
for r in $(seq 1 "$rounds"); do
  run hello "http://127.0.0.1:$hport/" >>"$work/results"
  run valet "http://127.0.0.1:$vport/v1/stores/demo/uploads" -s bench/upload.lua >>"$work/results"
  run companion "http://127.0.0.1:$cport$companion_path" >>"$work/results"
done
load_after=$(cut -d' ' -f1 /proc/loadavg)
# median NAME COLUMN: the median of one column over the rounds (by requests/s
# for column 2; latencies are reported from the median-throughput round).
median_row() { awk -v n="$1" '$1==n' "$work/results" | sort -k2,2g | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }
read -r _ h_rps h_p50 h_p99 <<<"$(median_row hello)"
read -r _ v_rps v_p50 v_p99 <<<"$(median_row valet)"
read -r _ c_rps c_p50 c_p99 <<<"$(median_row companion)"

# Where the gateway's CPU goes: one extra, unmeasured Valet run under the
# profiler (profiling costs a little, so it is kept out of the figures).
profile upload "http://127.0.0.1:$vport/v1/stores/demo/uploads" -s bench/upload.lua
prof_line="CPU profile of the gateway under the same load (5 s): JWT verification $(share 'auth\.\(\*Authenticator\)\.Authenticate$'),
the upload handler $(share 'core\.\(\*Server\)\.createUpload$') (of which the plugin call $(share 'plugins/host\.\(\*Plugin\)\.SignPut$')),
the request log line $(share 'log/slog\.\(\*Logger\)\.LogAttrs$'); the rest is HTTP, JSON and the runtime."

cores=$(nproc)
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
node_v=$(node --version)
companion_v=$(node -p "require('./$companion_dir/package.json').version")
table=$(cat <<MD
## Gateway

\`bench/gateway.sh\` (run by \`make bench\`): wrk ${threads} threads, ${conns} connections, on loopback; all three
servers started by the same run on the same machine (${cores} cores, ${cpu}; $(go env GOVERSION), node ${node_v}),
measured in ${rounds} interleaved rounds of ${duration} each; the table shows the median round per target
(load average ${load_before} before, ${load_after} after: the machine was shared with other work).

| target | requests/s | p50 | p99 | vs hello-world |
|---|---:|---:|---:|---:|
| hello-world \`net/http\` handler | ${h_rps} | ${h_p50} | ${h_p99} | 1.00× |
| Valet \`POST /v1/stores/demo/uploads\` (JWT, CEL policy, key template, sealed upload id, call to the local plugin process) | ${v_rps} | ${v_p50} | ${v_p99} | $(ratio "$v_rps" "$h_rps")× |
| Uppy Companion ${companion_v} \`GET /s3/params\` (dummy S3 settings, signs locally) | ${c_rps} | ${c_p50} | ${c_p99} | $(ratio "$c_rps" "$h_rps")× |

Every round, requests/s: hello-world $(all hello); Valet $(all valet); Companion $(all companion).

Valet vs Companion: **$(ratio "$v_rps" "$c_rps")×**. Valet vs hello-world: **$(ratio "$v_rps" "$h_rps")×** (goals: ≥ 30× and ≥ 0.4×).
Every Valet request was answered 201 (wrk reported no non-2xx responses).

${prof_line}
MD
)
python3 bench/write_section.py ${write:+"$write"} "Gateway" "$table"
