//! Chunks: the unit of buffering, routing and delivery.

use std::sync::Arc;
use std::time::Instant;

/// The kind of telemetry a chunk holds. Chunks never mix signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    Logs,
    Metrics,
    Traces,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Metrics => "metrics",
            Signal::Traces => "traces",
        }
    }
}

/// Size at which an open chunk is closed and handed to the router (Fluent Bit's 2 MiB).
pub const CHUNK_TARGET_SIZE: usize = 2 * 1024 * 1024;

/// A closed, immutable batch of encoded events that share a tag and a signal.
///
/// Chunks are shared (`Arc`) between the outputs they are routed to; nothing copies the bytes.
#[derive(Debug)]
pub struct Chunk {
    /// Engine-wide unique id, increasing in creation order.
    pub id: u64,
    pub tag: Arc<str>,
    pub signal: Signal,
    /// Encoded events, back to back.
    pub data: Vec<u8>,
    /// Number of events in `data`.
    pub records: usize,
    pub created: Instant,
}

impl Chunk {
    pub fn size(&self) -> usize {
        self.data.len()
    }
    /// Iterates the chunk's events.
    pub fn events(&self) -> crate::Events<'_> {
        crate::Events::new(&self.data)
    }
}
