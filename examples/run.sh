#!/usr/bin/env bash
# Starts a development gateway for `make run`:
#   1. generates the dev secrets into .dev/ (git-ignored) on first run,
#   2. checks the config, starts `valet serve`, waits until it is ready,
#   3. prints a dev token, the demo page URL and a working curl example.
# Ctrl-C stops the gateway gracefully (SIGTERM: requests finish, plugins stop).
set -euo pipefail
bin=${1:-bin/valet}
cfg=${2:-examples/local.yaml}
cd "$(dirname "$0")/.."

mkdir -p .dev/data
chmod 700 .dev
for name in hs256 tokens local; do
  f=.dev/$name.secret
  if [ ! -s "$f" ]; then
    (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '\n' >"$f")
    echo "run: generated $f"
  fi
done
# The secret for the commented-out hooks block of examples/local.yaml.
if [ ! -s .dev/hook.secret ]; then
  (umask 077 && printf 'whsec_%s\n' "$(head -c 32 /dev/urandom | base64 | tr -d '\n')" >.dev/hook.secret)
  echo "run: generated .dev/hook.secret"
fi

# Fail before starting, with the offending key named.
"$bin" config check --config "$cfg" >/dev/null

gateway=${VALET_URL:-http://127.0.0.1:8080}
"$bin" serve --config "$cfg" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true; wait "$pid" || true; exit 0' INT TERM

for _ in $(seq 1 150); do
  if curl -fsS -o /dev/null "$gateway/readyz" 2>/dev/null; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; exit 1; fi
  sleep 0.2
done
curl -fsS -o /dev/null "$gateway/readyz" || { echo "run: gateway not ready at $gateway/readyz" >&2; kill -TERM "$pid"; wait "$pid" || true; exit 1; }

token=$("$bin" token --config "$cfg" --subject dev --ttl 12h)
cat <<MSG

Valet is running at $gateway (store "demo", local provider on disk in .dev/data).

Dev token (subject "dev", valid 12h):
  export TOKEN=$token

Demo page (the token travels in the URL fragment, which browsers never send):
  $gateway/#token=$token

Try it (see README.md for the full walkthrough):
  curl -sS -H "Authorization: Bearer \$TOKEN" $gateway/v1/stores | head -c 600; echo
  curl -sS -X POST -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
    -d '{"filename":"hello.txt","content_type":"text/plain","size":6}' \\
    $gateway/v1/stores/demo/uploads

Press Ctrl-C to stop.
MSG
wait "$pid"
