#!/usr/bin/env bash
# Builds the Zig example into OUT_DIR/example_zig.wasm (a weir:plugin/filter component).
#
#   plugin-sdk/examples/zig/build.sh OUT_DIR
#
# Needs zig 0.17 (PyPI `ziglang`) and wasm-tools; scripts/wasm-toolchains.sh installs both.
# The Zig code imports the committed C bindings under plugin-sdk/c/filter and is linked with
# their generated C, which does the component model's canonical ABI.
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
name=example_zig
tools=${WEIR_TOOLS_DIR:-/var/cache/weir-ci/tools}
[ -d "$tools/venv/bin" ] && PATH=$tools/venv/bin:$PATH

if ! python3 -c 'import ziglang' >/dev/null 2>&1 || ! command -v wasm-tools >/dev/null 2>&1; then
    echo "$0: zig (python3 -m ziglang) or wasm-tools not found; run scripts/wasm-toolchains.sh first" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The header of the bindings, as Zig declarations for filter.zig's `@import("weir_filter")`.
python3 -m ziglang translate-c -I"$bindings" "$bindings/weir_filter.h" \
    -target wasm32-wasi -lc >"$work/weir_filter.zig"

# A reactor (exports, no main) linked with libc for malloc/free, which the bindings use.
# The stack and first memory are kept small: a plugin instance costs its linear memory.
# Options before -Mroot apply to the root module; the bindings module follows it.
(cd "$work" && python3 -m ziglang build-exe \
    -target wasm32-wasi -mexec-model=reactor -fno-entry \
    -O ReleaseSmall -fstrip --stack 65536 -lc \
    -I"$bindings" "$bindings/weir_filter.c" "$bindings/weir_filter_component_type.o" \
    --dep weir_filter -Mroot="$here/filter.zig" \
    -Mweir_filter="$work/weir_filter.zig" \
    -femit-bin="$work/core.wasm")

# Nothing here reaches WASI (no files, clock or stdio): the component imports only
# weir:plugin/host and needs no adapter. Keep it that way.
if wasm-tools print "$work/core.wasm" | grep -q '(import "wasi_snapshot_preview1"'; then
    echo "$0: the core module imports WASI; the example is meant to need none" >&2
    exit 1
fi
wasm-tools component new "$work/core.wasm" -o "$work/$name.wasm"
wasm-tools validate "$work/$name.wasm"
mv "$work/$name.wasm" "$out/$name.wasm"
echo "built $out/$name.wasm"
