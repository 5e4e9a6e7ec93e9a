#!/usr/bin/env bash
# Builds the AssemblyScript example into OUT_DIR/example_assemblyscript.wasm, a core module
# for the `wasm` filter (Fluent Bit's ABI).
#
#   plugin-sdk/examples/assemblyscript/build.sh OUT_DIR
#
# Needs node and AssemblyScript 0.28: taken from WEIR_TOOLS_DIR (scripts/wasm-toolchains.sh
# installs it there), else installed with npm into ~/.cache/weir/assemblyscript-0.28.20.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
name=example_assemblyscript
version=0.28.20
tools=${WEIR_TOOLS_DIR:-/var/cache/weir-ci/tools}

if ! command -v node >/dev/null 2>&1; then
    echo "$0: node not found; run scripts/wasm-toolchains.sh first" >&2
    exit 1
fi
installed() {
    [ -f "$1/node_modules/assemblyscript/package.json" ] &&
        [ "$(node -p 'require(process.argv[1]).version' "$1/node_modules/assemblyscript/package.json")" = "$version" ]
}
prefix=$tools
if ! installed "$prefix"; then
    prefix=${XDG_CACHE_HOME:-$HOME/.cache}/weir/assemblyscript-$version
    if ! installed "$prefix"; then
        mkdir -p "$prefix"
        npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "assemblyscript@$version" >&2
    fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# --exportRuntime exports __new/__pin/__unpin: the host allocates the record's copy with them,
# as Fluent Bit (WAMR) does. --use abort= leaves the module without imports: a failed
# assertion traps instead of calling the host.
node "$prefix/node_modules/assemblyscript/bin/asc.js" "$here/assembly/index.ts" \
    --outFile "$work/$name.wasm" --optimize --runtime incremental --exportRuntime \
    --use abort= --noAssert
mv "$work/$name.wasm" "$out/$name.wasm"
echo "built $out/$name.wasm"
