#!/usr/bin/env bash
# Runs every check and test of the workspace, installing what the tests need first.
#
#   scripts/test.sh            formatting, lints, then all tests
#   WEIR_SKIP_LINT=1 scripts/test.sh   tests only
#
# Works on a fresh Debian machine with a Rust toolchain (rustup) installed.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# Real peers the end-to-end tests start on loopback ports.
command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
    else
        echo "scripts/test.sh: please install: ${need_apt[*]}" >&2
        exit 1
    fi
fi

# Toolchains for the WebAssembly guests the tests build (Rust, C, Zig, Python, JavaScript,
# AssemblyScript, Go), under WEIR_TOOLS_DIR, outside the clone.
eval "$(scripts/wasm-toolchains.sh)"
# The component plugins the WebAssembly host's tests load (rebuilt only when changed).
plugins/wasm/tests/guests/build.sh >/dev/null

# The Rust plugin SDK and its examples are not workspace members (plugins build them for
# wasm32); their readers, writers and plugins also build natively, where their tests run.
# They keep no lock file (the SDK is a library, the examples are copied as templates).
sdk_crates=(plugin-sdk/rust plugin-sdk/examples/rust-filter plugin-sdk/examples/rust-input
    plugin-sdk/examples/rust-output)
sdk_target=${CARGO_TARGET_DIR:-target}/sdk-tests

if [ -z "${WEIR_SKIP_LINT:-}" ]; then
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    for crate in "${sdk_crates[@]}"; do
        cargo fmt --manifest-path "$crate/Cargo.toml" -- --check
        cargo clippy --manifest-path "$crate/Cargo.toml" --target-dir "$sdk_target" \
            --all-targets -- -D warnings
    done
fi
cargo test --workspace --locked
for crate in "${sdk_crates[@]}"; do
    cargo test --manifest-path "$crate/Cargo.toml" --target-dir "$sdk_target"
done
