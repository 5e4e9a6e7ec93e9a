//! Weir's WebAssembly plugin host.
//!
//! - [`engine`]: the one wasmtime engine, time limits by epoch, memory limits, and the cache
//!   of compiled plugins. Everything else builds on it.
//! - [`component`]: component plugins (`wit/weir-plugin.wit`): inputs, filters and outputs
//!   that are first-class plugins, named by what they say of themselves.
//! - [`fbabi`]: Fluent Bit's `wasm` filter and `exec_wasi` input, with Fluent Bit's ABI.

pub mod component;
pub mod engine;
pub mod fbabi;

/// Adds the plugins this crate provides by name, beside the native ones: Fluent Bit's `wasm`
/// filter and `exec_wasi` input. Weir's binary calls it on the registry it builds.
pub fn register_builtin(registry: &mut weir_core::Registry) {
    fbabi::register(registry);
}
