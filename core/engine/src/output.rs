//! Running outputs: a queue per output instance, bounded flush concurrency (`workers`), and
//! retries with backoff owned by the engine.

use crate::budget::{ChunkMeta, Tracked};
use crate::context::OutputContext;
use crate::metrics::OutputMetrics;
use crate::pending::Pending;
use crate::plugin::{FlushResult, Output};
use crate::router::TagMatcher;
use crate::scheduler::{Backoff, RetryLimit};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

/// What the dispatcher holds for each output: how to match and where to queue.
pub(crate) struct OutputHandle {
    /// The output instance name (`stdout.0`): how chunk files name the outputs they are owed to.
    pub name: Arc<str>,
    pub matcher: TagMatcher,
    /// `storage.total_limit_size` and what to do when it is reached.
    pub disk_limit: Option<DiskLimit>,
    pub metrics: Arc<OutputMetrics>,
    tx: mpsc::UnboundedSender<Arc<Tracked>>,
}

impl OutputHandle {
    /// Queues a chunk; false if the output has stopped.
    pub fn send(&self, chunk: Arc<Tracked>) -> bool {
        self.tx.send(chunk).is_ok()
    }
}

/// A configured output and its delivery settings.
pub(crate) struct OutputRuntime {
    pub output: Box<dyn Output>,
    pub ctx: OutputContext,
    pub metrics: Arc<OutputMetrics>,
    pub retry_limit: RetryLimit,
    pub workers: usize,
    pub backoff: Backoff,
    pub disk_limit: Option<DiskLimit>,
}

/// An output's disk budget for filesystem chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DiskLimit {
    pub bytes: u64,
    pub when_full: WhenFull,
}

/// `storage.when_full`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WhenFull {
    DropOldest,
    Block,
}

/// Creates the queue of one output: the handle for the dispatcher and the receiving end.
pub(crate) fn queue(
    rt: &OutputRuntime,
    matcher: TagMatcher,
) -> (OutputHandle, mpsc::UnboundedReceiver<Arc<Tracked>>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = OutputHandle {
        name: rt.ctx.name.clone(),
        matcher,
        disk_limit: rt.disk_limit,
        metrics: rt.metrics.clone(),
        tx,
    };
    (handle, rx)
}

/// Delivers queued chunks until the queue closes (every sender gone, or `close` fired: a hot
/// reload removed this output) and every delivery has ended. After `close`, what was queued
/// is still delivered; nothing new can be queued.
pub(crate) async fn run(
    rt: Arc<OutputRuntime>,
    mut rx: mpsc::UnboundedReceiver<Arc<Tracked>>,
    pending: Arc<Pending>,
    draining: CancellationToken,
    close: CancellationToken,
) {
    let workers = Arc::new(Semaphore::new(rt.workers.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut closed = false;
    loop {
        let next = tokio::select! {
            c = rx.recv() => c,
            _ = close.cancelled(), if !closed => {
                rx.close();
                closed = true;
                continue;
            }
        };
        let Some(chunk) = next else { break };
        let (rt, pending, draining, workers) = (
            rt.clone(),
            pending.clone(),
            draining.clone(),
            workers.clone(),
        );
        tasks.spawn(async move {
            let outcome = deliver(&rt, &chunk, &workers, &draining).await;
            // A chunk with a file records this output's final answer in it, so a restart
            // sends it only where it is still owed.
            if let (Some(stored), Some(ok)) = (&chunk.stored, outcome) {
                stored.settle(&rt.ctx.name, ok).await;
            }
            pending.done();
        });
        // Reap finished deliveries so the set does not grow with a long-running output.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

/// One chunk to one output, with retries. A worker permit is held only while flushing, not
/// while waiting to retry, so one failing chunk does not stall the others.
///
/// Returns `Some(true)` when the output accepted the chunk, `Some(false)` when it gave up on
/// it (an error, or retries exhausted), `None` when delivery was abandoned at shutdown.
async fn deliver(
    rt: &OutputRuntime,
    tracked: &Tracked,
    workers: &Semaphore,
    draining: &CancellationToken,
) -> Option<bool> {
    let mut rng = fastrand::Rng::new();
    let mut attempt: u32 = 0;
    let chunk = &tracked.meta;
    loop {
        let result = {
            let Ok(_permit) = workers.acquire().await else {
                return None;
            };
            match tracked.load().await {
                Ok(data) => rt.output.flush(&data, &rt.ctx).await,
                // Dropped for this output meanwhile (drop_oldest): already settled and counted.
                Err(_)
                    if tracked
                        .stored
                        .as_ref()
                        .is_some_and(|s| !s.owes(&rt.ctx.name)) =>
                {
                    return None
                }
                Err(e) => {
                    crate::error!(
                        "engine",
                        "chunk '{}' cannot be delivered to {}: {}",
                        chunk_name(chunk),
                        rt.ctx.name,
                        e
                    );
                    rt.metrics.dropped_records.add(chunk.records as u64);
                    return Some(false);
                }
            }
        };
        let records = chunk.records as u64;
        match result {
            FlushResult::Ok => {
                rt.metrics.proc_records.add(records);
                rt.metrics.proc_bytes.add(chunk.size() as u64);
                if attempt > 0 {
                    rt.metrics.retried_records.add(records);
                    crate::info!(
                        "engine",
                        "flush chunk '{}' succeeded at retry {}: input={} > output={}",
                        chunk_name(chunk),
                        attempt,
                        chunk.tag,
                        rt.ctx.name
                    );
                }
                return Some(true);
            }
            FlushResult::Error => {
                rt.metrics.errors.inc();
                rt.metrics.dropped_records.add(records);
                crate::error!(
                    "engine",
                    "chunk '{}' cannot be delivered: output={} answered an error, {} records dropped",
                    chunk_name(chunk),
                    rt.ctx.name,
                    records
                );
                return Some(false);
            }
            FlushResult::Retry => {
                attempt += 1;
                if !rt.retry_limit.allows(attempt) {
                    rt.metrics.retries_failed.inc();
                    rt.metrics.dropped_records.add(records);
                    crate::error!(
                        "engine",
                        "chunk '{}' cannot be retried: tag={} > output={}, {} records dropped",
                        chunk_name(chunk),
                        chunk.tag,
                        rt.ctx.name,
                        records
                    );
                    return Some(false);
                }
                rt.metrics.retries.inc();
                // A chunk with a file waits on disk only, and is read back for the retry.
                tracked.unload();
                let mut wait = rt.backoff.wait(attempt, &mut rng);
                if draining.is_cancelled() {
                    // Shutting down: retry soon, within `grace`, instead of after a long backoff.
                    wait = wait.min(Duration::from_secs(1));
                }
                crate::warn!(
                    "engine",
                    "failed to flush chunk '{}', retry in {} seconds: tag={} > output={}",
                    chunk_name(chunk),
                    wait.as_secs(),
                    chunk.tag,
                    rt.ctx.name
                );
                if draining.is_cancelled() {
                    tokio::time::sleep(wait).await;
                } else {
                    // A shutdown that starts during the wait cuts it short: one immediate retry.
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = draining.cancelled() => {}
                    }
                }
            }
        }
    }
}

fn chunk_name(chunk: &ChunkMeta) -> String {
    format!("{}-{}", chunk.id, chunk.signal.as_str())
}
