//! Weir's filesystem chunk store (`storage.type filesystem`).
//!
//! Chunks live as `<storage.path>/<stream>/<created_ns>-<seq>.wchk`, one directory per input
//! instance (the stream, say `tail.0`) as in Fluent Bit, names sorting in creation order. A
//! chunk file holds a header (tag, signal, creation time, the outputs it is owed to), the
//! delivery state (which of those outputs have settled it), and the events in small checksummed
//! blocks, one or more per appended batch. The format and why it is so:
//! `docs/adr/0003-chunk-file-format.md` and [`mod@format`].
//!
//! Where to start reading: [`Store`] (the whole API: open with recovery, create, read, ack,
//! reject, budgets, statistics, durability), then [`ChunkWriter`]. Below them: [`mod@format`] (bytes),
//! [`scan`] (reading files, stepping over damage), `recovery` (what open does with each file),
//! `sync` (tickets and the batched fsync thread), `index` (the in-memory catalogue).
//!
//! # Use
//!
//! ```no_run
//! # fn main() -> Result<(), weir_storage::Error> {
//! use weir_storage::{Options, Signal, Store};
//! let (store, report) = Store::open("/var/lib/weir", Options::default())?;
//! for chunk in &report.chunks {
//!     let data = store.read(&chunk.id)?; // replay to chunk.owed
//! #   let _ = data;
//! }
//! let mut w = store.create("tail.0", "app.log", Signal::Logs, &["es.0", "http.1"])?;
//! # let events: &[u8] = &[]; let n = 0;
//! let ticket = w.append(events, n)?;
//! store.wait_durable(ticket)?; // storage.sync full: now the client may be acknowledged
//! let info = w.close()?; // routable
//! store.ack(&info.id, "es.0")?;
//! store.reject(&info.id, "http.1")?; // retry limit: dead-lettered if configured; file deleted
//! # Ok(()) }
//! ```
//!
//! # Invariants
//!
//! - **At least once.** A chunk file is deleted only when every output it is owed to has
//!   acknowledged or rejected it. An acknowledgement is written to the file before
//!   [`Store::ack`] returns, so after a restart the chunk is not owed to that output again;
//!   damage to the delivery state can only make outputs get a chunk again, never skip it.
//! - **Damage costs only what it touches.** Every block carries its own CRC and length, so a
//!   torn write or a flipped byte costs the damaged blocks only; the header and the delivery
//!   state are stored twice, so one damaged copy costs nothing.
//! - **Never silent.** Recovery reports every damaged file with the records kept and lost, and
//!   sets the original aside in `quarantine/`; reads count the blocks they drop.
//! - **Recovery never fails because of a chunk file**, and never panics on any bytes: foreign,
//!   empty, truncated and corrupted files are handled (the `chunk_file` fuzz target checks it).
//! - **Bounded resources.** Recovery and reads stream through one file at a time with a window
//!   of one block; the caller reads chunks one by one to keep replay within its memory budget.
//! - **Durability is explicit.** Each append returns a [`Ticket`]; with `storage.sync full` it
//!   becomes durable after a batched fsync ([`Store::wait_durable`], [`Store::durable`]).
//! - File I/O blocks: call the store from blocking threads, never from an async task directly.

#![forbid(unsafe_code)]

mod error;
pub mod format;
mod index;
mod options;
mod recovery;
pub mod scan;
mod store;
mod sync;
mod writer;

pub use error::Error;
pub use index::{ChunkId, ChunkInfo, OutputStats, StorageStats, StreamStats};
pub use options::{Options, SyncMode, LOCK_FILE, QUARANTINE_DIR};
pub use recovery::{DamagedChunk, RecoveryReport};
pub use store::{ChunkData, Settled, Store};
pub use sync::{Durable, Ticket};
pub use weir_event::Signal;
pub use writer::ChunkWriter;
