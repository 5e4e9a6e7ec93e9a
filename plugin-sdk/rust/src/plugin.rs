//! The traits a plugin implements: [`Plugin`] (description and start-up) and one of
//! [`Filter`], [`Input`] or [`Output`].
//!
//! The host makes one instance per configured section: it calls `init` once, then the kind's
//! method for each batch, always from one thread, so `&mut self` needs no locking.

use crate::{Batch, Batches, Error, FlushError, Info};

/// Description and start-up, common to every kind of plugin.
pub trait Plugin: Sized + 'static {
    /// Name, version, description, event format and parameters (see [`Info`]).
    const INFO: Info;

    /// Builds the instance once the host has checked the configuration: read parameters with
    /// [`crate::config`], restore [`crate::state`]. An error stops Weir from starting (or
    /// refuses a reload), with the message in the log.
    fn init() -> Result<Self, Error>;
}

/// A filter: takes a batch, writes what goes on into `out`.
///
/// Events not written are dropped; `out.writer()` keeps the batch's tag and
/// `out.writer_for(tag)` sends events on under another tag. An error applies the instance's
/// `on_error` policy to the whole batch.
pub trait Filter: Plugin {
    fn filter(&mut self, batch: &Batch<'_>, out: &mut Batches) -> Result<(), Error>;
}

/// An input: called every `interval`, writes the events collected since the last call into
/// `out` (`out.writer()` uses the input's `tag`). [`crate::emit`] sends events at once.
pub trait Input: Plugin {
    fn collect(&mut self, out: &mut Batches) -> Result<(), Error>;
}

/// An output: delivers a batch. [`FlushError::Retry`] asks the host to try again later,
/// [`FlushError::Fatal`] drops the batch.
pub trait Output: Plugin {
    fn flush(&mut self, batch: &Batch<'_>) -> Result<(), FlushError>;
}
