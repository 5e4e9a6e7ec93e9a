//! Counts deliveries still owed (one per chunk and output), so shutdown can wait for zero.

use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Notify;

#[derive(Debug, Default)]
pub(crate) struct Pending {
    n: AtomicUsize,
    zero: Notify,
}

impl Pending {
    pub fn add(&self) {
        self.n.fetch_add(1, Ordering::AcqRel);
    }

    pub fn done(&self) {
        if self.n.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.zero.notify_waiters();
        }
    }

    pub fn get(&self) -> usize {
        self.n.load(Ordering::Acquire)
    }

    /// Resolves once nothing is owed.
    pub async fn wait_zero(&self) {
        loop {
            let notified = self.zero.notified();
            tokio::pin!(notified);
            // Register before checking, so a `done` between the check and the await is not missed.
            notified.as_mut().enable();
            if self.get() == 0 {
                return;
            }
            notified.await;
        }
    }
}
