//! Per-input memory accounting and `mem_buf_limit`.
//!
//! Every byte an input appends to a chunk is charged to its budget and released when the last
//! output is done with the chunk. Past `mem_buf_limit`, the input's `emit` waits until
//! deliveries bring it back under: the input is paused, exactly when it has something to add,
//! and resumes by itself. Both moments are logged in Fluent Bit's words.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::Notify;
use weir_event::Chunk;

#[derive(Debug)]
pub(crate) struct MemBudget {
    /// `None`: accounting only.
    limit: Option<u64>,
    used: AtomicU64,
    /// Most bytes ever buffered at once: how much memory this input's data really needed.
    peak: AtomicU64,
    paused: AtomicBool,
    released: Notify,
    pub pauses: crate::metrics::Counter,
}

impl MemBudget {
    pub fn new(limit: Option<u64>) -> Self {
        Self {
            limit: limit.filter(|l| *l > 0),
            used: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            paused: AtomicBool::new(false),
            released: Notify::new(),
            pauses: Default::default(),
        }
    }

    pub fn charge(&self, n: usize) {
        let now = self.used.fetch_add(n as u64, Ordering::AcqRel) + n as u64;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    /// Most bytes buffered at once so far.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    pub fn release(&self, n: usize) {
        self.used.fetch_sub(n as u64, Ordering::AcqRel);
        if self.paused.load(Ordering::Acquire) {
            self.released.notify_waiters();
        }
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    fn over(&self) -> bool {
        self.limit.is_some_and(|l| self.used() > l)
    }

    /// Waits while the input is over its limit. `flush` closes open chunks, so that what is
    /// buffered can reach the outputs and be released.
    pub async fn wait_below(&self, name: &str, flush: impl Fn()) {
        if !self.over() {
            return;
        }
        self.paused.store(true, Ordering::Release);
        self.pauses.inc();
        crate::warn!("input", "{} paused (mem buf overlimit)", name);
        flush();
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if !self.over() {
                break;
            }
            // A bounded wait: a release between the check and the wait is never missed, and
            // a stuck output does not keep the check from running again.
            let _ = tokio::time::timeout(std::time::Duration::from_millis(500), released).await;
            flush();
        }
        self.paused.store(false, Ordering::Release);
        crate::info!("input", "{} resume (mem buf overlimit)", name);
    }
}

/// A closed chunk with the budget it is charged to: dropping the last reference (when every
/// output is done with it) releases its bytes.
#[derive(Debug)]
pub(crate) struct Tracked {
    pub chunk: Chunk,
    pub budget: Option<std::sync::Arc<MemBudget>>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(b) = &self.budget {
            b.release(self.chunk.size());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn pauses_until_released() {
        let b = Arc::new(MemBudget::new(Some(100)));
        b.charge(150);
        let b2 = b.clone();
        let waiter = tokio::spawn(async move { b2.wait_below("test.0", || {}).await });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        b.release(100);
        waiter.await.unwrap();
        assert_eq!(b.pauses.get(), 1);
        assert_eq!(b.used(), 50);
    }

    #[tokio::test]
    async fn no_limit_never_waits() {
        let b = MemBudget::new(None);
        b.charge(1 << 40);
        b.wait_below("x", || {}).await;
        assert_eq!(b.pauses.get(), 0);
    }
}
