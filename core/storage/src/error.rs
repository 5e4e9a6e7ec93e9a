//! The crate's one error type.

use std::io;
use std::path::PathBuf;

use crate::format::{LimitError, MAX_BLOCK_LEN};
use crate::index::ChunkId;

/// Why a store operation failed. Recovery never returns these for a damaged chunk file: it
/// reports them in [`crate::RecoveryReport`] instead.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("invalid stream name '{0}': it must be one path component, not start with a dot, and not name the quarantine or dead-letter directory")]
    InvalidStream(String),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error("a chunk must be owed to at least one output")]
    NoOutputs,
    #[error("output '{0}' is listed twice")]
    DuplicateOutput(String),
    #[error("no chunk {0} in the store")]
    UnknownChunk(ChunkId),
    #[error("chunk {chunk} was not routed to output '{output}'")]
    UnknownOutput { chunk: ChunkId, output: String },
    #[error("chunk {0} is still being written")]
    StillOpen(ChunkId),
    #[error("an event of {0} bytes is larger than the {MAX_BLOCK_LEN}-byte limit")]
    EventTooLarge(usize),
    #[error("invalid events in the batch: {0}")]
    InvalidEvents(weir_event::DecodeError),
    #[error("chunk {0}: an earlier write failed and could not be undone; no more appends")]
    WriterFailed(ChunkId),
    #[error("fsync failed ({0}); data written since then is not known to be durable")]
    SyncFailed(String),
    #[error("{0} is in use by another process (its lock file is held)")]
    Locked(PathBuf),
    #[error("cannot start the sync thread: {0}")]
    Thread(io::Error),
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
