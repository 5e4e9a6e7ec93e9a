//! Weir's host functions, wrapped: logging ([`log`]), the plugin's configuration
//! ([`config`]), persistent state ([`state`]), metrics ([`metrics`]), the clock ([`now`]) and,
//! for inputs, [`emit`].
//!
//! In a WebAssembly build they call the host; in a native build (`cargo test`) they reach the
//! in-memory host of [`crate::testing`], so plugins can be unit-tested without Weir.

use crate::host_backend as backend;

use crate::event::EventTime;

/// Wall-clock time from the host, in nanoseconds since the Unix epoch.
///
/// Plugins built without WASI cannot read the clock themselves (`SystemTime::now()` panics
/// on `wasm32-unknown-unknown`): this is the clock to use.
pub fn now_ns() -> u64 {
    backend::now_ns()
}

/// Wall-clock time from the host.
pub fn now() -> EventTime {
    EventTime::from_nanos(now_ns())
}

/// Sends events into the pipeline at once, outside the answer of `collect` (inputs only).
/// An empty `tag` stands for the input's `tag` parameter. Empty writers send nothing.
#[cfg(any(feature = "input", not(target_arch = "wasm32")))]
pub fn emit(tag: &str, events: &crate::EventWriter) {
    if !events.is_empty() {
        backend::emit(tag, events.as_bytes(), events.len() as u32);
    }
}

pub mod log {
    //! Lines in Weir's log, under the plugin instance's name. The macros
    //! ([`crate::info!`] and its siblings) format like `println!`.
    use super::backend;

    /// Severity of a log line; the host drops lines below its `log_level`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum Level {
        Error,
        Warn,
        Info,
        Debug,
        Trace,
    }

    /// Writes one line.
    pub fn write(level: Level, message: &str) {
        backend::log(level, message)
    }
    pub fn error(message: &str) {
        write(Level::Error, message)
    }
    pub fn warn(message: &str) {
        write(Level::Warn, message)
    }
    pub fn info(message: &str) {
        write(Level::Info, message)
    }
    pub fn debug(message: &str) {
        write(Level::Debug, message)
    }
    pub fn trace(message: &str) {
        write(Level::Trace, message)
    }
}

pub mod state {
    //! Key-value state of the plugin instance. The host keeps it on disk: it survives
    //! restarts, reloads and upgrades of the plugin. Keep values small; write them when they
    //! change rather than on every record.
    use super::backend;

    pub fn get(key: &str) -> Option<Vec<u8>> {
        backend::state_get(key)
    }
    pub fn set(key: &str, value: &[u8]) {
        backend::state_set(key, value)
    }
    pub fn delete(key: &str) {
        backend::state_delete(key)
    }

    /// A value stored with [`set_str`] (or any UTF-8 value).
    pub fn get_str(key: &str) -> Option<String> {
        String::from_utf8(get(key)?).ok()
    }
    pub fn set_str(key: &str, value: &str) {
        set(key, value.as_bytes())
    }

    /// A number stored with [`set_u64`] (as decimal text, readable in the state store); `None`
    /// when absent or not such a number.
    pub fn get_u64(key: &str) -> Option<u64> {
        get_str(key)?.trim().parse().ok()
    }
    pub fn set_u64(key: &str, value: u64) {
        set(key, value.to_string().as_bytes())
    }
}

pub mod metrics {
    //! Metrics of the plugin instance, shown with Weir's own metrics.
    use super::backend;

    /// Adds `delta` to the counter `name` (created at zero on first use).
    pub fn counter_add(name: &str, delta: u64) {
        backend::counter_add(name, delta)
    }
    /// Sets the gauge `name`.
    pub fn gauge_set(name: &str, value: f64) {
        backend::gauge_set(name, value)
    }
}

/// Writes an error line to Weir's log: `error!("cannot open {}: {}", path, e)`.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log::write($crate::log::Level::Error, &::std::format!($($arg)+)) };
}
/// Writes a warning line to Weir's log.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log::write($crate::log::Level::Warn, &::std::format!($($arg)+)) };
}
/// Writes an info line to Weir's log.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log::write($crate::log::Level::Info, &::std::format!($($arg)+)) };
}
/// Writes a debug line to Weir's log.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log::write($crate::log::Level::Debug, &::std::format!($($arg)+)) };
}
/// Writes a trace line to Weir's log.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::log::write($crate::log::Level::Trace, &::std::format!($($arg)+)) };
}
