//! Weir's built-in plugins, with Fluent Bit's names, parameters and behaviour.
//!
//! One module per plugin under [`inputs`], [`filters`] and [`outputs`], each behind a cargo
//! feature so an edge build leaves out what it does not need. Every plugin module exposes a
//! `DESCRIPTOR` (name, parameter table, factory); [`registry`] collects those this build has.
//! Start with a small one: `outputs::null`, then `filters::grep`, then `inputs::tail`.

#![forbid(unsafe_code)]

pub mod filters;
pub mod inputs;
pub mod outputs;
#[cfg(test)]
pub(crate) mod testing;

use weir_core::Registry;

/// Every plugin compiled into this build.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    inputs::register(&mut r);
    filters::register(&mut r);
    outputs::register(&mut r);
    r
}
