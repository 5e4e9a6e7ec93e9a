//! The engine's side of filesystem buffering (`storage.type filesystem`).
//!
//! An input with filesystem storage writes every batch to its open chunk's file as well as to
//! memory (`ingest`), so what it has emitted survives a crash of the process. When a chunk
//! closes, the file is finalized and the chunk is routed as usual; each output that accepts it
//! acknowledges it in the file, and an output that gives up rejects it, so after a restart the
//! chunk goes only to the outputs that still owe it. At start the store recovers every chunk
//! under `storage.path` and [`replay`] sends the backlog on, one chunk at a time within
//! `storage.backlog.mem_limit`.
//!
//! The store blocks on file I/O. Appends are write(2) into the page cache (fsyncs run on the
//! store's own thread with `storage.sync full`), cheap enough for the ingest path; opening,
//! reading, acknowledging and rejecting run on blocking threads.

use crate::budget::{MemBudget, Tracked};
use crate::engine::StartError;
use crate::ingest::Shared;
use crate::service::StorageSettings;
use std::sync::Arc;
use weir_event::Chunk;
use weir_storage::{ChunkId, Options, RecoveryReport, Store, SyncMode};

/// A chunk that also lives in a file of the store.
#[derive(Debug)]
pub(crate) struct Stored {
    pub store: Store,
    pub id: ChunkId,
}

impl Stored {
    /// Whether the store still owes this chunk to `output` (it may have been dropped for it
    /// by `drop_oldest` meanwhile).
    pub fn owes(&self, output: &str) -> bool {
        self.store
            .info(&self.id)
            .is_some_and(|i| i.owed.iter().any(|o| &**o == output))
    }

    /// Reads the chunk's events back from its file (for a retry after it was unloaded).
    pub async fn read(&self) -> Result<Vec<u8>, String> {
        let (store, id) = (self.store.clone(), self.id.clone());
        match tokio::task::spawn_blocking(move || store.read(&id)).await {
            Ok(Ok(d)) => {
                if d.lost_records > 0 || d.lost_unknown {
                    crate::warn!(
                        "storage",
                        "chunk {:?}: {} records in damaged blocks were lost",
                        self.id,
                        d.lost_records
                    );
                }
                Ok(d.events)
            }
            Ok(Err(e)) => Err(format!("cannot read chunk {:?}: {e}", self.id)),
            Err(e) => Err(format!("cannot read chunk {:?}: {e}", self.id)),
        }
    }

    /// Records an output's final answer: accepted (`ok`) or given up. Never fails the
    /// delivery: a file that cannot be updated means at worst a repeat after a restart.
    pub async fn settle(&self, output: &str, ok: bool) {
        let (store, id, name) = (self.store.clone(), self.id.clone(), output.to_string());
        let res = tokio::task::spawn_blocking(move || {
            if ok {
                store.ack(&id, &name)
            } else {
                store.reject(&id, &name)
            }
        })
        .await;
        match res {
            Ok(Ok(s)) => {
                if let Some(p) = s.dead_letter {
                    crate::info!(
                        "storage",
                        "chunk {:?} kept for {} in {}",
                        self.id,
                        output,
                        p.display()
                    );
                }
            }
            Ok(Err(e)) => crate::warn!(
                "storage",
                "cannot record {} for chunk {:?}: {}",
                output,
                self.id,
                e
            ),
            Err(e) => crate::warn!(
                "storage",
                "cannot record {} for chunk {:?}: {}",
                output,
                self.id,
                e
            ),
        }
    }
}

fn options(s: &StorageSettings) -> Options {
    Options {
        sync: if s.sync_full {
            SyncMode::Full
        } else {
            SyncMode::Normal
        },
        checksum: s.checksum,
        delete_irrecoverable_chunks: s.delete_irrecoverable_chunks,
        keep_rejected: s.keep_rejected,
        rejected_path: s.rejected_path.clone().into(),
        ..Options::default()
    }
}

/// Opens the store at `storage.path`, recovering what is there, and logs what recovery found.
pub(crate) async fn open(
    s: &StorageSettings,
) -> Result<Option<(Store, RecoveryReport)>, StartError> {
    let Some(path) = s.path.clone() else {
        return Ok(None);
    };
    let opts = options(s);
    let shown = path.display().to_string();
    let opened = tokio::task::spawn_blocking(move || Store::open(&path, opts))
        .await
        .map_err(|e| StartError::Storage {
            path: shown.clone(),
            message: e.to_string(),
        })?
        .map_err(|e| StartError::Storage {
            path: shown.clone(),
            message: e.to_string(),
        })?;
    let report = &opened.1;
    crate::info!(
        "storage",
        "path={}, sync={}, checksum={}: {} chunks ({} records) to replay",
        shown,
        if s.sync_full { "full" } else { "normal" },
        if s.checksum { "on" } else { "off" },
        report.chunks.len(),
        report.records()
    );
    for d in &report.damaged {
        crate::warn!("storage", "damaged chunk: {:?}", d);
    }
    if report.foreign > 0 {
        crate::info!(
            "storage",
            "{} files under {} are not Weir chunks, left alone",
            report.foreign,
            shown
        );
    }
    for e in &report.errors {
        crate::warn!("storage", "{}", e);
    }
    Ok(Some(opened))
}

/// Sends the recovered backlog to the outputs that still owe it, oldest first, reading one
/// chunk at a time while what is in flight stays under `storage.backlog.mem_limit`.
pub(crate) async fn replay(
    store: Store,
    report: RecoveryReport,
    shared: Arc<Shared>,
    mem_limit: u64,
) {
    let budget = Arc::new(MemBudget::new(Some(mem_limit.max(1))));
    let mut sent = 0u64;
    for info in report.chunks {
        let owed: Vec<Arc<str>> = info
            .owed
            .iter()
            .filter(|o| shared.has_output(o))
            .cloned()
            .collect();
        let missing: Vec<&str> = info
            .owed
            .iter()
            .filter(|o| !shared.has_output(o))
            .map(|o| &**o)
            .collect();
        if !missing.is_empty() {
            crate::warn!(
                "storage",
                "chunk {:?} is owed to outputs no longer configured ({}); it stays on disk for them",
                info.id,
                missing.join(", ")
            );
        }
        if owed.is_empty() {
            continue;
        }
        budget.wait_below("backlog", || {}).await;
        let (s, id) = (store.clone(), info.id.clone());
        let data = match tokio::task::spawn_blocking(move || s.read(&id)).await {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => {
                crate::error!("storage", "cannot read chunk {:?}: {}", info.id, e);
                continue;
            }
            Err(e) => {
                crate::error!("storage", "cannot read chunk {:?}: {}", info.id, e);
                continue;
            }
        };
        if data.lost_records > 0 || data.lost_unknown {
            crate::warn!(
                "storage",
                "chunk {:?}: {} records in damaged blocks were lost",
                info.id,
                data.lost_records
            );
        }
        budget.charge(data.events.len());
        sent += data.records;
        let tracked = Tracked::new(
            Chunk {
                id: shared.next_chunk_id(),
                tag: info.tag.clone(),
                signal: info.signal,
                records: usize::try_from(data.records).unwrap_or(usize::MAX),
                data: data.events,
                created: std::time::Instant::now(),
            },
            Some(budget.clone()),
            Some(Stored {
                store: store.clone(),
                id: info.id.clone(),
            }),
        );
        shared.dispatch_to(Arc::new(tracked), &owed);
    }
    if sent > 0 {
        crate::info!(
            "storage",
            "backlog of {} records handed to the outputs",
            sent
        );
    }
}
