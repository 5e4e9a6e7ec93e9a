//! Rust bindings of the three worlds of `wit/weir-plugin.wit`, one module per world.
//!
//! The filter world's bindings own the shared interfaces (`types`, `host`); the input and
//! output worlds reuse them, so one `Host` implementation serves every plugin and a
//! `PluginInfo` is the same type whatever the world.

pub mod filter {
    wasmtime::component::bindgen!({
        world: "filter",
        path: "../../wit",
    });
}

pub mod input {
    wasmtime::component::bindgen!({
        world: "input",
        path: "../../wit",
        with: {
            "weir:plugin/types": super::filter::weir::plugin::types,
            "weir:plugin/host": super::filter::weir::plugin::host,
        },
    });
}

pub mod output {
    wasmtime::component::bindgen!({
        world: "output",
        path: "../../wit",
        with: {
            "weir:plugin/types": super::filter::weir::plugin::types,
            "weir:plugin/host": super::filter::weir::plugin::host,
        },
    });
}

pub use filter::weir::plugin::host;
pub use filter::weir::plugin::types;
pub use input::weir::plugin::emitter;
