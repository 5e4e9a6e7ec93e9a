//! Logging in Fluent Bit's shape: `[2026/01/01 12:00:00] [ info] [component] message`.
//!
//! Operators grep these lines and alert on them, so the shape and the wording of common events
//! (an input listening, a retry scheduled, an input paused) follow Fluent Bit. Logs go to
//! stderr, or to `log_file` when set.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

/// Log levels, quietest first (Fluent Bit's `log_level` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Off = 0,
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl Level {
    /// Parses Fluent Bit's names (`off`, `error`, `warn`/`warning`, `info`, `debug`, `trace`).
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "off" => Level::Off,
            "error" => Level::Error,
            "warn" | "warning" => Level::Warn,
            "info" => Level::Info,
            "debug" => Level::Debug,
            "trace" => Level::Trace,
            _ => return None,
        })
    }

    /// The bracketed, right-aligned label Fluent Bit prints.
    fn label(self) -> &'static str {
        match self {
            Level::Off => "  off",
            Level::Error => "error",
            Level::Warn => " warn",
            Level::Info => " info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }

    fn from_u8(v: u8) -> Level {
        match v {
            0 => Level::Off,
            1 => Level::Error,
            2 => Level::Warn,
            3 => Level::Info,
            4 => Level::Debug,
            _ => Level::Trace,
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
/// The most verbose level anyone (global or an instance's `log_level`) asked for: the cheap
/// check that debug and trace macros make before formatting anything.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
static SINK: Mutex<Option<Box<dyn Write + Send>>> = Mutex::new(None);
/// Per-component levels (a plugin instance's `log_level`), by component label.
static COMPONENT_LEVELS: std::sync::RwLock<Vec<(String, Level)>> =
    std::sync::RwLock::new(Vec::new());

/// Sets the global level.
pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
    recompute_max();
}

/// Sets the level of one component (`input:tail:tail.0`), overriding the global level for
/// its lines: a plugin instance's `log_level`.
pub fn set_component_level(component: &str, level: Level) {
    let mut v = COMPONENT_LEVELS.write().unwrap_or_else(|e| e.into_inner());
    v.retain(|(c, _)| c != component);
    v.push((component.to_string(), level));
    drop(v);
    recompute_max();
}

fn recompute_max() {
    let global = LEVEL.load(Ordering::Relaxed);
    let max = COMPONENT_LEVELS
        .read()
        .map(|v| v.iter().map(|(_, l)| *l as u8).max().unwrap_or(0))
        .unwrap_or(0)
        .max(global);
    MAX_LEVEL.store(max, Ordering::Relaxed);
}

fn component_level(component: &str) -> Option<Level> {
    let v = COMPONENT_LEVELS.read().ok()?;
    v.iter().find(|(c, _)| c == component).map(|(_, l)| *l)
}

/// The global level.
pub fn level() -> Level {
    Level::from_u8(LEVEL.load(Ordering::Relaxed))
}

/// Whether a message at `level` might be written by some component (a cheap pre-check).
pub fn enabled(level: Level) -> bool {
    level != Level::Off && level as u8 <= MAX_LEVEL.load(Ordering::Relaxed)
}

/// Sends logs to a file (appending) instead of stderr.
pub fn set_file(path: &std::path::Path) -> std::io::Result<()> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    *SINK.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(f));
    Ok(())
}

/// Writes one log line. Use the `error!`/`warn!`/`info!`/`debug!` macros of this crate.
pub fn write(level: Level, component: &str, args: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let limit =
        component_level(component).map_or_else(|| LEVEL.load(Ordering::Relaxed), |l| l as u8);
    if level as u8 > limit {
        return;
    }
    let now = chrono::Local::now().format("%Y/%m/%d %H:%M:%S");
    let line = format!("[{now}] [{}] [{component}] {args}\n", level.label());
    let mut sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
    match sink.as_mut() {
        Some(w) => {
            let _ = w.write_all(line.as_bytes());
            let _ = w.flush();
        }
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

/// Logs at error level: `error!("engine", "chunk {} cannot be retried", id)`.
#[macro_export]
macro_rules! error {
    ($component:expr, $($arg:tt)+) => { $crate::log::write($crate::log::Level::Error, &$component, format_args!($($arg)+)) };
}
/// Logs at warn level.
#[macro_export]
macro_rules! warn {
    ($component:expr, $($arg:tt)+) => { $crate::log::write($crate::log::Level::Warn, &$component, format_args!($($arg)+)) };
}
/// Logs at info level.
#[macro_export]
macro_rules! info {
    ($component:expr, $($arg:tt)+) => { $crate::log::write($crate::log::Level::Info, &$component, format_args!($($arg)+)) };
}
/// Logs at debug level.
#[macro_export]
macro_rules! debug {
    ($component:expr, $($arg:tt)+) => {
        if $crate::log::enabled($crate::log::Level::Debug) {
            $crate::log::write($crate::log::Level::Debug, &$component, format_args!($($arg)+))
        }
    };
}
/// Logs at trace level.
#[macro_export]
macro_rules! trace {
    ($component:expr, $($arg:tt)+) => {
        if $crate::log::enabled($crate::log::Level::Trace) {
            $crate::log::write($crate::log::Level::Trace, &$component, format_args!($($arg)+))
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_levels_override_the_global_one() {
        set_level(Level::Info);
        set_component_level("input:tail:tail.9", Level::Debug);
        assert!(
            enabled(Level::Debug),
            "debug macros must format for the verbose component"
        );
        assert_eq!(component_level("input:tail:tail.9"), Some(Level::Debug));
        assert_eq!(component_level("other"), None);
    }

    #[test]
    fn levels() {
        assert_eq!(Level::parse("WARNING"), Some(Level::Warn));
        assert_eq!(Level::parse("bogus"), None);
        assert!(Level::Error < Level::Debug);
        assert_eq!(Level::Info.label(), " info");
    }
}
