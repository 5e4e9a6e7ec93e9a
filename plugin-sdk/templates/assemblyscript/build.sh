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
mkdir -p "$(dirname "$out")"
# --exportRuntime: the host allocates the inputs with the runtime's __new and __pin, as
# Fluent Bit does. --use abort=: no `env.abort` import for the host to provide.
node "$asc" "$here/assembly/index.ts" -o "$out" --optimize --runtime incremental \
    --exportRuntime --use abort=
echo "$out"
