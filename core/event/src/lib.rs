//! Weir's event model.
//!
//! Events travel as MessagePack in Fluent Bit's format, `[[time, {metadata}], {body}]`, with
//! `time` as the EventTime extension (type 0: big-endian u32 seconds, u32 nanoseconds). A
//! [`Chunk`] is a tag, a [`Signal`] and one contiguous buffer of such events; buffering,
//! forwarding and handing a batch to a plugin are byte copies, never re-encodings.
//!
//! Start reading at [`event`] (the encoded form and how to walk it without decoding), then
//! [`chunk`]. [`view`] looks into a record's map without decoding it; [`value`] converts to and
//! from [`rmpv::Value`] when a plugin must rewrite a record; [`json`] writes records as JSON.
//! [`accessor`] implements Fluent Bit's record accessor (`$key['sub'][0]`). [`metric`] carries
//! metrics samples as events.

#![forbid(unsafe_code)]

pub mod accessor;
pub mod chunk;
pub mod event;
pub mod json;
pub mod metric;
pub mod print;
pub mod time;
pub mod value;
pub mod view;

pub use chunk::{Chunk, Signal};
pub use event::{EventRef, EventWriter, Events};
pub use rmpv::Value;
pub use time::EventTime;

/// Why a MessagePack buffer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated MessagePack data at byte {0}")]
    Truncated(usize),
    #[error("invalid MessagePack marker 0x{marker:02x} at byte {at}")]
    InvalidMarker { marker: u8, at: usize },
    #[error("unexpected MessagePack type at byte {at}: expected {expected}")]
    Unexpected { at: usize, expected: &'static str },
    #[error("MessagePack nesting deeper than {0} levels")]
    TooDeep(usize),
}
