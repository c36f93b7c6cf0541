#!/usr/bin/env bash
# Batch GET signing, measured side by side in one run with wrk on loopback,
# against the same gateway and local store (bench/lib.sh's demo store):
#   single  GET /v1/stores/demo/objects/{key}: one object's metadata and one
#           signed GET URL (a Head and a SignGet through the plugin)
#   batch   POST /v1/stores/demo/objects/sign with 100 keys: 100 signed GET
#           URLs (the read rule per key, one SignGets call to the plugin)
#   checked the same batch with check_exists (a Head per key as well)
# The figure that matters is signed URLs per second (goal: the batch at least
# 20x the single requests). Prints a Markdown section and, with --write,
# replaces the "Batch signing" section of docs/benchmarks.md.
#   ROUNDS=3 DURATION=5s CONNECTIONS=32 THREADS=2 BATCH=100 bench/batch.sh [--write]
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
batch=${BATCH:-100}
need wrk

start_valet
gw="http://127.0.0.1:$vport"
python3 bench/seed.py "$gw" demo "$TOKEN" "$batch" "$work/keys.json"
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
keys = json.load(open(w + "/keys.json"))
json.dump({"keys": keys}, open(w + "/batch.json", "w"))
json.dump({"keys": keys, "check_exists": True}, open(w + "/checked.json", "w"))
open(w + "/key", "w").write(keys[0])
PY
key=$(cat "$work/key")

# Real answers first: every item of both batches is a signed URL, and the
# URLs fetch the seeded bytes.
for body in batch checked; do
  curl -fsS -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    --data-binary "@$work/$body.json" "$gw/v1/stores/demo/objects/sign" >"$work/$body.out"
  python3 - "$work/$body.out" "$batch" <<'PY'
import json, sys, urllib.request
items = json.load(open(sys.argv[1]))["items"]
n = int(sys.argv[2])
bad = [i for i in items if "url" not in i or "error" in i]
if len(items) != n or bad:
    sys.exit("bench: batch answered %d items, %d without a URL: %s" % (len(items), len(bad), bad[:2]))
for i in (items[0], items[-1]):
    with urllib.request.urlopen(urllib.request.Request(i["url"], headers=i.get("headers") or {})) as r:
        num = i["key"].rsplit("thumb-", 1)[1][:4]
        if r.read() != ("thumbnail %s\n" % num).encode() * 8:
            sys.exit("bench: %s fetched other bytes" % i["key"])
PY
done
status=$(curl -sS -o "$work/single.out" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$gw/v1/stores/demo/objects/$key")
[ "$status" = 200 ] || { echo "bench: GET object gave $status: $(cat "$work/single.out")" >&2; exit 1; }

calls() { # op: the gateway's provider calls of that operation so far
  curl -fsS "$gw/metrics" | awk -v op="$1" '$1 ~ /^valet_provider_calls_total\{/ && index($1, "op=\"" op "\"") {s += $2} END {print s + 0}'
}

# Where the CPU goes: the gateway's and its plugin process's CPU time
# (utime+stime, in clock ticks) is read around every measured run.
gpid=$(pgrep -f "^$work/valet serve" | head -1)
ppid_=$(pgrep -P "$gpid" | head -1)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)
secs=$(awk -v d="$duration" 'BEGIN { sub(/s$/, "", d); print d }')
# cpu NAME CMD...: runs CMD (a wrk_run), prints its line plus the gateway's
# and the plugin's CPU microseconds per request.
cpu() {
  local name=$1; shift
  local g0 p0 line
  g0=$(ticks "$gpid"); p0=$(ticks "$ppid_")
  line=$("$@")
  awk -v l="$line" -v g="$(( $(ticks "$gpid") - g0 ))" -v p="$(( $(ticks "$ppid_") - p0 ))" -v t="$tck" -v s="$secs" \
    'BEGIN { split(l, f, " "); n = f[2] * s; printf "%s %.0f %.0f\n", l, g / t * 1e6 / n, p / t * 1e6 / n }'
}
export BODY_FILE
single() { cpu single wrk_run single "$gw/v1/stores/demo/objects/$key" -H "Authorization: Bearer $TOKEN"; }
batchrun() { BODY_FILE="$work/$1.json" cpu "$1" wrk_run "$1" "$gw/v1/stores/demo/objects/sign" -s bench/sign.lua; }

wrk_run single "$gw/v1/stores/demo/objects/$key" -H "Authorization: Bearer $TOKEN" >/dev/null; BODY_FILE="$work/batch.json" wrk -t1 -c4 -d1s -s bench/sign.lua "$gw/v1/stores/demo/objects/sign" >/dev/null
load_before=$(cut -d' ' -f1 /proc/loadavg)
sg0=$(calls sign_gets); s0=$(calls sign_get)
: >"$work/results"
for r in $(seq 1 "$rounds"); do
  single >>"$work/results"
  batchrun batch >>"$work/results"
  batchrun checked >>"$work/results"
done
load_after=$(cut -d' ' -f1 /proc/loadavg)
sg1=$(calls sign_gets); s1=$(calls sign_get)
# The gateway's own CPU profile under the batch load, kept out of the figures.
BODY_FILE="$work/batch.json" profile batch "$gw/v1/stores/demo/objects/sign" -s bench/sign.lua
read -r _ s_rps s_p50 s_p99 s_gcpu s_pcpu <<<"$(median_row single)"
read -r _ b_rps b_p50 b_p99 b_gcpu b_pcpu <<<"$(median_row batch)"
read -r _ k_rps k_p50 k_p99 k_gcpu k_pcpu <<<"$(median_row checked)"
per() { awk -v a="$1" -v n="$2" 'BEGIN { printf "%.1f", a / n }'; }
urls() { awk -v a="$1" -v n="$2" 'BEGIN { printf "%.0f", a * n }'; }
s_urls=$(urls "$s_rps" 1); b_urls=$(urls "$b_rps" "$batch"); k_urls=$(urls "$k_rps" "$batch")
sign_gets=$(( sg1 - sg0 )); sign_get=$(( s1 - s0 ))
breq=$(awk '$1=="batch" || $1=="checked"' "$work/results" | wc -l)

section=$(cat <<MD
## Batch signing

\`bench/batch.sh\` (run by \`make bench\`), $(date -u +%Y-%m-%d): wrk ${threads} threads, ${conns} connections, on loopback,
one gateway with the local store in its plugin process ($(machine)); ${rounds} interleaved rounds of ${duration}
per target, the median round shown (load average ${load_before} before, ${load_after} after: the machine was shared).
Every answer was checked first: all ${batch} items of a batch carry a URL, and the URLs fetch the seeded bytes.

| request | requests/s | signed URLs/s | p50 | p99 | URLs/s vs single | CPU per URL: gateway + plugin |
|---|---:|---:|---:|---:|---:|---:|
| \`GET /v1/stores/demo/objects/{key}\` (Head + SignGet through the plugin) | ${s_rps} | ${s_urls} | ${s_p50} | ${s_p99} | 1.00× | ${s_gcpu} + ${s_pcpu} µs |
| \`POST /v1/stores/demo/objects/sign\`, ${batch} keys (read rule per key, one SignGets) | ${b_rps} | ${b_urls} | ${b_p50} | ${b_p99} | **$(ratio "$b_urls" "$s_urls")×** | $(per "$b_gcpu" "$batch") + $(per "$b_pcpu" "$batch") µs |
| the same with \`check_exists\` (also one Head per key, 8 at a time) | ${k_rps} | ${k_urls} | ${k_p50} | ${k_p99} | $(ratio "$k_urls" "$s_urls")× | $(per "$k_gcpu" "$batch") + $(per "$k_pcpu" "$batch") µs |

Every round, requests/s: single $(all single); batch $(all batch); checked $(all checked).
Goal: a batch of 100 signs at least 20× the URLs per second of single requests.
The gateway's metrics over the measured rounds: ${sign_gets} \`sign_gets\` plugin calls for the batch requests and
${sign_get} \`sign_get\` calls, which are the single requests' own (one per request): no batch fell back to per-key signing.
CPU per URL is the gateway's and the local plugin process's CPU time over the median round, divided by the URLs
signed. The gateway's own CPU profile under the batch load: the read rule for every key $(share 'core\.\(\*batchReads\)\.allow$'),
the JSON answer $(share 'core\.writeSigned$'), the request body $(share 'core\.decode$'), the SignGets call $(share 'plugins/host\.\(\*Plugin\)\.SignGets$').
\`check_exists\` costs one plugin round trip per key, so it is for pages that must not show a broken link;
without it a missing object is the storage server's 404 when the URL is fetched.
MD
)
python3 bench/write_section.py ${write:+"$write"} "Batch signing" "$section"
