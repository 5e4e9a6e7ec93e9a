//! Hot reload: what the HTTP API, SIGHUP and the file watcher ask of the engine.
//!
//! A reload is a transaction. The new configuration is read and built in full first (every
//! error found before anything changes); only then is it applied, by difference with the
//! running pipeline, and the caller is answered with what really happened.

use crate::plugin::BoxFuture;

/// How a reload request ended, ready to be answered over HTTP.
#[derive(Debug, Clone)]
pub struct ReloadOutcome {
    /// 200 when the new configuration runs, 400 when it was refused (the old one still
    /// runs), 503 when hot reload is off or the engine is stopping, 504 on `hot_reload.timeout`.
    pub status: u16,
    /// The answer: Fluent Bit's keys (`reload`, `status`) and Weir's (`changes`, `error`...).
    pub body: serde_json::Value,
}

/// The engine's side of hot reload, as the HTTP API sees it.
pub trait ReloadControl: Send + Sync {
    /// Reloads that took effect since the process started (`hot_reload_count`).
    fn count(&self) -> u64;
    /// Whether `hot_reload` is on (POST/PUT `/api/v2/reload` answer `not enabled` otherwise,
    /// with 200 as Fluent Bit does).
    fn enabled(&self) -> bool;
    /// Asks for a reload and resolves with its real outcome. Requests that arrive while one
    /// runs are coalesced into the next one, and each caller gets that one's outcome.
    fn request(&self) -> BoxFuture<'static, ReloadOutcome>;
}

mod apply;
mod control;
pub(crate) mod watch;

pub(crate) use apply::apply;
pub(crate) use control::Control;
