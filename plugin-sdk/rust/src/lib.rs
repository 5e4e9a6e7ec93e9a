//! # weir-plugin-sdk: Weir plugins in Rust
//!
//! A Weir plugin is a WebAssembly component that exports one world of Weir's plugin interface
//! (`wit/weir-plugin.wit`): a **filter**, an **input** or an **output**. This crate turns a
//! plain Rust type into such a component: implement [`Plugin`] and one of [`Filter`],
//! [`Input`], [`Output`], then name the type in [`filter!`], [`input!`] or [`output!`].
//!
//! - Reading: a [`Batch`] of events; [`Batch::events`] yields each [`Event`] with its
//!   [`EventTime`], metadata and body, whose fields are [`Value`]s read in place.
//! - Writing: [`Batches`] collects the answer; each [`EventWriter`] copies events unchanged
//!   ([`EventWriter::push`]), with fields set or removed ([`EventWriter::edit`]), or writes
//!   new ones ([`EventWriter::event`]). Values are anything that is [`Encode`].
//! - The host: [`log`] (and the [`info!`]-style macros), [`config`], [`state`], [`metrics`],
//!   [`now`], and for inputs [`emit`].
//! - Tests: in native builds the host functions reach [`testing`]'s in-memory host, so a
//!   plugin's logic is tested with `cargo test`.
//!
//! ## Example: a filter
//!
//! Adds `"lang": "rust"` to every record, drops those whose `level` is `"debug"`, counts the
//! drops in a metric and keeps their total in the plugin's state.
//!
//! ```
//! use weir_plugin_sdk::{self as weir, Batch, Batches, Error, Filter, Info, Param, Plugin};
//!
//! struct LangFilter {
//!     value: String,
//!     dropped_total: u64,
//! }
//!
//! impl Plugin for LangFilter {
//!     const INFO: Info = Info::new("rust_filter")
//!         .version(env!("CARGO_PKG_VERSION"))
//!         .description("Adds lang=rust, drops debug records")
//!         .params(&[Param::string("lang").default("rust").description("Value of the lang field")]);
//!
//!     fn init() -> Result<Self, Error> {
//!         let dropped_total = weir::state::get_u64("dropped_total").unwrap_or(0);
//!         weir::info!("starting; {dropped_total} records dropped so far");
//!         Ok(LangFilter { value: weir::config::require("lang")?, dropped_total })
//!     }
//! }
//!
//! impl Filter for LangFilter {
//!     fn filter(&mut self, batch: &Batch<'_>, out: &mut Batches) -> Result<(), Error> {
//!         let mut dropped = 0;
//!         for event in batch.events() {
//!             let event = event?;
//!             if event.get_str("level") == Some("debug") {
//!                 dropped += 1;
//!                 continue;
//!             }
//!             out.writer().edit(&event).set("lang", self.value.as_str()).finish()?;
//!         }
//!         if dropped > 0 {
//!             weir::metrics::counter_add("dropped_records", dropped);
//!             self.dropped_total += dropped;
//!             weir::state::set_u64("dropped_total", self.dropped_total);
//!         }
//!         Ok(())
//!     }
//! }
//!
//! weir_plugin_sdk::filter!(LangFilter);
//! # // The same plugin, run against the in-memory host:
//! # use weir_plugin_sdk::{testing, EventTime, EventWriter};
//! # let mut input = EventWriter::new();
//! # input.event(EventTime::new(1, 0)).field("level", "debug").finish();
//! # input.event(EventTime::new(2, 0)).field("level", "info").finish();
//! # let out = testing::run_filter::<LangFilter>("app", &input).unwrap();
//! # let events = testing::events(&out[0].1);
//! # assert_eq!(events.len(), 1);
//! # assert_eq!(events[0].get_str("lang"), Some("rust"));
//! # assert_eq!(testing::counter("dropped_records"), 1);
//! ```
//!
//! `Cargo.toml` of the plugin (`weir plugin new --lang rust NAME` writes it):
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib", "rlib"]
//!
//! [dependencies]
//! weir-plugin-sdk = { path = "/usr/share/weir/plugin-sdk/rust", features = ["filter"] }
//!
//! [profile.release]
//! opt-level = "s"
//! lto = true
//! codegen-units = 1
//! panic = "abort"
//! strip = true
//! ```
//!
//! The feature names the plugin's kind (exactly one of `filter`, `input`, `output`): the
//! component exports that world only. Build with `scripts/build-rust-guest.sh DIR` (add
//! `--wasi` for a plugin that uses `std::fs` or the standard streams).
//!
//! ## Limits
//!
//! Reading never panics: malformed MessagePack is a [`DecodeError`] (the iteration over a
//! batch stops at the first bad event), and nothing recurses on input except JSON rendering,
//! which stops at [`msgpack::MAX_DEPTH`]. A panic in plugin code aborts the call (a trap),
//! which the host treats as an error of the instance.

// The generated WebAssembly bindings need `unsafe` (they are allowed it in `glue`); everything
// written by hand here is safe.
#![cfg_attr(not(target_arch = "wasm32"), forbid(unsafe_code))]
#![cfg_attr(target_arch = "wasm32", deny(unsafe_code))]
#![warn(missing_debug_implementations)]

pub mod config;
mod error;
mod event;
mod host;
mod index;
mod info;
pub mod json;
pub mod msgpack;
mod plugin;
mod value;
mod writer;

#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod glue;

#[cfg(target_arch = "wasm32")]
pub(crate) use glue::backend as host_backend;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use testing::backend as host_backend;

pub use error::{Error, FlushError};
pub use event::{Batch, Event, EventTime, Events, Format, EVENT_TIME_EXT};
#[cfg(any(feature = "input", not(target_arch = "wasm32")))]
pub use host::emit;
pub use host::{log, metrics, now, now_ns, state};
pub use info::{Info, Param, ParamType};
pub use msgpack::DecodeError;
pub use plugin::{Filter, Input, Output, Plugin};
pub use value::{to_msgpack, Array, ArrayIter, Bin, Encode, Map, MapBuilder, MapIter, Value};
pub use writer::{Batches, EventEdit, EventWriter, NewEvent};

/// Everything a plugin usually needs, for `use weir_plugin_sdk::prelude::*`.
pub mod prelude {
    pub use crate::{
        config, log, metrics, state, Batch, Batches, Error, Event, EventTime, EventWriter, Filter,
        FlushError, Info, Input, MapBuilder, Output, Param, Plugin, Value,
    };
}

#[doc(hidden)]
#[cfg(target_arch = "wasm32")]
pub use glue as __glue;
#[doc(hidden)]
#[cfg(target_arch = "wasm32")]
pub use glue::bindings as __bindings;

/// What the export macros share: the instance's slot, and the `plugin` interface
/// (`describe`, `init`) of a plugin of kind `$kind`, on a type `__WeirExport` that the world's
/// own export is then implemented on.
#[doc(hidden)]
#[cfg(target_arch = "wasm32")]
#[macro_export]
macro_rules! __weir_plugin {
    ($plugin:ty, $kind:ident) => {
        ::std::thread_local! {
            static __WEIR_INSTANCE: $crate::__glue::Slot<$plugin> = const { $crate::__glue::Slot::new() };
        }
        struct __WeirExport;
        impl $crate::__bindings::exports::weir::plugin::plugin::Guest for __WeirExport {
            fn describe() -> $crate::__bindings::weir::plugin::types::PluginInfo {
                $crate::__glue::describe::<$plugin>($crate::__glue::Kind::$kind)
            }
            fn init() -> ::core::result::Result<(), ::std::string::String> {
                $crate::__glue::init(&__WEIR_INSTANCE)
            }
        }
    };
}

/// In native builds the export macros only check that the type implements the kind's trait.
#[doc(hidden)]
#[macro_export]
macro_rules! __weir_check {
    ($plugin:ty, $kind:ident) => {
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = || {
            fn is_plugin_of_kind<T: $crate::$kind>() {}
            is_plugin_of_kind::<$plugin>();
        };
    };
}

/// Exports a [`Filter`] as the component's `filter` world: `weir_plugin_sdk::filter!(MyFilter);`
///
/// Needs the SDK's `filter` feature in WebAssembly builds. In native builds it only checks
/// that the type is a filter.
#[cfg(any(feature = "filter", not(target_arch = "wasm32")))]
#[macro_export]
macro_rules! filter {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            $crate::__weir_plugin!($plugin, Filter);
            impl $crate::__bindings::Guest for __WeirExport {
                fn filter(
                    events: $crate::__bindings::weir::plugin::types::Batch,
                ) -> ::core::result::Result<
                    ::std::vec::Vec<$crate::__bindings::weir::plugin::types::Batch>,
                    ::std::string::String,
                > {
                    $crate::__glue::filter(&__WEIR_INSTANCE, events)
                }
            }
    $crate::__bindings::__weir_export_world!(__WeirExport with_types_in $crate::__bindings);
        };
        $crate::__weir_check!($plugin, Filter);
    };
}

/// Exports a [`Filter`]: this build lacks the SDK's `filter` feature.
#[cfg(all(target_arch = "wasm32", not(feature = "filter")))]
#[macro_export]
macro_rules! filter {
    ($plugin:ty) => {
        ::core::compile_error!(
            "weir_plugin_sdk::filter! needs the SDK's `filter` feature: weir-plugin-sdk = { ..., features = [\"filter\"] }"
        );
    };
}

/// Exports an [`Input`] as the component's `input` world: `weir_plugin_sdk::input!(MyInput);`
///
/// Needs the SDK's `input` feature in WebAssembly builds.
#[cfg(any(feature = "input", not(target_arch = "wasm32")))]
#[macro_export]
macro_rules! input {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            $crate::__weir_plugin!($plugin, Input);
            impl $crate::__bindings::Guest for __WeirExport {
                fn collect() -> ::core::result::Result<
                    ::std::vec::Vec<$crate::__bindings::weir::plugin::types::Batch>,
                    ::std::string::String,
                > {
                    $crate::__glue::collect(&__WEIR_INSTANCE)
                }
            }
    $crate::__bindings::__weir_export_world!(__WeirExport with_types_in $crate::__bindings);
        };
        $crate::__weir_check!($plugin, Input);
    };
}

/// Exports an [`Input`]: this build lacks the SDK's `input` feature.
#[cfg(all(target_arch = "wasm32", not(feature = "input")))]
#[macro_export]
macro_rules! input {
    ($plugin:ty) => {
        ::core::compile_error!(
            "weir_plugin_sdk::input! needs the SDK's `input` feature: weir-plugin-sdk = { ..., features = [\"input\"] }"
        );
    };
}

/// Exports an [`Output`] as the component's `output` world: `weir_plugin_sdk::output!(MyOutput);`
///
/// Needs the SDK's `output` feature in WebAssembly builds.
#[cfg(any(feature = "output", not(target_arch = "wasm32")))]
#[macro_export]
macro_rules! output {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            $crate::__weir_plugin!($plugin, Output);
            impl $crate::__bindings::Guest for __WeirExport {
                fn flush(
                    events: $crate::__bindings::weir::plugin::types::Batch,
                ) -> $crate::__bindings::weir::plugin::types::FlushResult {
                    $crate::__glue::flush(&__WEIR_INSTANCE, events)
                }
            }
    $crate::__bindings::__weir_export_world!(__WeirExport with_types_in $crate::__bindings);
        };
        $crate::__weir_check!($plugin, Output);
    };
}

/// Exports an [`Output`]: this build lacks the SDK's `output` feature.
#[cfg(all(target_arch = "wasm32", not(feature = "output")))]
#[macro_export]
macro_rules! output {
    ($plugin:ty) => {
        ::core::compile_error!(
            "weir_plugin_sdk::output! needs the SDK's `output` feature: weir-plugin-sdk = { ..., features = [\"output\"] }"
        );
    };
}
