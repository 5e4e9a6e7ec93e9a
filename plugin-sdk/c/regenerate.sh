#!/usr/bin/env bash
# Regenerates the C bindings of Weir's plugin worlds from wit/weir-plugin.wit, one directory
# per world: filter/, input/, output/ (weir_<world>.h, weir_<world>.c and
# weir_<world>_component_type.o, which carries the world into the component).
#
#   plugin-sdk/c/regenerate.sh
#
# Run it after changing the WIT. It needs wit-bindgen-cli 0.63
# (`cargo install --locked wit-bindgen-cli@0.63.0`); builds do not: the generated files are
# committed, so C and Zig plugins build with zig alone.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
want=0.63.0

if ! command -v wit-bindgen >/dev/null 2>&1; then
    echo "$0: wit-bindgen not found: cargo install --locked wit-bindgen-cli@$want" >&2
    exit 1
fi
have=$(wit-bindgen --version | awk '{print $2}')
if [ "$have" != "$want" ]; then
    echo "$0: wit-bindgen $have found, the bindings are made with $want" >&2
    exit 1
fi

for world in filter input output; do
    rm -rf "${here:?}/$world"
    wit-bindgen c "$root/wit" \
        --world "weir:plugin/$world@0.1.0" \
        --rename-world "weir_$world" \
        --out-dir "$here/$world"
done
