//! The engine's [`ReloadControl`]: requests go to the engine's loop, which runs one reload at
//! a time and answers every request that waited for it with that reload's outcome.

use super::{ReloadControl, ReloadOutcome};
use crate::metrics::Metrics;
use crate::plugin::BoxFuture;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Where a reload's outcome goes.
pub(crate) type Waiter = oneshot::Sender<ReloadOutcome>;

pub(crate) struct Control {
    tx: mpsc::UnboundedSender<Waiter>,
    metrics: Arc<Metrics>,
    enabled: AtomicBool,
}

impl Control {
    pub fn new(tx: mpsc::UnboundedSender<Waiter>, metrics: Arc<Metrics>, enabled: bool) -> Self {
        Self {
            tx,
            metrics,
            enabled: AtomicBool::new(enabled),
        }
    }

    /// A reload changed `hot_reload`.
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// Asks for a reload nobody waits on (SIGHUP, a file change): its outcome is logged.
    pub fn request_detached(&self, why: &'static str) {
        crate::info!("reload", "reload requested ({})", why);
        let (tx, rx) = oneshot::channel();
        if self.tx.send(tx).is_err() {
            return;
        }
        tokio::spawn(async move {
            if let Ok(o) = rx.await {
                crate::info!("reload", "{} reload answered {}: {}", why, o.status, o.body);
            }
        });
    }
}

impl ReloadControl for Control {
    fn count(&self) -> u64 {
        self.metrics.hot_reloads.get()
    }

    fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    fn request(&self) -> BoxFuture<'static, ReloadOutcome> {
        let (tx, rx) = oneshot::channel();
        let sent = self.tx.send(tx).is_ok();
        Box::pin(async move {
            let stopping = || ReloadOutcome {
                status: 503,
                body: serde_json::json!({
                    "reload": "failed",
                    "status": -1,
                    "error": "the engine is shutting down",
                }),
            };
            if !sent {
                return stopping();
            }
            rx.await.unwrap_or_else(|_| stopping())
        })
    }
}
