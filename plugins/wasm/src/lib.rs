//! Weir's WebAssembly plugin host.
//!
//! - [`engine`]: the one wasmtime engine, time limits by epoch, memory limits, and the cache
//!   of compiled plugins. Everything else builds on it.
//! - [`component`]: component plugins (`wit/weir-plugin.wit`): inputs, filters and outputs
//!   that are first-class plugins, named by what they say of themselves.

pub mod component;
pub mod engine;
