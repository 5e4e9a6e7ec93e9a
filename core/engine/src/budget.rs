//! Memory accounting: per input (`mem_buf_limit`) and for the whole process (`memory_limit`).
//!
//! Every byte an input appends to a chunk is charged to its budget, and through it to the
//! process's, and released when the last output is done with the chunk. Past either limit the
//! input's `emit` waits until deliveries bring it back under: the input is paused, exactly
//! when it has something to add, and resumes by itself. Both moments are logged in Fluent
//! Bit's words.

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
    /// Chunks of this input in memory: open, or closed and not yet done with.
    chunks: AtomicU64,
    paused: AtomicBool,
    released: Notify,
    /// Times the owner was paused by this budget (shown as the input's `pauses` metric).
    pub pauses: std::sync::Arc<crate::metrics::Counter>,
    /// The process-wide budget this one also charges, if any.
    parent: Option<std::sync::Arc<MemBudget>>,
}

impl MemBudget {
    pub fn new(limit: Option<u64>) -> Self {
        Self {
            limit: limit.filter(|l| *l > 0),
            used: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            chunks: AtomicU64::new(0),
            paused: AtomicBool::new(false),
            released: Notify::new(),
            pauses: std::sync::Arc::new(crate::metrics::Counter::default()),
            parent: None,
        }
    }

    /// Counts pauses in `counter` (an input's metric) instead of a private one.
    pub fn counting_pauses(mut self, counter: std::sync::Arc<crate::metrics::Counter>) -> Self {
        self.pauses = counter;
        self
    }

    /// A budget that also charges `parent` (an input's, charging the process's).
    pub fn with_parent(limit: Option<u64>, parent: std::sync::Arc<MemBudget>) -> Self {
        Self {
            parent: Some(parent),
            ..Self::new(limit)
        }
    }

    pub fn charge(&self, n: usize) {
        let now = self.used.fetch_add(n as u64, Ordering::AcqRel) + n as u64;
        self.peak.fetch_max(now, Ordering::Relaxed);
        if let Some(p) = &self.parent {
            p.charge(n);
        }
    }

    /// Most bytes buffered at once so far.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// A chunk of this input started (it ends when its [`Tracked`] is dropped).
    pub fn chunk_started(&self) {
        self.chunks.fetch_add(1, Ordering::Relaxed);
    }

    /// Chunks of this input in memory.
    pub fn chunks(&self) -> u64 {
        self.chunks.load(Ordering::Relaxed)
    }

    /// The limit, if any.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// Whether this input is over its own limit now.
    pub fn is_over(&self) -> bool {
        self.over_own()
    }

    pub fn release(&self, n: usize) {
        self.used.fetch_sub(n as u64, Ordering::AcqRel);
        if self.paused.load(Ordering::Acquire) {
            self.released.notify_waiters();
        }
        if let Some(p) = &self.parent {
            p.release(n);
        }
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    fn over_own(&self) -> bool {
        self.limit.is_some_and(|l| self.used() > l)
    }

    fn over(&self) -> bool {
        self.over_own() || self.parent.as_ref().is_some_and(|p| p.over_own())
    }

    /// Waits while the input is over its limit. `flush` closes open chunks, so that what is
    /// buffered can reach the outputs and be released.
    pub async fn wait_below(&self, name: &str, flush: impl Fn()) {
        if !self.over() {
            return;
        }
        self.paused.store(true, Ordering::Release);
        if let Some(p) = &self.parent {
            p.paused.store(true, Ordering::Release);
        }
        self.pauses.inc();
        let own = self.over_own();
        if own {
            crate::warn!("input", "{} paused (mem buf overlimit)", name);
        } else {
            crate::warn!("input", "{} paused (process memory_limit reached)", name);
        }
        flush();
        loop {
            // Wake on a release of this input's budget or of the process's (another input's
            // delivery), registering both before the check so none is missed.
            let own = self.released.notified();
            tokio::pin!(own);
            own.as_mut().enable();
            let mut parent = self
                .parent
                .as_ref()
                .map(|p| Box::pin(p.released.notified()));
            if let Some(p) = parent.as_mut() {
                p.as_mut().enable();
            }
            if !self.over() {
                break;
            }
            let released = async {
                match parent {
                    Some(p) => tokio::select! {
                        _ = own => {}
                        _ = p => {}
                    },
                    None => own.await,
                }
            };
            // Bounded, so a stuck output does not keep the check from running again.
            let _ = tokio::time::timeout(std::time::Duration::from_millis(500), released).await;
            flush();
        }
        self.paused.store(false, Ordering::Release);
        if own {
            crate::info!("input", "{} resume (mem buf overlimit)", name);
        } else {
            crate::info!("input", "{} resume (process memory_limit)", name);
        }
    }
}

/// What outputs need to know of a chunk without its data.
#[derive(Debug, Clone)]
pub(crate) struct ChunkMeta {
    pub id: u64,
    pub tag: std::sync::Arc<str>,
    pub signal: weir_event::Signal,
    pub records: usize,
    pub bytes: usize,
    pub created: std::time::Instant,
}

impl ChunkMeta {
    pub fn size(&self) -> usize {
        self.bytes
    }
}

/// A closed chunk shared by the outputs it is routed to, with the budget it is charged to:
/// dropping the last reference (when every output is done with it) releases its bytes.
///
/// A chunk that also lives in a file (filesystem storage) does not have to stay in memory
/// while it waits for a retry: [`Tracked::unload`] drops its data and [`Tracked::load`] reads
/// it back from the file for the next attempt, so an outage of the destination fills the
/// disk, not the memory.
#[derive(Debug)]
pub(crate) struct Tracked {
    pub meta: ChunkMeta,
    loaded: std::sync::Mutex<Option<std::sync::Arc<Chunk>>>,
    pub budget: Option<std::sync::Arc<MemBudget>>,
    /// The chunk's file, when its input has filesystem storage.
    pub stored: Option<crate::storage::Stored>,
}

impl Tracked {
    pub fn new(
        chunk: Chunk,
        budget: Option<std::sync::Arc<MemBudget>>,
        stored: Option<crate::storage::Stored>,
    ) -> Self {
        let meta = ChunkMeta {
            id: chunk.id,
            tag: chunk.tag.clone(),
            signal: chunk.signal,
            records: chunk.records,
            bytes: chunk.size(),
            created: chunk.created,
        };
        Self {
            meta,
            loaded: std::sync::Mutex::new(Some(std::sync::Arc::new(chunk))),
            budget,
            stored,
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<std::sync::Arc<Chunk>>> {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The chunk with its data, for a delivery attempt: from memory, or read back from its
    /// file (and kept for the other outputs). None when it is in neither.
    pub async fn load(&self) -> Result<std::sync::Arc<Chunk>, String> {
        if let Some(c) = self.slot().clone() {
            return Ok(c);
        }
        let Some(stored) = &self.stored else {
            return Err("the chunk's data is gone".into());
        };
        let data = stored.read().await?;
        let chunk = std::sync::Arc::new(Chunk {
            id: self.meta.id,
            tag: self.meta.tag.clone(),
            signal: self.meta.signal,
            records: self.meta.records,
            data,
            created: self.meta.created,
        });
        let mut slot = self.slot();
        if let Some(c) = slot.clone() {
            // Another output read it back meanwhile.
            return Ok(c);
        }
        if let Some(b) = &self.budget {
            b.charge(self.meta.bytes);
        }
        *slot = Some(chunk.clone());
        Ok(chunk)
    }

    /// Drops the data of a chunk that has a file, while it waits (see [`Tracked::load`]).
    pub fn unload(&self) {
        if self.stored.is_none() {
            return;
        }
        if self.slot().take().is_some() {
            if let Some(b) = &self.budget {
                b.release(self.meta.bytes);
            }
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let loaded = self.slot().is_some();
        if let Some(b) = &self.budget {
            if loaded {
                b.release(self.meta.bytes);
            }
            // Saturating: replayed chunks are charged to the backlog's budget without having
            // been started there.
            let _ = b
                .chunks
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_sub(1));
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

    #[tokio::test(start_paused = true)]
    async fn the_process_budget_pauses_an_input_under_its_own_limit() {
        let process = Arc::new(MemBudget::new(Some(100)));
        let a = Arc::new(MemBudget::with_parent(None, process.clone()));
        let b = Arc::new(MemBudget::with_parent(None, process.clone()));
        a.charge(80);
        b.charge(40);
        assert_eq!(process.used(), 120);
        let b2 = b.clone();
        let waiter = tokio::spawn(async move { b2.wait_below("b.0", || {}).await });
        tokio::task::yield_now().await;
        assert!(
            !waiter.is_finished(),
            "b is under its own (absent) limit but the process is over"
        );
        a.release(80);
        waiter.await.unwrap();
        assert_eq!(process.used(), 40);
    }

    #[tokio::test]
    async fn no_limit_never_waits() {
        let b = MemBudget::new(None);
        b.charge(1 << 40);
        b.wait_below("x", || {}).await;
        assert_eq!(b.pauses.get(), 0);
    }
}
