#!/usr/bin/env bash
# The cost of tracing, measured side by side in one run with wrk on loopback:
#   off  the gateway as shipped (no OTEL_* environment: no tracer at all)
#   on   the same gateway and config with every request traced (sampled
#        100 %, parentbased_always_on) and exported over OTLP/HTTP to a local
#        Jaeger (in memory), its local plugin tracing too
# Both serve POST /v1/stores/demo/uploads with a JWT (bench/upload.lua).
# Prints a Markdown table and, with --write, replaces the "Tracing" section
# of docs/benchmarks.md. Needs wrk (`e2e/install.sh bench`) and .tools/bin/jaeger.
# The two are measured in interleaved rounds (off, on, off, ...) and each
# figure is the median over the rounds.
#   ROUNDS=3 DURATION=5s CONNECTIONS=32 THREADS=2 bench/tracing.sh [--write]
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
need wrk
jaeger=.tools/bin/jaeger
[ -x "$jaeger" ] || { echo "bench: $jaeger missing; run e2e/install.sh" >&2; exit 1; }

go build -o "$work/valet" ./cmd/valet

# Jaeger v2, in memory, OTLP/HTTP and the query API on loopback.
jhttp=$(freeport); jgrpc=$(freeport); jquery=$(freeport); jqgrpc=$(freeport)
cat >"$work/jaeger.yaml" <<YAML
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces: { receivers: [otlp], processors: [batch], exporters: [jaeger_storage_exporter] }
  telemetry: { metrics: { level: none }, logs: { level: warn }, traces: { level: none } }
extensions:
  jaeger_query: { storage: { traces: mem }, http: { endpoint: "127.0.0.1:$jquery" }, grpc: { endpoint: "127.0.0.1:$jqgrpc" } }
  jaeger_storage: { backends: { mem: { memory: { max_traces: 200000 } } } }
receivers:
  otlp: { protocols: { grpc: { endpoint: "127.0.0.1:$jgrpc" }, http: { endpoint: "127.0.0.1:$jhttp" } } }
processors:
  batch: {}
exporters:
  jaeger_storage_exporter: { trace_storage: mem }
YAML
"$jaeger" --config "file:$work/jaeger.yaml" >"$work/jaeger.log" 2>&1 &
pids+=($!)

# gateway NAME [env...]: a gateway with its own local store (lib.sh's
# demo store), in the background; sets port_NAME.
gateway() {
  local name=$1; shift
  local vport
  vport=$(freeport)
  valet_config "$work/$name.yaml" "$vport" "$work/data-$name"
  env "$@" "$work/valet" serve --config "$work/$name.yaml" >"$work/$name.log" 2>&1 &
  pids+=($!)
  printf -v "port_$name" %s "$vport"
}
gateway off
gateway on OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$jhttp" OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_TRACES_SAMPLER=parentbased_always_on
waitfor "http://127.0.0.1:$jquery/api/services" 60 || { cat "$work/jaeger.log" >&2; exit 1; }
for n in off on; do
  p="port_$n"
  waitfor "http://127.0.0.1:${!p}/readyz" 60 || { cat "$work/$n.log" >&2; exit 1; }
done
# The log is buffered: wait for the "serving" line, which says whether it traces.
logged() { # file pattern
  for _ in $(seq 1 100); do grep -q "$2" "$1" && return 0; sleep 0.1; done
  return 1
}
logged "$work/on.log" '"tracing":true' || { echo "bench: the traced gateway did not turn tracing on" >&2; cat "$work/on.log" >&2; exit 1; }
logged "$work/off.log" '"tracing":false' || { echo "bench: the untraced gateway traces" >&2; cat "$work/off.log" >&2; exit 1; }

TOKEN=$("$work/valet" token --config "$work/off.yaml" --subject bench --ttl 1h)
export TOKEN

url() { local p="port_$1"; echo "http://127.0.0.1:${!p}/v1/stores/demo/uploads"; }

for n in off on; do wrk -t1 -c4 -d1s -s bench/upload.lua "$(url "$n")" >/dev/null; done
load_before=$(cut -d' ' -f1 /proc/loadavg)
: >"$work/results"
for _ in $(seq 1 "$rounds"); do
  wrk_run off "$(url off)" -s bench/upload.lua >>"$work/results"
  wrk_run on "$(url on)" -s bench/upload.lua >>"$work/results"
done
load_after=$(cut -d' ' -f1 /proc/loadavg)
read -r _ off_rps off_p50 off_p99 <<<"$(median_row off)"
read -r _ on_rps on_p50 on_p99 <<<"$(median_row on)"

# The traces really went out: Jaeger knows both services, and a recent
# trace of the gateway has the request, provider-call and plugin spans.
sleep 6
services=$(curl -fsS "http://127.0.0.1:$jquery/api/services")
for s in valet valet-plugin-local; do
  grep -q "\"$s\"" <<<"$services" || { echo "bench: Jaeger has no traces of $s: $services" >&2; exit 1; }
done
spans=$(curl -fsS "http://127.0.0.1:$jquery/api/traces?service=valet&limit=1" | python3 -c '
import json, sys
t = json.load(sys.stdin)["data"][0]
print(", ".join(sorted({s["operationName"] for s in t["spans"]})))')

cost() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (1 - a / b) * 100 }'; }
table=$(cat <<MD
## Tracing

\`bench/tracing.sh\` (run by \`make bench\`): the same gateway and config twice in one run, wrk ${threads} threads,
${conns} connections on loopback, \`POST /v1/stores/demo/uploads\` with a JWT (one provider call through the local
plugin per request); $(machine); ${rounds} interleaved rounds of ${duration}, median
round per target (load average ${load_before} before, ${load_after} after).

| tracing | requests/s | p50 | p99 | vs off |
|---|---:|---:|---:|---:|
| off (no \`OTEL_*\` environment) | ${off_rps} | ${off_p50} | ${off_p99} | 1.00× |
| on, every request sampled, OTLP/HTTP to a local Jaeger (in memory) | ${on_rps} | ${on_p50} | ${on_p99} | $(ratio "$on_rps" "$off_rps")× |

Every round, requests/s: off $(all off); on $(all on). Throughput cost of tracing at 100 % sampling:
**$(cost "$on_rps" "$off_rps") %** (the traced gateway, its plugin and Jaeger share the same cores). Each traced
request is three spans (${spans}), exported in batches; Jaeger received the traces of both \`valet\` and
\`valet-plugin-local\`.
MD
)
python3 bench/write_section.py ${write:+"$write"} "Tracing" "$table"
