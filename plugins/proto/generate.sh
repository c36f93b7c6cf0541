#!/usr/bin/env bash
# Regenerates plugins/proto/v1 from valet.proto with a pinned toolchain:
# protoc from apt (protobuf-compiler) and protoc-gen-go / protoc-gen-go-grpc
# at fixed versions, installed into .tools/bin. Run from anywhere; `make
# generate` calls it.
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.5.1

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="$root/.tools/bin"
mkdir -p "$bin"

if ! command -v protoc >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then
		apt-get install -y protobuf-compiler >/dev/null 2>&1 ||
			{ apt-get update >/dev/null && apt-get install -y protobuf-compiler >/dev/null; }
	else
		echo "generate.sh: protoc not found; install the protobuf-compiler package" >&2
		exit 1
	fi
fi

# Reinstall a generator only when its recorded version differs.
install_gen() { # name module version
	local stamp="$bin/.$1.version"
	if [ -x "$bin/$1" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$3" ]; then
		return
	fi
	GOBIN="$bin" go install "$2@$3"
	echo "$3" >"$stamp"
}
install_gen protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION"
install_gen protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"

cd "$root/plugins/proto"
PATH="$bin:$PATH" protoc \
	--proto_path=. \
	--go_out=. --go_opt=paths=source_relative \
	--go-grpc_out=. --go-grpc_opt=paths=source_relative \
	v1/valet.proto
echo "generated plugins/proto/v1 with $(protoc --version), protoc-gen-go $PROTOC_GEN_GO_VERSION, protoc-gen-go-grpc $PROTOC_GEN_GO_GRPC_VERSION"
