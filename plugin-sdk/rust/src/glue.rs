//! The WebAssembly side: bindings generated from `wit/weir-plugin.wit` for the world the
//! crate's feature selects, the host functions over them, and what the export macros
//! ([`crate::filter!`], [`crate::input!`], [`crate::output!`]) call.
//!
//! One world per build: wit-bindgen embeds each generated world in the component, and a
//! component built with two would have to export both.

#[cfg(any(
    all(feature = "filter", feature = "input"),
    all(feature = "filter", feature = "output"),
    all(feature = "input", feature = "output"),
))]
compile_error!("weir-plugin-sdk: enable only one of the features `filter`, `input`, `output`");

#[cfg(not(any(feature = "filter", feature = "input", feature = "output")))]
compile_error!(
    "weir-plugin-sdk: enable the feature of the plugin's kind: features = [\"filter\"], [\"input\"] or [\"output\"]"
);

#[cfg(feature = "filter")]
#[allow(unsafe_code)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "filter",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__weir_export_world",
        default_bindings_module: "weir_plugin_sdk::__bindings",
    });
}

#[cfg(feature = "input")]
#[allow(unsafe_code)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "input",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__weir_export_world",
        default_bindings_module: "weir_plugin_sdk::__bindings",
    });
}

#[cfg(feature = "output")]
#[allow(unsafe_code)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "output",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__weir_export_world",
        default_bindings_module: "weir_plugin_sdk::__bindings",
    });
}

#[cfg(any(feature = "filter", feature = "input"))]
use crate::Batches;
use crate::{Format, ParamType, Plugin};
use bindings::weir::plugin::types as wit;
use std::cell::RefCell;
use std::thread::LocalKey;

/// The plugin instance, made by `init` (WebAssembly is single-threaded: a thread-local is
/// the instance's one global).
#[allow(missing_debug_implementations)]
pub struct Slot<P>(RefCell<Option<P>>);

impl<P> Slot<P> {
    pub const fn new() -> Self {
        Self(RefCell::new(None))
    }
}

impl<P> Default for Slot<P> {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs `f` on the instance; an error if `init` has not succeeded.
fn with_instance<P, R>(
    slot: &'static LocalKey<Slot<P>>,
    f: impl FnOnce(&mut P) -> R,
) -> Result<R, String> {
    slot.with(|s| match s.0.try_borrow_mut() {
        Ok(mut guard) => match guard.as_mut() {
            Some(p) => Ok(f(p)),
            None => Err("the plugin was not initialized (init failed or was not called)".into()),
        },
        // The host never calls into the plugin while it runs; kept panic-free regardless.
        Err(_) => Err("the plugin was called while already running".into()),
    })
}

/// The kind the export macro declares.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Filter,
    Input,
    Output,
}

pub fn describe<P: Plugin>(kind: Kind) -> wit::PluginInfo {
    let info = P::INFO;
    wit::PluginInfo {
        name: info.name.into(),
        kind: match kind {
            Kind::Filter => wit::PluginKind::Filter,
            Kind::Input => wit::PluginKind::Input,
            Kind::Output => wit::PluginKind::Output,
        },
        description: info.description.into(),
        version: info.version.into(),
        event_format: match info.format {
            Format::Msgpack => wit::EventFormat::Msgpack,
            Format::Json => wit::EventFormat::Json,
        },
        params: info
            .params
            .iter()
            .map(|p| wit::ParamSpec {
                name: p.name.into(),
                kind: match p.kind {
                    ParamType::String => wit::ParamType::String,
                    ParamType::Integer => wit::ParamType::Integer,
                    ParamType::Double => wit::ParamType::Double,
                    ParamType::Boolean => wit::ParamType::Boolean,
                    ParamType::Size => wit::ParamType::Size,
                    ParamType::Time => wit::ParamType::Time,
                    ParamType::List => wit::ParamType::List,
                },
                default: p.default.map(Into::into),
                required: p.required,
                description: p.description.into(),
            })
            .collect(),
    }
}

pub fn init<P: Plugin>(slot: &'static LocalKey<Slot<P>>) -> Result<(), String> {
    let instance = P::init().map_err(String::from)?;
    slot.with(|s| match s.0.try_borrow_mut() {
        Ok(mut guard) => {
            *guard = Some(instance);
            Ok(())
        }
        Err(_) => Err("init called while the plugin was running".to_string()),
    })
}

#[cfg(any(feature = "filter", feature = "input"))]
fn to_wit(batches: Batches) -> Vec<wit::Batch> {
    batches
        .into_vec()
        .into_iter()
        .map(|(tag, w)| wit::Batch {
            tag,
            count: w.len() as u32,
            events: w.into_bytes(),
        })
        .collect()
}

#[cfg(feature = "filter")]
pub fn filter<P: crate::Filter>(
    slot: &'static LocalKey<Slot<P>>,
    batch: wit::Batch,
) -> Result<Vec<wit::Batch>, String> {
    let view = crate::Batch::new(&batch.tag, &batch.events, batch.count);
    // Room for the batch and a field more per record (the usual filter).
    let room = batch.events.len() + 16 * batch.count as usize;
    let mut out = Batches::with_capacity(&batch.tag, room);
    with_instance(slot, |p| p.filter(&view, &mut out))?.map_err(String::from)?;
    Ok(to_wit(out))
}

#[cfg(feature = "input")]
pub fn collect<P: crate::Input>(
    slot: &'static LocalKey<Slot<P>>,
) -> Result<Vec<wit::Batch>, String> {
    let mut out = Batches::new("");
    with_instance(slot, |p| p.collect(&mut out))?.map_err(String::from)?;
    Ok(to_wit(out))
}

#[cfg(feature = "output")]
pub fn flush<P: crate::Output>(
    slot: &'static LocalKey<Slot<P>>,
    batch: wit::Batch,
) -> wit::FlushResult {
    use crate::FlushError;
    let view = crate::Batch::new(&batch.tag, &batch.events, batch.count);
    match with_instance(slot, |p| p.flush(&view)) {
        Ok(Ok(())) => wit::FlushResult::Ok,
        Ok(Err(FlushError::Retry(m))) => {
            crate::log::warn(&format!("flush failed, will retry: {m}"));
            wit::FlushResult::Retry
        }
        Ok(Err(FlushError::Fatal(m))) => {
            crate::log::error(&format!("flush failed, dropping the batch: {m}"));
            wit::FlushResult::Error
        }
        Err(m) => {
            crate::log::error(&m);
            wit::FlushResult::Error
        }
    }
}

/// The functions of [`crate::host`] in WebAssembly builds.
pub(crate) mod backend {
    use super::bindings::weir::plugin::host;
    use super::wit;
    use crate::log::Level;

    pub fn log(level: Level, message: &str) {
        let level = match level {
            Level::Error => wit::Level::Error,
            Level::Warn => wit::Level::Warn,
            Level::Info => wit::Level::Info,
            Level::Debug => wit::Level::Debug,
            Level::Trace => wit::Level::Trace,
        };
        host::log(level, message)
    }
    pub fn config(key: &str) -> Option<String> {
        host::config(key)
    }
    pub fn state_get(key: &str) -> Option<Vec<u8>> {
        host::state_get(key)
    }
    pub fn state_set(key: &str, value: &[u8]) {
        host::state_set(key, value)
    }
    pub fn state_delete(key: &str) {
        host::state_delete(key)
    }
    pub fn counter_add(name: &str, delta: u64) {
        host::counter_add(name, delta)
    }
    pub fn gauge_set(name: &str, value: f64) {
        host::gauge_set(name, value)
    }
    pub fn now_ns() -> u64 {
        host::now_ns()
    }
    #[cfg(feature = "input")]
    pub fn emit(tag: &str, events: &[u8], count: u32) {
        super::bindings::weir::plugin::emitter::emit(&wit::Batch {
            tag: tag.to_owned(),
            events: events.to_vec(),
            count,
        })
    }
}
