#!/usr/bin/env bash
# Builds the C example into OUT_DIR/example_c.wasm (a weir:plugin/filter component).
#
#   plugin-sdk/examples/c/build.sh OUT_DIR
#
# Needs zig (PyPI `ziglang`, used as a C compiler for wasm32-wasi) and wasm-tools;
# scripts/wasm-toolchains.sh installs both. The bindings are the committed ones under
# plugin-sdk/c/filter (plugin-sdk/c/regenerate.sh remakes them from the WIT).
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
bindings=$root/plugin-sdk/c/filter
mkdir -p "$1"
out=$(cd "$1" && pwd)
name=example_c
tools=${WEIR_TOOLS_DIR:-/var/cache/weir-ci/tools}
[ -d "$tools/venv/bin" ] && PATH=$tools/venv/bin:$PATH

if ! python3 -c 'import ziglang' >/dev/null 2>&1 || ! command -v wasm-tools >/dev/null 2>&1; then
    echo "$0: zig (python3 -m ziglang) or wasm-tools not found; run scripts/wasm-toolchains.sh first" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# -mexec-model=reactor: a library with exports, no main. -s drops debug info (900 KB) but
# keeps the component-type section the bindings' object carries. The stack and the first
# memory are kept small: a plugin instance costs what its linear memory costs.
python3 -m ziglang cc --target=wasm32-wasi -mexec-model=reactor -O2 -s \
    -Wall -Wextra \
    -Wl,-z,stack-size=65536 -Wl,--initial-memory=262144 \
    -I"$bindings" \
    "$here/filter.c" "$bindings/weir_filter.c" "$bindings/weir_filter_component_type.o" \
    -o "$work/core.wasm"

# The plugin uses only malloc, string.h and snprintf from libc, none of which reaches WASI:
# the component imports nothing but weir:plugin/host. Keep it that way (no adapter needed).
if wasm-tools print "$work/core.wasm" | grep -q '(import "wasi_snapshot_preview1"'; then
    echo "$0: the core module imports WASI; the example is meant to need none" >&2
    exit 1
fi
wasm-tools component new "$work/core.wasm" -o "$work/$name.wasm"
wasm-tools validate "$work/$name.wasm"
mv "$work/$name.wasm" "$out/$name.wasm"
echo "built $out/$name.wasm"
