#!/usr/bin/env bash
# Builds the JavaScript example into OUT_DIR/example_javascript.wasm (a weir:plugin/filter
# component).
#
#   plugin-sdk/examples/javascript/build.sh OUT_DIR
#
# Needs Node.js, @bytecodealliance/componentize-js 0.23 under $WEIR_TOOLS_DIR/node_modules
# and wasm-tools (scripts/wasm-toolchains.sh installs them).
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
name=example_javascript
tools=${WEIR_TOOLS_DIR:-/var/cache/weir-ci/tools}
[ -d "$tools/venv/bin" ] && PATH=$tools/venv/bin:$PATH

if [ ! -f "$tools/node_modules/@bytecodealliance/componentize-js/package.json" ]; then
    echo "$0: componentize-js not found under $tools/node_modules; run scripts/wasm-toolchains.sh first" >&2
    exit 1
fi
for tool in node wasm-tools; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$0: $tool not found; run scripts/wasm-toolchains.sh first" >&2
        exit 1
    fi
done

# Node resolves ES module imports from the importing file's directory upwards: build in a
# scratch directory that links the tools' node_modules.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/app.js" "$here/build.mjs" "$work/"
ln -s "$tools/node_modules" "$work/node_modules"
(cd "$work" && node build.mjs app.js "$root/wit" "$work/$name.wasm")
wasm-tools validate "$work/$name.wasm"
mv "$work/$name.wasm" "$out/$name.wasm"
echo "built $out/$name.wasm"
