# Valet's developer entry points. The README's commands are the ones CI runs:
#   make run    build, then serve examples/local.yaml (local store, demo page)
#   make test   install the test servers (e2e/install.sh), then run every test
SHELL := /usr/bin/env bash
GO ?= go
BIN := bin/valet
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
TEST_TIMEOUT ?= 45m
# Pinned tools live in .tools (git-ignored), installed by e2e/install.sh.
# make check runs without them (HOST_PATH), so emulator tests skip there.
HOST_PATH := $(PATH)
export PATH := $(CURDIR)/.tools/bin:$(PATH)

.PHONY: all build run check test bench fuzz generate fmt vet clean image

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/valet

run: build
	examples/run.sh $(BIN) examples/local.yaml

# check is the fast loop (under two minutes): formatting, vet, and the unit
# tests of every package but the end-to-end and browser suites, without the
# emulators (their tests skip; CI=true is unset on purpose).
check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	env -u CI PATH="$(HOST_PATH)" $(GO) test -short -count=1 $$($(GO) list ./... | grep -v -e '/e2e' -e '/web$$')

test:
	e2e/install.sh
	$(GO) vet ./...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

bench: build
	e2e/install.sh bench
	$(GO) test -run '^$$' -bench . -benchtime 2s -timeout $(TEST_TIMEOUT) ./...
	@# Each bench/*.sh measures its targets side by side in one run and, with
	@# --write, replaces its own section of docs/benchmarks.md.
	@for s in bench/*.sh; do [ -x "$$s" ] || continue; echo "== $$s"; "$$s" --write || exit 1; done

# Each fuzz target runs for FUZZTIME (not part of `make test`); a crash
# leaves its input under the package's testdata/fuzz for a regression test.
FUZZTIME ?= 10m
FUZZ_TARGETS := ./core:FuzzCreateUpload ./core/keys:FuzzRenderSubject ./core/hls:FuzzRewrite
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "== $$fn ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) "$$pkg" || exit 1; \
	done

generate:
	plugins/proto/generate.sh

# image builds the container image with podman, offline (docs/deploy.md):
# a static binary (CGO off) from scratch. IMAGE overrides the tag.
image:
	VERSION=$(VERSION) deploy/build-image.sh

fmt:
	gofmt -l -w $$(git ls-files '*.go')

vet:
	$(GO) vet ./...

clean:
	rm -rf bin
