#!/usr/bin/env bash
# Builds the Python example into OUT_DIR/example_python.wasm (a weir:plugin/filter component).
#
#   plugin-sdk/examples/python/build.sh OUT_DIR
#
# Needs componentize-py 0.25 and wasm-tools (scripts/wasm-toolchains.sh installs both).
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
name=example_python
tools=${WEIR_TOOLS_DIR:-/var/cache/weir-ci/tools}
[ -d "$tools/venv/bin" ] && PATH=$tools/venv/bin:$PATH

for tool in componentize-py wasm-tools; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$0: $tool not found; run scripts/wasm-toolchains.sh first" >&2
        exit 1
    fi
done

# Work on a copy so that no __pycache__ lands in the source tree.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/app.py" "$work/"
cd "$work"
componentize-py -d "$root/wit" -w weir:plugin/filter@0.1.0 componentize app -o "$work/$name.wasm"
wasm-tools validate "$work/$name.wasm"
mv "$work/$name.wasm" "$out/$name.wasm"
echo "built $out/$name.wasm"
