#!/usr/bin/env bash
# Builds Valet's container image from deploy/Containerfile with podman,
# offline: the static binary is compiled here (CGO off) and copied, with the
# host's CA bundle and the files in deploy/image/, into one tar layer.
#   deploy/build-image.sh                 tag localhost/valet:$VERSION
#   IMAGE=registry.example/valet:1.2 deploy/build-image.sh
# Environment: VERSION (default: git describe, as the Makefile), IMAGE, GO,
# PODMAN (the podman command with any global flags, e.g. "podman --root DIR"),
# CA_BUNDLE (default /etc/ssl/certs/ca-certificates.crt).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
IMAGE=${IMAGE:-localhost/valet:$VERSION}
GO=${GO:-go}
PODMAN=${PODMAN:-podman}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# The commit's time, not the clock's: the same commit gives the same labels.
CREATED=$(git log -1 --format=%cI 2>/dev/null | sed 's/+00:00$/Z/' || true)
CREATED=${CREATED:-1970-01-01T00:00:00Z}

[ -r "$CA_BUNDLE" ] || { echo "build-image: no CA bundle at $CA_BUNDLE (apt-get install ca-certificates)" >&2; exit 1; }
ctx=$(mktemp -d "${TMPDIR:-/tmp}/valet-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
tree=$ctx/tree
mkdir -p "$tree/etc/ssl/certs" "$tree/etc/valet" "$tree/tmp" "$tree/var/lib/valet"
CGO_ENABLED=0 "$GO" build -trimpath -ldflags "-X main.version=$VERSION" -o "$tree/valet" ./cmd/valet
cp deploy/image/passwd deploy/image/group "$tree/etc/"
cp deploy/image/valet.yaml "$tree/etc/valet/valet.yaml"
cp "$CA_BUNDLE" "$tree/etc/ssl/certs/ca-certificates.crt"
chmod 0755 "$tree/valet"
chmod 0644 "$tree/etc/passwd" "$tree/etc/group" "$tree/etc/valet/valet.yaml" "$tree/etc/ssl/certs/ca-certificates.crt"
chmod 1777 "$tree/tmp"
chmod 0750 "$tree/var/lib/valet"
# One layer with exact owners: root's everything but the data directory.
tarc() { tar --numeric-owner --sort=name --mtime="$CREATED" -C "$tree" "$@"; }
tarc -cf "$ctx/rootfs.tar" --owner=0 --group=0 etc tmp valet
tarc -rf "$ctx/rootfs.tar" --owner=0 --group=0 --no-recursion var var/lib
tarc -rf "$ctx/rootfs.tar" --owner=65532 --group=65532 var/lib/valet
rm -rf "$tree"
# shellcheck disable=SC2086 # PODMAN may carry global flags
$PODMAN build --pull=never --file deploy/Containerfile --tag "$IMAGE" \
  --build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION" --build-arg "CREATED=$CREATED" \
  "$ctx" >&2
echo "$IMAGE"
