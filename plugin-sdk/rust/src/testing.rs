//! An in-memory host for native unit tests of plugins (`cargo test`; not in WebAssembly
//! builds).
//!
//! The host functions of [`crate::log`], [`crate::config`], [`crate::state`],
//! [`crate::metrics`], [`crate::now`] and [`crate::emit`] reach this host in native builds. It
//! is per thread, as Rust's test harness runs each test on its own thread; call [`reset`]
//! first when a thread runs several plugins.
//!
//! ```
//! use weir_plugin_sdk::{testing, Batches, EventTime, EventWriter, Filter, Info, Plugin};
//!
//! struct Upper;
//! impl Plugin for Upper {
//!     const INFO: Info = Info::new("upper");
//!     fn init() -> Result<Self, weir_plugin_sdk::Error> { Ok(Upper) }
//! }
//! impl Filter for Upper {
//!     fn filter(&mut self, batch: &weir_plugin_sdk::Batch<'_>, out: &mut Batches)
//!         -> Result<(), weir_plugin_sdk::Error>
//!     {
//!         for ev in batch.events() {
//!             let ev = ev?;
//!             let msg = ev.get_str("msg").unwrap_or_default().to_uppercase();
//!             out.writer().edit(&ev).set("msg", msg).finish()?;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let mut input = EventWriter::new();
//! input.event(EventTime::new(1, 0)).field("msg", "hi").finish();
//! let out = testing::run_filter::<Upper>("app", &input).unwrap();
//! assert_eq!(out[0].0, "app");
//! let events = testing::events(&out[0].1);
//! assert_eq!(events[0].get_str("msg"), Some("HI"));
//! ```

use crate::host::log::Level;
use crate::{Batch, Batches, Error, Event, EventWriter, Filter, FlushError, Input, Output, Plugin};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// Everything the plugin did to the host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MockHost {
    /// Values of parameters, as the configuration would set them.
    pub config: BTreeMap<String, String>,
    /// Declared defaults, applied when `config` does not set a parameter (as the host does).
    pub defaults: BTreeMap<String, String>,
    pub state: BTreeMap<String, Vec<u8>>,
    pub logs: Vec<(Level, String)>,
    pub counters: BTreeMap<String, u64>,
    pub gauges: BTreeMap<String, f64>,
    /// The clock in nanoseconds; `None` reads the system clock.
    pub now_ns: Option<u64>,
    /// Batches sent with [`crate::emit`]: `(tag, events, count)`.
    pub emitted: Vec<(String, Vec<u8>, u32)>,
}

thread_local! {
    static HOST: RefCell<MockHost> = RefCell::new(MockHost::default());
}

/// Reads or changes this thread's host.
pub fn with_host<R>(f: impl FnOnce(&mut MockHost) -> R) -> R {
    HOST.with(|h| f(&mut h.borrow_mut()))
}

/// Forgets everything: configuration, state, logs, metrics, clock.
pub fn reset() {
    with_host(|h| *h = MockHost::default());
}

/// Sets a parameter's value.
pub fn set_config(key: &str, value: &str) {
    with_host(|h| h.config.insert(key.to_ascii_lowercase(), value.to_owned()));
}

/// Fixes the clock.
pub fn set_now_ns(ns: u64) {
    with_host(|h| h.now_ns = Some(ns));
}

/// The log lines written so far.
pub fn logs() -> Vec<(Level, String)> {
    with_host(|h| h.logs.clone())
}

pub fn state(key: &str) -> Option<Vec<u8>> {
    with_host(|h| h.state.get(key).cloned())
}

pub fn counter(name: &str) -> u64 {
    with_host(|h| h.counters.get(name).copied().unwrap_or(0))
}

pub fn gauge(name: &str) -> Option<f64> {
    with_host(|h| h.gauges.get(name).copied())
}

/// Batches sent with [`crate::emit`] so far, as `(tag, events)`.
pub fn emitted() -> Vec<(String, EventWriter)> {
    with_host(|h| h.emitted.clone())
        .into_iter()
        .map(|(tag, bytes, _)| {
            let mut w = EventWriter::new();
            for ev in Batch::new("", &bytes, 0).events().flatten() {
                w.push(&ev);
            }
            (tag, w)
        })
        .collect()
}

/// Registers the plugin's declared defaults and calls its `init`, as the host does.
pub fn init<P: Plugin>() -> Result<P, Error> {
    with_host(|h| {
        h.defaults = P::INFO
            .params
            .iter()
            .filter_map(|p| Some((p.name.to_ascii_lowercase(), p.default?.to_owned())))
            .collect();
    });
    P::init()
}

/// Initializes a filter and runs one batch through it; returns the batches it answered with.
pub fn run_filter<F: Filter>(
    tag: &str,
    events: &EventWriter,
) -> Result<Vec<(String, EventWriter)>, Error> {
    let mut f = init::<F>()?;
    let mut out = Batches::new(tag);
    f.filter(
        &Batch::new(tag, events.as_bytes(), events.len() as u32),
        &mut out,
    )?;
    Ok(out.into_vec())
}

/// Initializes an input and calls `collect` once.
pub fn run_input<I: Input>() -> Result<Vec<(String, EventWriter)>, Error> {
    let mut i = init::<I>()?;
    let mut out = Batches::new("");
    i.collect(&mut out)?;
    Ok(out.into_vec())
}

/// Initializes an output and flushes one batch to it.
pub fn run_output<O: Output>(tag: &str, events: &EventWriter) -> Result<(), FlushError> {
    let mut o = init::<O>()?;
    o.flush(&Batch::new(tag, events.as_bytes(), events.len() as u32))
}

/// The events of a writer, read back (malformed events, which the writer cannot produce,
/// are skipped).
pub fn events(w: &EventWriter) -> Vec<Event<'_>> {
    Batch::new("", w.as_bytes(), 0).events().flatten().collect()
}

/// The functions of [`crate::host`] in native builds.
pub(crate) mod backend {
    use super::{with_host, Level};

    pub fn log(level: Level, message: &str) {
        with_host(|h| h.logs.push((level, message.to_owned())));
    }
    pub fn config(key: &str) -> Option<String> {
        let key = key.to_ascii_lowercase();
        with_host(|h| h.config.get(&key).or_else(|| h.defaults.get(&key)).cloned())
    }
    pub fn state_get(key: &str) -> Option<Vec<u8>> {
        with_host(|h| h.state.get(key).cloned())
    }
    pub fn state_set(key: &str, value: &[u8]) {
        with_host(|h| h.state.insert(key.to_owned(), value.to_vec()));
    }
    pub fn state_delete(key: &str) {
        with_host(|h| h.state.remove(key));
    }
    pub fn counter_add(name: &str, delta: u64) {
        with_host(|h| {
            let c = h.counters.entry(name.to_owned()).or_insert(0);
            *c = c.saturating_add(delta);
        });
    }
    pub fn gauge_set(name: &str, value: f64) {
        with_host(|h| h.gauges.insert(name.to_owned(), value));
    }
    pub fn now_ns() -> u64 {
        with_host(|h| h.now_ns).unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
                .unwrap_or(0)
        })
    }
    pub fn emit(tag: &str, events: &[u8], count: u32) {
        with_host(|h| h.emitted.push((tag.to_owned(), events.to_vec(), count)));
    }
}
