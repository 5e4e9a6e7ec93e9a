//! Store options: Fluent Bit's `storage.*` service keys that concern the files themselves.

use std::path::PathBuf;
use std::time::Duration;

/// Name of the directory under the root where damaged chunk files are set aside.
pub const QUARANTINE_DIR: &str = "quarantine";
/// Name of the file under the root that a running store holds locked, so that a second process
/// pointed at the same `storage.path` cannot recover (and rewrite) chunks still being written.
pub const LOCK_FILE: &str = ".weir-storage.lock";

/// `storage.sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// `normal`: appends are written with write(2) only. The kernel keeps them across a crash
    /// of the process, not across a power loss or a kernel crash.
    #[default]
    Normal,
    /// `full`: appends are also fsynced, in batches: at most one fsync per file per
    /// [`Options::sync_interval`], and a caller can wait for its append to be durable.
    Full,
}

/// How a [`crate::Store`] behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// `storage.sync`.
    pub sync: SyncMode,
    /// Weir: with `storage.sync full`, the shortest time between two fsyncs of the same file.
    /// Appends within it share one fsync, which spares flash storage a sync per record.
    pub sync_interval: Duration,
    /// `storage.checksum`: verify payload CRCs at recovery and on every read. CRCs are always
    /// written; headers, ack slots and block framing are always verified. Off, a flipped bit in
    /// a payload goes unnoticed until an output chokes on the events (they still decode safely);
    /// what it saves is the CRC work, and a seek over blocks larger than the read window.
    pub checksum: bool,
    /// `storage.delete_irrecoverable_chunks`: delete damaged chunk files (after salvaging their
    /// intact blocks) instead of moving them to the quarantine directory.
    pub delete_irrecoverable_chunks: bool,
    /// `storage.keep.rejected`: copy a chunk an output gave up on to the dead-letter directory.
    pub keep_rejected: bool,
    /// `storage.rejected.path`: the dead-letter directory, relative to the root.
    pub rejected_path: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            sync: SyncMode::Normal,
            sync_interval: Duration::from_millis(25),
            checksum: false,
            delete_irrecoverable_chunks: false,
            keep_rejected: false,
            rejected_path: PathBuf::from("rejected"),
        }
    }
}
