#!/usr/bin/env bash
# Builds the component plugins the weir-wasm tests load, into target/wasm-guests/weir-wasm/.
#
#   plugins/wasm/tests/guests/build.sh
#
# Needs the guest toolchain of scripts/build-rust-guest.sh (Debian's rustc-web with std
# sources, wasi-libc, wasm-tools). The guests share one target directory, so the standard
# library is compiled once per target. On a shared machine, run it under the cargo lock:
#   flock /tmp/weir-cargo.lock nice plugins/wasm/tests/guests/build.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../../.." && pwd)
build=$repo/scripts/build-rust-guest.sh
target=${CARGO_TARGET_DIR:-$repo/target}/wasm-guests
out=$target/weir-wasm
shared=$target/weir-wasm-build
mkdir -p "$out"

guest() { # out-name [--wasi] crate
    local name=$1; shift
    "$build" --target-dir "$shared" --out "$out/$name.wasm" "$@" | tail -1
}

guest filter "$here/filter"
GUEST_VARIANT=v2 guest filter-v2 "$here/filter"
GUEST_VARIANT=broken-init guest filter-broken-init "$here/filter"
GUEST_VARIANT=renamed guest filter-renamed "$here/filter"
GUEST_VARIANT=loop-init guest filter-loop-init "$here/filter"
GUEST_VARIANT=msgpack guest filter-msgpack "$here/filter"
guest input "$here/input"
guest output "$here/output"
guest wasi-probe --wasi "$here/wasi-probe"
guest http-output "$here/http-output"
