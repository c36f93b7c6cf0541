# bench/lib.sh: the setup the gateway benchmarks share, sourced by
# gateway.sh, batch.sh, latency.sh, tracing.sh, hooks.sh and playback.sh (it is not executable, so
# `make bench` does not run it on its own). It starts, on loopback and on
# free ports:
#   start_valet      `valet serve` with one local store, demo, shaped as
#                    examples/local.yaml (key template users/{subject}/...,
#                    reads under the caller's own prefix), pprof on $pport;
#                    sets vport, pport and TOKEN (a JWT for subject bench)
#   valet_config     writes such a gateway's config, for a script that
#                    starts gateways of its own
#   start_hello      the hello-world net/http server; sets hport
#   start_companion  Uppy Companion with dummy S3 settings; sets cport
# Everything started is stopped, and $work removed, when the script exits.
#
# The settings every benchmark takes from its environment: DURATION of a
# wrk run, ROUNDS of interleaved runs, CONNECTIONS and THREADS for wrk, and
# --write as the script's first argument (a script that sources this file
# without arguments passes its own). Set after sourcing to differ.
duration=${DURATION:-5s}
rounds=${ROUNDS:-3}
conns=${CONNECTIONS:-32}
threads=${THREADS:-2}
write=; [ "${1:-}" = --write ] && write=--write

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
companion_dir=.tools/node/node_modules/@uppy/companion
# companion_path is the Companion request every benchmark measures.
companion_path="/s3/params?filename=a.bin&type=application/octet-stream"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# need TOOL...: fail unless every tool is on PATH.
need() {
  for c in "$@"; do
    command -v "$c" >/dev/null || { echo "bench: $c missing; run e2e/install.sh bench" >&2; exit 1; }
  done
}
# core_bench NAME: ROUNDS runs of core's benchmark NAME (BENCHTIME each,
# default 2s, with -benchmem) from one test binary, appended to
# $work/out.txt, for the scripts that measure core in process.
core_bench() {
  [ -x "$work/core.test" ] || go test -c -o "$work/core.test" ./core
  for _ in $(seq "$rounds"); do
    (cd core && "$work/core.test" -test.run '^$' -test.bench "^$1\$" \
      -test.benchtime "${BENCHTIME:-2s}" -test.benchmem) >>"$work/out.txt"
  done
}
# .tools/bin holds the pinned Go tools (vegeta).
PATH="$root/.tools/bin:$PATH"

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitfor() { # url seconds
  for _ in $(seq 1 $(( $2 * 10 ))); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: $1 not ready after $2s" >&2; return 1
}

# valet_config FILE VPORT DATA: writes FILE, the config of a gateway on
# 127.0.0.1:VPORT with one local store, demo, its files under DATA and its
# listener on a free port. The gateways of one run share the secrets in
# $work, so one TOKEN is good for all of them.
valet_config() {
  local file=$1 vport=$2 data=$3 lport
  lport=$(freeport)
  for f in hs256 tokens local; do
    [ -f "$work/$f.secret" ] || head -c 32 /dev/urandom | base64 | tr -d '\n' >"$work/$f.secret"
  done
  mkdir -p "$data"
  cat >"$file" <<YAML
server: { listen: "127.0.0.1:$vport", public_url: "http://127.0.0.1:$vport" }
auth: { jwt: { hs256_secret_file: "$work/hs256.secret" } }
tokens: { secret_file: "$work/tokens.secret" }
stores:
  demo:
    provider: local
    config:
      root: "$data"
      listen: "127.0.0.1:$lport"
      public_url: "http://127.0.0.1:$lport"
      secret_file: "$work/local.secret"
    key_template: "users/{subject}/{uuid}/{filename}"
    limits: { max_size: 1GiB, content_types: ["application/octet-stream", "video/*", "image/*"], put_ttl: 15m, get_ttl: 5m, max_ttl: 1h }
    rules: { upload: 'size <= 1073741824', read: 'key.startsWith(key_prefix)' }
YAML
}

start_valet() {
  go build -o "$work/valet" ./cmd/valet
  vport=$(freeport); pport=$(freeport)
  valet_config "$work/valet.yaml" "$vport" "$work/data"
  "$work/valet" serve --config "$work/valet.yaml" --pprof "127.0.0.1:$pport" >"$work/valet.log" 2>&1 &
  pids+=($!)
  waitfor "http://127.0.0.1:$vport/readyz" 60 || { cat "$work/valet.log" >&2; exit 1; }
  TOKEN=$("$work/valet" token --config "$work/valet.yaml" --subject bench --ttl 1h)
  export TOKEN
}

# upload_slot: one real upload-slot request (bench/upload.lua's body), so a
# benchmark measures a working endpoint, not errors; the answer is left in
# $work/slot.json.
upload_slot() {
  local status
  status=$(curl -sS -o "$work/slot.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' --data "$(slot_body)" "http://127.0.0.1:$vport/v1/stores/demo/uploads")
  [ "$status" = 201 ] || { echo "bench: upload slot request gave $status: $(cat "$work/slot.json")" >&2; exit 1; }
}
slot_body() { sed -n "s/^wrk.body = '\(.*\)'$/\1/p" bench/upload.lua; }

start_hello() {
  go build -o "$work/hello" ./bench/hello
  hport=$(freeport)
  "$work/hello" -listen "127.0.0.1:$hport" &
  pids+=($!)
  waitfor "http://127.0.0.1:$hport/" 10
}

start_companion() {
  [ -f "$companion_dir/lib/standalone/start-server.js" ] || { echo "bench: @uppy/companion missing; run e2e/install.sh bench" >&2; exit 1; }
  cport=$(freeport)
  (cd "$companion_dir" && exec env -i PATH="$PATH" HOME="$work" NODE_ENV=production \
    COMPANION_PORT="$cport" COMPANION_DOMAIN="127.0.0.1:$cport" COMPANION_DATADIR="$work" \
    COMPANION_SECRET=bench-secret COMPANION_PREAUTH_SECRET=bench-preauth \
    COMPANION_UPLOAD_URLS="http://127.0.0.1:1/" COMPANION_CLIENT_ORIGINS=true \
    COMPANION_AWS_KEY=AKIABENCHEXAMPLE COMPANION_AWS_SECRET=bench-dummy-secret \
    COMPANION_AWS_BUCKET=bench COMPANION_AWS_REGION=us-east-1 \
    node lib/standalone/start-server.js >"$work/companion.log" 2>&1) &
  pids+=($!)
  waitfor "http://127.0.0.1:$cport$companion_path" 60 || { tail -20 "$work/companion.log" >&2; exit 1; }
}

# wrk_run NAME URL [wrk args...]: one wrk run, failing on any non-2xx or
# socket error; prints "NAME requests/s p50 p99".
wrk_run() {
  local name=$1 url=$2; shift 2
  local out
  out=$(wrk -t"${threads:-2}" -c"${conns:-32}" -d"${duration:-5s}" --timeout 10s --latency "$@" "$url")
  if grep -q 'Non-2xx or 3xx responses' <<<"$out" || grep -q 'Socket errors' <<<"$out"; then
    echo "bench: $name had failing requests:" >&2; echo "$out" >&2; exit 1
  fi
  local rps p50 p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  echo "$name $rps $p50 $p99"
}

# median_row NAME: the line of $work/results (wrk_run's, one a run) of
# NAME's median round by requests/s; all NAME: every round's requests/s.
median_row() { awk -v n="$1" '$1==n' "$work/results" | sort -k2,2g | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }
all() { awk -v n="$1" '$1==n {printf "%s%s", sep, $2; sep=", "}' "$work/results"; }

# profile NAME URL [wrk args...]: one unmeasured wrk run (6 s) while the
# gateway's CPU profiler records 5 s of it (profiling costs a little, so it
# is kept out of the figures); its top, by cumulative share, goes to
# $work/prof.txt for share. With PROFILE_DIR set, the profile and the
# binary are kept there (NAME.prof, valet) for go tool pprof.
profile() {
  local name=$1 url=$2; shift 2
  wrk -t"$threads" -c"$conns" -d6s --timeout 10s "$@" "$url" >/dev/null &
  local wpid=$!
  curl -fsS -o "$work/cpu.prof" "http://127.0.0.1:$pport/debug/pprof/profile?seconds=5"
  wait "$wpid"
  go tool pprof -top -cum -nodecount=400 "$work/valet" "$work/cpu.prof" >"$work/prof.txt" 2>/dev/null || true
  if [ -n "${PROFILE_DIR:-}" ]; then
    mkdir -p "$PROFILE_DIR" && cp "$work/cpu.prof" "$PROFILE_DIR/$name.prof" && cp "$work/valet" "$PROFILE_DIR/valet"
  fi
}
# share REGEXP: the cumulative share of the first matching function in the
# last profile.
share() {
  local v; v=$(awk -v re="$1" '$0 ~ re {print $5; exit}' "$work/prof.txt")
  echo "${v:-too small to be sampled}"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# machine: one line on where the figures come from.
machine() { echo "$(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo); $(go env GOVERSION)"; }
