#!/usr/bin/env bash
# Builds {{name}}.wasm, a module for Weir's (and Fluent Bit's) `wasm` filter, from
# assembly/index.ts.
#
#   npm install      # once: the AssemblyScript compiler, pinned in package.json
#   ./build.sh [OUT_FILE]
#
# The compiler is taken from ./node_modules, else from $WEIR_TOOLS_DIR/node_modules (where
# Weir's scripts/wasm-toolchains.sh installs it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/{{name}}.wasm}
tools=${WEIR_TOOLS_DIR:-/var/cache/weir-ci/tools}
asc=$here/node_modules/assemblyscript/bin/asc.js
[ -f "$asc" ] || asc=$tools/node_modules/assemblyscript/bin/asc.js
if [ ! -f "$asc" ]; then
    echo "$0: the AssemblyScript compiler was not found: run npm install" >&2
    exit 1
fi
command -v node >/dev/null 2>&1 || { echo "$0: node not found" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
# --exportRuntime exports __new/__pin/__unpin: the host allocates the record's copy with them,
# as Fluent Bit does. --use abort= leaves the module without imports: a failed assertion
# traps instead of calling the host.
node "$asc" "$here/assembly/index.ts" --outFile "$out" --optimize --runtime incremental \
    --exportRuntime --use abort= --noAssert
echo "$out"
