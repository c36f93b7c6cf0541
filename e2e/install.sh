#!/usr/bin/env bash
# Installs the pinned test servers and browser tooling into .tools/ (git-ignored).
# Safe to run repeatedly: every step is skipped when its output is already there.
#   e2e/install.sh            everything the tests need
#   e2e/install.sh bench      also the benchmark tools (wrk, hyperfine, vegeta, @uppy/companion)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
mkdir -p "$tools/bin" "$tools/node"

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
VERSITYGW_VERSION=v1.8.0
FAKEGCS_VERSION=v1.56.1
AZURITE_VERSION=3.37.0
PLAYWRIGHT_VERSION=1.64.1
GCS_NODE_VERSION=7.22.0
AZBLOB_NODE_VERSION=12.32.0
COMPANION_VERSION=6.2.2
HELM_VERSION=v3.22.0
JAEGER_VERSION=v1.76.0
VEGETA_VERSION=v12.13.0
UPPY_CORE_VERSION=6.3.1
UPPY_AWS_S3_VERSION=6.3.1
UPPY_DASHBOARD_VERSION=6.0.3
HLSJS_VERSION=1.7.4
STANDARDWEBHOOKS_VERSION=1.1.1
TYPESCRIPT_VERSION=6.0.3

log() { printf 'install: %s\n' "$*" >&2; }

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v podman >/dev/null 2>&1 || need_apt+=(podman)
if [ "${1:-}" = bench ]; then
  command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
  command -v hyperfine >/dev/null 2>&1 || need_apt+=(hyperfine)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

goinstall() { # name module@version
  local name=$1 mod=$2 stamp="$tools/bin/.$1.version"
  if [ -x "$tools/bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$mod" ]; then return; fi
  log "go install $mod"
  GOBIN="$tools/bin" GOFLAGS=-mod=mod go install "$mod"
  echo "$mod" >"$stamp"
}
goinstall versitygw "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" &
goinstall fake-gcs-server "github.com/fsouza/fake-gcs-server@$FAKEGCS_VERSION" &
goinstall minio "github.com/minio/minio@$MINIO_VERSION" &
goinstall helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" &
# Jaeger's module has replace directives, so `go install mod@version` refuses
# it; a throwaway tool module (go get -tool) builds it instead.
gotool() { # name module@version package
  local name=$1 mod=$2 pkg=$3 stamp="$tools/bin/.$1.version" dir="$tools/mod/$1"
  if [ -x "$tools/bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$mod" ]; then return; fi
  log "go build $mod (tool module)"
  rm -rf "$dir" && mkdir -p "$dir"
  printf 'module valet.tools/%s\n\ngo 1.26\n' "$name" >"$dir/go.mod"
  (cd "$dir" && go get -tool "$mod" >/dev/null 2>&1 && go build -o "$tools/bin/$name" "$pkg")
  echo "$mod" >"$stamp"
}
gotool jaeger "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION" github.com/jaegertracing/jaeger/cmd/jaeger &
if [ "${1:-}" = bench ]; then goinstall vegeta "github.com/tsenart/vegeta/v12@$VEGETA_VERSION" & fi

pkgs="azurite@$AZURITE_VERSION playwright-core@$PLAYWRIGHT_VERSION @google-cloud/storage@$GCS_NODE_VERSION @azure/storage-blob@$AZBLOB_NODE_VERSION"
pkgs="$pkgs @uppy/core@$UPPY_CORE_VERSION @uppy/aws-s3@$UPPY_AWS_S3_VERSION @uppy/dashboard@$UPPY_DASHBOARD_VERSION"
pkgs="$pkgs hls.js@$HLSJS_VERSION standardwebhooks@$STANDARDWEBHOOKS_VERSION typescript@$TYPESCRIPT_VERSION"
[ "${1:-}" = bench ] && pkgs="$pkgs @uppy/companion@$COMPANION_VERSION"
missing=()
for p in $pkgs; do
  name=${p%@*} want=${p##*@}
  have=$(node -p "require('$tools/node/node_modules/$name/package.json').version" 2>/dev/null || true)
  [ "$have" = "$want" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "npm install ${missing[*]}"
  [ -f "$tools/node/package.json" ] || echo '{"private":true}' >"$tools/node/package.json"
  (cd "$tools/node" && npm install --no-audit --no-fund --loglevel=error "${missing[@]}" >/dev/null)
fi

fail=0
for j in $(jobs -p); do wait "$j" || fail=1; done
[ $fail = 0 ] || { log "a go install failed"; exit 1; }
log "ok: tools in $tools"
