//! Appending to a chunk: batches become checksummed blocks, written with one positioned write.
//!
//! A batch is one block when it is at most [`BLOCK_TARGET_LEN`] bytes (the usual case: the
//! caller's record count is taken as given and the events are not walked). A larger batch is cut
//! at event boundaries, which needs the events to be well formed, so that damage to the file
//! later costs at most one small block.
//!
//! A failed write is undone by truncating the file back to where the batch started; if even that
//! fails the writer refuses further appends, and recovery at the next start drops the partial
//! block.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use weir_event::event::read_event;

use crate::format::{encode_block, AckState, BLOCK_TARGET_LEN, MAX_BLOCK_LEN};
use crate::index::{ChunkId, ChunkInfo};
use crate::store::Store;
use crate::sync::Ticket;
use crate::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Failed,
    Closed,
}

/// Appends batches of events to one chunk. Made by [`Store::create`]; finish with
/// [`ChunkWriter::close`], after which the chunk is routable.
///
/// Dropping a writer without closing it does no I/O (so a crash and a drop look the same on
/// disk): the chunk stays, unsealed, and is treated as closed from then on.
#[derive(Debug)]
pub struct ChunkWriter {
    store: Store,
    id: ChunkId,
    path: PathBuf,
    file: Arc<File>,
    nonce: u32,
    slots_at: u64,
    body_start: u64,
    len: u64,
    records: u64,
    generation: u32,
    last_ticket: Ticket,
    scratch: Vec<u8>,
    state: State,
}

impl ChunkWriter {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        store: Store,
        id: ChunkId,
        path: PathBuf,
        file: Arc<File>,
        nonce: u32,
        slots_at: u64,
        body_start: u64,
        last_ticket: Ticket,
    ) -> Self {
        Self {
            store,
            id,
            path,
            file,
            nonce,
            slots_at,
            body_start,
            len: body_start,
            records: 0,
            generation: 1,
            last_ticket,
            scratch: Vec::new(),
            state: State::Open,
        }
    }

    /// The chunk being written.
    pub fn id(&self) -> &ChunkId {
        &self.id
    }

    /// Size of the chunk file so far.
    pub fn bytes(&self) -> u64 {
        self.len
    }

    /// Records appended so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The ticket of the latest append (durable once that append is).
    pub fn last_ticket(&self) -> Ticket {
        self.last_ticket
    }

    /// Appends encoded events (`records` of them) and returns the append's durability ticket.
    ///
    /// Batches larger than 64 KiB are split at event boundaries and must hold well-formed
    /// events ([`Error::InvalidEvents`] otherwise); their record counts are then taken from the
    /// events themselves. Nothing is written when the batch is rejected.
    pub fn append(&mut self, events: &[u8], records: usize) -> Result<Ticket, Error> {
        if self.state != State::Open {
            return Err(Error::WriterFailed(self.id.clone()));
        }
        if events.is_empty() {
            return Ok(self.last_ticket);
        }
        self.scratch.clear();
        let records = encode_batch(&mut self.scratch, self.nonce, events, records)?;
        if let Err(e) = self.file.write_all_at(&self.scratch, self.len) {
            if self.file.set_len(self.len).is_err() {
                self.state = State::Failed;
            }
            return Err(Error::io("append to", &self.path, e));
        }
        let added = self.scratch.len() as u64;
        self.len += added;
        self.records += records;
        // Large batches should not pin their buffer for the chunk's lifetime.
        if self.scratch.capacity() > 4 * BLOCK_TARGET_LEN {
            self.scratch = Vec::new();
        }
        self.store.note_append(&self.id, added, records);
        self.last_ticket = self.store.syncer().written(&self.path, Some(&self.file));
        Ok(self.last_ticket)
    }

    /// Finishes the chunk: writes the seal (body length and record count, so recovery can tell
    /// a complete chunk from a cut one) and makes the chunk routable.
    ///
    /// On an error the chunk is closed and routable all the same, unsealed (recovery then
    /// checks it without the seal); the error says the seal could not be written.
    pub fn close(mut self) -> Result<ChunkInfo, Error> {
        let was_open = self.state == State::Open;
        self.state = State::Closed;
        let mut seal_error = None;
        if was_open {
            let acks = AckState {
                generation: self.generation + 1,
                sealed: true,
                settled: 0,
                body_len: self.len - self.body_start,
                records: self.records,
            };
            match self
                .file
                .write_all_at(&acks.encode_slots(self.nonce), self.slots_at)
            {
                Ok(()) => {
                    self.generation = acks.generation;
                    self.store.syncer().written(&self.path, Some(&self.file));
                }
                Err(e) => seal_error = Some(Error::io("seal", &self.path, e)),
            }
        }
        let info = self
            .store
            .finish(&self.id, self.generation, seal_error.is_none() && was_open);
        if let Some(e) = seal_error {
            return Err(e);
        }
        info.ok_or_else(|| Error::UnknownChunk(self.id.clone()))
    }
}

impl Drop for ChunkWriter {
    fn drop(&mut self) {
        if self.state != State::Closed {
            self.store.finish(&self.id, self.generation, false);
        }
    }
}

/// Encodes a batch as one or more blocks; returns the records written.
pub(crate) fn encode_batch(
    out: &mut Vec<u8>,
    nonce: u32,
    events: &[u8],
    records: usize,
) -> Result<u64, Error> {
    if events.len() <= BLOCK_TARGET_LEN {
        // At most one record per byte: a larger count is the caller's mistake, kept in range.
        let r = u32::try_from(records.min(events.len())).unwrap_or(u32::MAX);
        encode_block(out, nonce, events, r);
        return Ok(u64::from(r));
    }
    let mut start = 0;
    let mut pos = 0;
    let mut n = 0u32;
    let mut total = 0u64;
    let before = out.len();
    while pos < events.len() {
        let end = match read_event(events, pos) {
            Ok((_, end)) => end,
            Err(e) => {
                out.truncate(before);
                return Err(Error::InvalidEvents(e));
            }
        };
        if end - pos > MAX_BLOCK_LEN {
            out.truncate(before);
            return Err(Error::EventTooLarge(end - pos));
        }
        if end - start > BLOCK_TARGET_LEN && n > 0 {
            encode_block(out, nonce, &events[start..pos], n);
            total += u64::from(n);
            start = pos;
            n = 0;
        }
        n += 1;
        pos = end;
    }
    if n > 0 {
        encode_block(out, nonce, &events[start..], n);
        total += u64::from(n);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::BlockHeader;
    use crate::format::BLOCK_HEADER_LEN;
    use weir_event::{EventTime, EventWriter};

    fn events(n: usize, body_len: usize) -> EventWriter {
        let mut w = EventWriter::new();
        let mut body = Vec::new();
        rmp::encode::write_map_len(&mut body, 1).unwrap();
        rmp::encode::write_str(&mut body, "log").unwrap();
        rmp::encode::write_str(&mut body, &"x".repeat(body_len)).unwrap();
        for i in 0..n {
            w.push(EventTime::new(i as i64, 0), &[], &body);
        }
        w
    }

    fn blocks(buf: &[u8], nonce: u32) -> Vec<(usize, u32)> {
        let mut out = vec![];
        let mut pos = 0;
        while pos < buf.len() {
            let h = BlockHeader::decode(&buf[pos..], nonce).unwrap();
            let payload = &buf[pos + BLOCK_HEADER_LEN..pos + BLOCK_HEADER_LEN + h.len as usize];
            assert!(h.payload_ok(payload));
            assert_eq!(
                weir_event::event::count_events(payload).unwrap(),
                h.records as usize
            );
            out.push((h.len as usize, h.records));
            pos += BLOCK_HEADER_LEN + h.len as usize;
        }
        out
    }

    #[test]
    fn small_batch_is_one_block() {
        let w = events(10, 200);
        let mut out = vec![];
        assert_eq!(encode_batch(&mut out, 1, &w.buf, 10).unwrap(), 10);
        assert_eq!(blocks(&out, 1), vec![(w.buf.len(), 10)]);
    }

    #[test]
    fn large_batch_splits_at_event_boundaries() {
        let w = events(1000, 250);
        let mut out = vec![];
        assert_eq!(encode_batch(&mut out, 1, &w.buf, 1000).unwrap(), 1000);
        let b = blocks(&out, 1);
        assert!(b.len() >= 4);
        assert!(b.iter().all(|(len, _)| *len <= BLOCK_TARGET_LEN));
        assert_eq!(b.iter().map(|(_, r)| *r as usize).sum::<usize>(), 1000);
    }

    #[test]
    fn one_huge_event_gets_its_own_block() {
        let mut w = events(1, 100);
        let big = events(1, 100_000);
        w.buf.extend_from_slice(&big.buf);
        w.buf.extend_from_slice(&events(1, 100).buf);
        let mut out = vec![];
        assert_eq!(encode_batch(&mut out, 1, &w.buf, 3).unwrap(), 3);
        let b = blocks(&out, 1);
        assert_eq!(b.len(), 3);
        assert_eq!(b[1].0, big.buf.len());
    }

    #[test]
    fn malformed_large_batch_is_refused_whole() {
        let mut w = events(500, 250);
        w.buf.push(0xc1);
        let mut out = vec![1, 2, 3];
        assert!(matches!(
            encode_batch(&mut out, 1, &w.buf, 501),
            Err(Error::InvalidEvents(_))
        ));
        assert_eq!(out, vec![1, 2, 3]);
    }
}
