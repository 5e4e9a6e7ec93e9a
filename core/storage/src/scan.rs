//! Reading chunk files: header lookup, ack slots, and a block scanner that streams through a
//! body with a bounded window and steps over damage.
//!
//! Everything here works on any `Read + Seek`, so the same code checks a file on disk, a byte
//! slice in a unit test and fuzzer input. Nothing here panics on any input, and memory stays
//! bounded by the largest block allowed ([`crate::format::MAX_BLOCK_LEN`]), never by the file size.
//!
//! How damage is handled, block by block:
//! - a block header that fails its CRC (or its marker) is unknown damage: the scanner looks for
//!   the next position where a valid block header starts and reports the bytes in between;
//! - a valid header whose payload fails its CRC costs exactly that block, with its record count;
//! - a valid header whose payload runs past the end of the file is a torn tail.
//!
//! Block header CRCs are seeded with the chunk's nonce, so the resynchronisation cannot mistake
//! a block of another chunk (say, a chunk file that was itself logged) for one of this chunk.

use std::io::{self, Read, Seek, SeekFrom, Write};

use crate::format::{
    encode_block, AckState, BlockHeader, Header, HeaderFault, BLOCK_HEADER_LEN, BLOCK_MARKER,
    MAGIC, MAX_HEADER_LEN, SLOTS_LEN, SLOT_LEN,
};

/// Bytes read at a time while scanning.
const WINDOW: usize = 64 * 1024;
/// Reasons kept per file; later ones are only counted.
const MAX_REASONS: usize = 8;

/// What a scanner found at the current position.
#[derive(Debug)]
pub(crate) enum Item<'a> {
    /// A good block. `payload` is `None` when the scanner was asked to skip payloads.
    Block {
        offset: u64,
        /// Bytes of the block, header included.
        len: u64,
        records: u32,
        payload: Option<&'a [u8]>,
    },
    /// Damaged bytes: `records` is known when the block header survived.
    Bad {
        offset: u64,
        len: u64,
        records: Option<u32>,
        kind: BadKind,
    },
}

/// The kinds of damage a scanner reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadKind {
    /// The block header is intact but the payload's CRC does not match.
    PayloadCrc,
    /// Bytes that are not a valid block header, up to the next valid one.
    Garbage,
    /// The file ends inside a block.
    Torn,
}

/// Streams through the blocks of a chunk body.
pub(crate) struct BlockScanner<R> {
    r: R,
    nonce: u32,
    load: bool,
    verify: bool,
    end: u64,
    buf: Vec<u8>,
    head: usize,
    tail: usize,
    /// File offset of `buf[head]`.
    pos: u64,
    done: bool,
}

impl<R: Read + Seek> BlockScanner<R> {
    /// A scanner over `[start, end)` of `r`. With `verify`, payload CRCs are checked (which
    /// needs the payload read); with `load`, payloads are handed out; with neither, payloads are
    /// skipped with a seek and only the framing is checked.
    pub(crate) fn new(
        mut r: R,
        nonce: u32,
        start: u64,
        end: u64,
        load: bool,
        verify: bool,
    ) -> io::Result<Self> {
        r.seek(SeekFrom::Start(start))?;
        Ok(Self {
            r,
            nonce,
            load,
            verify,
            end,
            buf: Vec::new(),
            head: 0,
            tail: 0,
            pos: start,
            done: start >= end,
        })
    }

    fn avail(&self) -> usize {
        self.tail - self.head
    }

    fn remaining(&self) -> u64 {
        self.end.saturating_sub(self.pos)
    }

    /// Makes at least `min(n, remaining)` bytes available from `head`.
    fn fill(&mut self, n: usize) -> io::Result<()> {
        let want = (n as u64).min(self.remaining()) as usize;
        if self.avail() >= want {
            return Ok(());
        }
        if self.head > 0 {
            self.buf.copy_within(self.head..self.tail, 0);
            self.tail -= self.head;
            self.head = 0;
        }
        let size = want.max(WINDOW);
        if self.buf.len() < size {
            self.buf.resize(size, 0);
        }
        while self.tail < want {
            // Read no further than the end we were given, even if the file grew meanwhile.
            let room = (self.remaining().saturating_sub(self.tail as u64))
                .min((self.buf.len() - self.tail) as u64);
            let got = match self
                .r
                .read(&mut self.buf[self.tail..self.tail + room as usize])
            {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if got == 0 {
                // The file is shorter than it was: what is missing is a torn tail.
                self.end = self.pos + self.tail as u64;
                break;
            }
            self.tail += got;
        }
        Ok(())
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        if n <= self.avail() as u64 {
            self.head += n as usize;
        } else {
            self.head = 0;
            self.tail = 0;
            self.r.seek(SeekFrom::Start(self.pos + n))?;
        }
        self.pos += n;
        Ok(())
    }

    /// The next block or damaged region, or `None` at the end.
    pub(crate) fn next_item(&mut self) -> io::Result<Option<Item<'_>>> {
        if self.done || self.pos >= self.end {
            return Ok(None);
        }
        self.fill(BLOCK_HEADER_LEN)?;
        if self.avail() < BLOCK_HEADER_LEN {
            return Ok(Some(self.rest_is_torn(None)));
        }
        let Some(h) = BlockHeader::decode(&self.buf[self.head..self.tail], self.nonce) else {
            return self.resync();
        };
        let offset = self.pos;
        let total = BLOCK_HEADER_LEN as u64 + u64::from(h.len);
        if total > self.remaining() {
            return Ok(Some(self.rest_is_torn(Some(h.records))));
        }
        if !(self.load || self.verify) {
            self.skip(total)?;
            return Ok(Some(Item::Block {
                offset,
                len: total,
                records: h.records,
                payload: None,
            }));
        }
        // `total` is at most MAX_BLOCK_LEN plus a header: the decoder refuses longer blocks.
        self.fill(total as usize)?;
        if (self.avail() as u64) < total {
            return Ok(Some(self.rest_is_torn(Some(h.records))));
        }
        let start = self.head;
        self.head += total as usize;
        self.pos += total;
        let payload = &self.buf[start + BLOCK_HEADER_LEN..start + total as usize];
        if self.verify && !h.payload_ok(payload) {
            return Ok(Some(Item::Bad {
                offset,
                len: total,
                records: Some(h.records),
                kind: BadKind::PayloadCrc,
            }));
        }
        Ok(Some(Item::Block {
            offset,
            len: total,
            records: h.records,
            payload: self.load.then_some(payload),
        }))
    }

    fn rest_is_torn(&mut self, records: Option<u32>) -> Item<'static> {
        self.done = true;
        Item::Bad {
            offset: self.pos,
            len: self.remaining(),
            records,
            kind: BadKind::Torn,
        }
    }

    /// Steps over bytes that are not a valid block header, to the next one that is.
    fn resync(&mut self) -> io::Result<Option<Item<'_>>> {
        let start = self.pos;
        self.skip(1)?;
        loop {
            self.fill(WINDOW)?;
            if self.avail() < BLOCK_HEADER_LEN {
                let len = self.end.saturating_sub(start);
                self.done = true;
                return Ok(Some(Item::Bad {
                    offset: start,
                    len,
                    records: None,
                    kind: BadKind::Garbage,
                }));
            }
            let window = &self.buf[self.head..self.tail];
            let last = window.len() - BLOCK_HEADER_LEN;
            let found = (0..=last).find(|&i| {
                window[i] == BLOCK_MARKER[0]
                    && BlockHeader::decode(&window[i..], self.nonce).is_some()
            });
            match found {
                Some(i) => {
                    self.skip(i as u64)?;
                    return Ok(Some(Item::Bad {
                        offset: start,
                        len: self.pos - start,
                        records: None,
                        kind: BadKind::Garbage,
                    }));
                }
                // Keep the last bytes: a header may start among them.
                None => self.skip(last as u64 + 1)?,
            }
        }
    }
}

/// Where the header copies were found, and in what state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderLookup {
    /// At least one copy is intact.
    Found {
        header: Header,
        /// Length of one copy; the body starts at `2 * len + SLOTS_LEN`.
        len: usize,
        /// Whether copy A (at 0) and copy B (at `len`) are intact.
        intact: [bool; 2],
    },
    /// An intact header of a format version this build does not know.
    Unsupported(u16),
    /// Neither copy is intact; the fault of copy A.
    Lost(HeaderFault),
}

/// Finds an intact header copy in the first bytes of a file.
pub fn find_header(buf: &[u8]) -> HeaderLookup {
    let fault_a = match Header::decode(buf) {
        Ok((header, len)) => {
            let b_ok = buf.get(len..2 * len) == Some(&buf[..len]);
            return HeaderLookup::Found {
                header,
                len,
                intact: [true, b_ok],
            };
        }
        Err(HeaderFault::Unsupported(v)) => return HeaderLookup::Unsupported(v),
        Err(e) => e,
    };
    // Copy B starts where copy A ends, which is its own length: try every place the magic
    // appears within the longest possible header.
    let limit = buf.len().min(MAX_HEADER_LEN + 1);
    for p in 1..limit {
        if buf[p] != MAGIC[0] || !buf[p..].starts_with(&MAGIC) {
            continue;
        }
        match Header::decode(&buf[p..]) {
            Ok((header, len)) if len == p => {
                return HeaderLookup::Found {
                    header,
                    len,
                    intact: [false, true],
                }
            }
            Err(HeaderFault::Unsupported(v)) => return HeaderLookup::Unsupported(v),
            _ => {}
        }
    }
    HeaderLookup::Lost(fault_a)
}

/// The ack slots as read: the best valid state and which slots were intact.
pub(crate) fn read_slots(buf: &[u8], nonce: u32) -> (Option<AckState>, [bool; 2]) {
    let a = AckState::decode_slot(buf, nonce);
    let b = buf
        .get(SLOT_LEN..)
        .and_then(|s| AckState::decode_slot(s, nonce));
    let best = match (a, b) {
        (Some(a), Some(b)) => Some(if b.generation > a.generation { b } else { a }),
        (a, b) => a.or(b),
    };
    (best, [a.is_some(), b.is_some()])
}

/// A summary of a chunk body: good blocks and what was lost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodySummary {
    pub blocks: u64,
    pub records: u64,
    /// Bytes of good blocks, headers included.
    pub bytes: u64,
    /// Records known to be lost (from intact block headers, or from the seal).
    pub lost_records: u64,
    /// Whether some damaged bytes may have held records that could not be counted.
    pub lost_unknown: bool,
    pub damaged_bytes: u64,
    /// Damaged regions found.
    pub damaged_regions: u64,
    /// The first few damage descriptions.
    pub reasons: Vec<String>,
}

impl BodySummary {
    fn note(&mut self, reason: String) {
        if self.reasons.len() < MAX_REASONS {
            self.reasons.push(reason);
        }
    }

    fn add_bad(&mut self, offset: u64, len: u64, records: Option<u32>, kind: BadKind) {
        self.damaged_bytes += len;
        self.damaged_regions += 1;
        match records {
            Some(r) => self.lost_records += u64::from(r),
            None => self.lost_unknown = true,
        }
        let what = match kind {
            BadKind::PayloadCrc => "block payload CRC mismatch",
            BadKind::Garbage => "damaged block framing",
            BadKind::Torn => "torn tail",
        };
        let recs =
            records.map_or_else(|| "unknown records".to_string(), |r| format!("{r} records"));
        self.note(format!("{what} at byte {offset} ({len} bytes, {recs})"));
    }

    /// Compares with the seal written at close: what the seal counts but the scan did not find
    /// was lost, even where the damage hid the record counts.
    fn apply_seal(&mut self, seal: &AckState, body_len: u64) {
        if !seal.sealed {
            return;
        }
        if body_len != seal.body_len || self.records + self.lost_records != seal.records {
            if body_len != seal.body_len {
                self.note(format!(
                    "body is {body_len} bytes, {} when sealed",
                    seal.body_len
                ));
            }
            if self.damaged_regions == 0 {
                self.damaged_regions = 1;
            }
        }
        self.lost_records = seal.records.saturating_sub(self.records);
        self.lost_unknown = false;
    }

    /// Whether the body is exactly what was written.
    pub fn is_clean(&self) -> bool {
        self.damaged_regions == 0
    }
}

/// Everything a check of one chunk file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Examination {
    pub file_len: u64,
    pub header: HeaderLookup,
    /// The delivery state (the best intact ack slot), when one was intact.
    pub acks: Option<AckState>,
    pub slots_intact: [bool; 2],
    pub body: BodySummary,
}

impl Examination {
    /// Whether the file is exactly as written: both header copies, both slots and every block.
    pub fn is_clean(&self) -> bool {
        matches!(
            self.header,
            HeaderLookup::Found {
                intact: [true, true],
                ..
            }
        ) && self.slots_intact == [true, true]
            && self.body.is_clean()
    }

    /// The header, if one copy is intact.
    pub fn header(&self) -> Option<&Header> {
        match &self.header {
            HeaderLookup::Found { header, .. } => Some(header),
            _ => None,
        }
    }

    /// The delivery state to carry on with: the intact slot's, or nothing settled when both
    /// slots were lost (outputs then get the chunk again: at least once, never never).
    pub fn ack_state(&self) -> AckState {
        self.acks.unwrap_or_default()
    }

    /// Why the file is not clean, in a few words.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match &self.header {
            HeaderLookup::Found { intact, .. } => {
                for (i, ok) in intact.iter().enumerate() {
                    if !ok {
                        parts.push(format!("header copy {} damaged", ["A", "B"][i]));
                    }
                }
            }
            HeaderLookup::Unsupported(v) => parts.push(format!("format version {v}")),
            HeaderLookup::Lost(f) => parts.push(format!("both header copies lost ({f})")),
        }
        match self.slots_intact {
            [true, true] => {}
            [false, false] => {
                parts.push("both ack slots lost: every output will get the chunk again".into())
            }
            [a, _] => parts.push(format!("ack slot {} damaged", if a { "B" } else { "A" })),
        }
        parts.extend(self.body.reasons.iter().cloned());
        if self.body.damaged_regions as usize > self.body.reasons.len() {
            parts.push(format!(
                "{} damaged regions in all",
                self.body.damaged_regions
            ));
        }
        parts.join("; ")
    }
}

/// Bytes read from the head of a file to find the headers and slots.
const HEAD_READ: usize = 2 * MAX_HEADER_LEN + SLOTS_LEN;

fn read_head<R: Read + Seek>(r: &mut R, file_len: u64) -> io::Result<Vec<u8>> {
    let n = (file_len.min(HEAD_READ as u64)) as usize;
    let mut buf = vec![0u8; n];
    r.seek(SeekFrom::Start(0))?;
    let mut got = 0;
    while got < n {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// Checks one chunk file. With `verify`, payload CRCs are checked (reading every byte);
/// without, only the headers, the slots and the block framing are (payloads that do not fit the
/// read window are skipped with a seek).
pub fn examine<R: Read + Seek>(mut r: R, file_len: u64, verify: bool) -> io::Result<Examination> {
    let head = read_head(&mut r, file_len)?;
    let lookup = find_header(&head);
    let HeaderLookup::Found { header, len, .. } = &lookup else {
        return Ok(Examination {
            file_len,
            header: lookup,
            acks: None,
            slots_intact: [false, false],
            body: BodySummary::default(),
        });
    };
    let slots_at = 2 * len;
    let (acks, slots_intact) = read_slots(head.get(slots_at..).unwrap_or(&[]), header.nonce);
    let body_start = (slots_at + SLOTS_LEN) as u64;
    let mut body = BodySummary::default();
    let mut scanner = BlockScanner::new(r, header.nonce, body_start, file_len, false, verify)?;
    while let Some(item) = scanner.next_item()? {
        match item {
            Item::Block { records, .. } => {
                body.blocks += 1;
                body.records += u64::from(records);
            }
            Item::Bad {
                offset,
                len,
                records,
                kind,
            } => body.add_bad(offset, len, records, kind),
        }
    }
    let body_len = file_len.saturating_sub(body_start);
    body.bytes = body_len.saturating_sub(body.damaged_bytes);
    if let Some(seal) = &acks {
        body.apply_seal(seal, body_len);
    }
    Ok(Examination {
        file_len,
        header: lookup,
        acks,
        slots_intact,
        body,
    })
}

/// What a salvage wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Salvaged {
    /// The body summary of the damaged file, verified block by block.
    pub body: BodySummary,
    /// The delivery state written to the clean file (sealed).
    pub acks: AckState,
    /// Bytes written.
    pub file_len: u64,
}

/// Writes a clean chunk file holding the intact blocks of a damaged one: the intact header
/// twice, sealed ack slots carrying the delivery state, and every block whose header and payload
/// check out (payload CRCs are always verified here, whatever `storage.checksum` says).
///
/// Returns `None` when the damaged file has no intact header (nothing can be salvaged).
pub fn salvage<R: Read + Seek, W: Write + Seek>(
    r: R,
    exam: &Examination,
    out: &mut W,
) -> io::Result<Option<Salvaged>> {
    let HeaderLookup::Found { header, len, .. } = &exam.header else {
        return Ok(None);
    };
    let Ok(hbytes) = header.encode() else {
        // A decoded header always re-encodes; this only guards against a broken invariant.
        return Ok(None);
    };
    let nonce = header.nonce;
    out.write_all(&hbytes)?;
    out.write_all(&hbytes)?;
    let slots_at = out.stream_position()?;
    out.write_all(&[0u8; SLOTS_LEN])?;
    let body_start = (2 * len + SLOTS_LEN) as u64;
    let mut body = BodySummary::default();
    let mut written = 0u64;
    let mut scanner = BlockScanner::new(r, nonce, body_start, exam.file_len, true, true)?;
    let mut block = Vec::new();
    while let Some(item) = scanner.next_item()? {
        match item {
            Item::Block {
                records, payload, ..
            } => {
                let payload = payload.unwrap_or(&[]);
                block.clear();
                encode_block(&mut block, nonce, payload, records);
                out.write_all(&block)?;
                written += block.len() as u64;
                body.blocks += 1;
                body.records += u64::from(records);
            }
            Item::Bad {
                offset,
                len,
                records,
                kind,
            } => body.add_bad(offset, len, records, kind),
        }
    }
    body.bytes = written;
    let old = exam.ack_state();
    if let Some(seal) = &exam.acks {
        body.apply_seal(seal, exam.file_len.saturating_sub(body_start));
    }
    let acks = AckState {
        generation: old.generation.wrapping_add(1),
        sealed: true,
        settled: old.settled & header.all_outputs_mask(),
        body_len: written,
        records: body.records,
    };
    out.seek(SeekFrom::Start(slots_at))?;
    out.write_all(&acks.encode_slots(nonce))?;
    out.seek(SeekFrom::End(0))?;
    Ok(Some(Salvaged {
        body,
        acks,
        file_len: slots_at + SLOTS_LEN as u64 + written,
    }))
}

/// The byte layout of an intact chunk file, for tools and tests that need to know which bytes
/// belong to which part (say, to predict what a flipped byte costs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub header: Header,
    /// Length of one header copy: copy A is `0..header_len`, copy B `header_len..2*header_len`.
    pub header_len: u64,
    /// Offset of ack slot A; slot B follows it.
    pub slots_at: u64,
    /// Each block's byte range (header included) and record count, in order.
    pub blocks: Vec<(std::ops::Range<u64>, u32)>,
    /// Bytes after the last whole block (a torn tail).
    pub tail: std::ops::Range<u64>,
}

/// Maps the parts of a chunk file held in memory. `None` when no header copy is intact.
pub fn layout(bytes: &[u8]) -> Option<Layout> {
    let HeaderLookup::Found { header, len, .. } = find_header(bytes) else {
        return None;
    };
    let slots_at = 2 * len as u64;
    let body_start = slots_at + SLOTS_LEN as u64;
    let end = bytes.len() as u64;
    let mut blocks = Vec::new();
    let mut tail = end..end;
    let cursor = io::Cursor::new(bytes);
    let mut scanner =
        BlockScanner::new(cursor, header.nonce, body_start, end, false, false).ok()?;
    while let Ok(Some(item)) = scanner.next_item() {
        match item {
            Item::Block {
                offset,
                len,
                records,
                ..
            } => blocks.push((offset..offset + len, records)),
            Item::Bad { offset, .. } => {
                tail = offset..end;
                break;
            }
        }
    }
    Some(Layout {
        header,
        header_len: len as u64,
        slots_at,
        blocks,
        tail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{make_nonce, Header};
    use std::io::Cursor;
    use weir_event::Signal;

    /// A small chunk file: three blocks of 2, 3 and 1 records, the given settled bitmap, sealed
    /// or not.
    fn small_chunk(sealed: bool, settled: u64) -> (Vec<u8>, Vec<Vec<u8>>) {
        let header = Header {
            signal: Signal::Logs,
            created_ns: 1,
            nonce: make_nonce(1, 0),
            tag: "app".into(),
            outputs: vec!["a".into(), "b".into()],
        };
        let h = header.encode().unwrap();
        let mut file = h.clone();
        file.extend_from_slice(&h);
        let payloads: Vec<Vec<u8>> = vec![b"first!".to_vec(), b"second".to_vec(), b"3rd".to_vec()];
        let records = [2u32, 3, 1];
        let mut body = Vec::new();
        for (p, r) in payloads.iter().zip(records) {
            encode_block(&mut body, header.nonce, p, r);
        }
        let acks = AckState {
            generation: 3,
            sealed,
            settled,
            body_len: if sealed { body.len() as u64 } else { 0 },
            records: if sealed { 6 } else { 0 },
        };
        file.extend_from_slice(&acks.encode_slots(header.nonce));
        file.extend_from_slice(&body);
        (file, payloads)
    }

    fn check(bytes: &[u8], verify: bool) -> Examination {
        examine(Cursor::new(bytes), bytes.len() as u64, verify).unwrap()
    }

    fn salvage_bytes(bytes: &[u8]) -> Option<(Vec<u8>, Salvaged)> {
        let exam = check(bytes, true);
        let mut out = Cursor::new(Vec::new());
        let s = salvage(Cursor::new(bytes), &exam, &mut out).unwrap()?;
        Some((out.into_inner(), s))
    }

    /// Payloads of the good blocks, read back through a loading scanner.
    fn payloads(bytes: &[u8]) -> Vec<Vec<u8>> {
        let Some(l) = layout(bytes) else {
            return vec![];
        };
        let start = l.slots_at + SLOTS_LEN as u64;
        let mut s = BlockScanner::new(
            Cursor::new(bytes),
            l.header.nonce,
            start,
            bytes.len() as u64,
            true,
            true,
        )
        .unwrap();
        let mut out = vec![];
        while let Some(item) = s.next_item().unwrap() {
            if let Item::Block {
                payload: Some(p), ..
            } = item
            {
                out.push(p.to_vec());
            }
        }
        out
    }

    #[test]
    fn clean_file_examines_clean() {
        for sealed in [false, true] {
            let (file, p) = small_chunk(sealed, 0b10);
            for verify in [false, true] {
                let e = check(&file, verify);
                assert!(e.is_clean(), "{}", e.describe());
                assert_eq!(e.body.blocks, 3);
                assert_eq!(e.body.records, 6);
                assert_eq!(e.ack_state().settled, 0b10);
                assert_eq!(e.ack_state().sealed, sealed);
            }
            assert_eq!(payloads(&file), p);
            let l = layout(&file).unwrap();
            assert_eq!(l.blocks.len(), 3);
            assert_eq!(l.blocks[2].0.end, file.len() as u64);
            assert_eq!(l.tail, file.len() as u64..file.len() as u64);
        }
    }

    #[test]
    fn salvage_of_clean_file_is_identical_but_sealed() {
        let (file, _) = small_chunk(true, 0b01);
        let (out, s) = salvage_bytes(&file).unwrap();
        assert_eq!(s.body.records, 6);
        let e = check(&out, true);
        assert!(e.is_clean());
        assert_eq!(e.ack_state().settled, 0b01);
        assert_eq!(e.ack_state().generation, 4);
        assert_eq!(out.len(), file.len());
        assert_eq!(payloads(&out), payloads(&file));
    }

    /// Truncation at every byte offset: never a panic, every whole block before the cut kept,
    /// the cut block counted as lost when its header survived (or always, once sealed).
    #[test]
    fn truncated_at_every_offset() {
        for sealed in [false, true] {
            let (file, p) = small_chunk(sealed, 0);
            let l = layout(&file).unwrap();
            for cut in 0..file.len() {
                let bytes = &file[..cut];
                let e = check(bytes, true);
                // An unsealed chunk cut between blocks is indistinguishable from one that was
                // never longer; that is what the seal is for.
                let cut64 = cut as u64;
                let between_blocks = cut64 == l.slots_at + SLOTS_LEN as u64
                    || l.blocks.iter().any(|(r, _)| r.end == cut64);
                assert_eq!(e.is_clean(), !sealed && between_blocks, "cut {cut}");
                let whole: Vec<_> = l
                    .blocks
                    .iter()
                    .filter(|(r, _)| r.end <= cut as u64)
                    .collect();
                let kept = payloads(bytes);
                if (cut as u64) < l.slots_at {
                    // Copy B is cut: copy A still carries the header.
                    assert_eq!(
                        e.header().is_some(),
                        cut as u64 >= l.header_len,
                        "cut {cut}"
                    );
                    continue;
                }
                assert_eq!(kept, p[..whole.len()].to_vec(), "cut {cut}");
                let expect_records: u64 = whole.iter().map(|(_, r)| u64::from(*r)).sum();
                assert_eq!(e.body.records, expect_records, "cut {cut}");
                if sealed && (cut as u64) >= l.slots_at + SLOTS_LEN as u64 {
                    assert_eq!(e.body.lost_records, 6 - expect_records, "cut {cut}");
                    assert!(!e.body.lost_unknown);
                }
                if let Some((out, s)) = salvage_bytes(bytes) {
                    assert_eq!(s.body.records, expect_records);
                    let e2 = check(&out, true);
                    assert!(e2.is_clean(), "cut {cut}: {}", e2.describe());
                    assert_eq!(payloads(&out), kept);
                }
            }
        }
    }

    /// Every single-bit flip: never a panic, and every block whose bytes are intact is kept.
    #[test]
    fn every_single_bit_flip() {
        for sealed in [false, true] {
            let (file, p) = small_chunk(sealed, 0b01);
            let l = layout(&file).unwrap();
            for bit in 0..file.len() * 8 {
                let mut bytes = file.clone();
                let at = (bit / 8) as u64;
                bytes[bit / 8] ^= 1 << (bit % 8);
                let e = check(&bytes, true);
                assert!(!e.is_clean(), "bit {bit}");
                // A single flip never loses the header (two copies) nor the delivery state
                // (two slots).
                let h = e.header().expect("one header copy survives a single flip");
                assert_eq!(h, &l.header);
                assert_eq!(e.ack_state().settled, 0b01, "bit {bit}");
                let intact: Vec<Vec<u8>> = l
                    .blocks
                    .iter()
                    .zip(&p)
                    .filter(|((r, _), _)| !r.contains(&at))
                    .map(|(_, p)| p.clone())
                    .collect();
                assert_eq!(payloads(&bytes), intact, "bit {bit}");
                let hit: Vec<_> = l.blocks.iter().filter(|(r, _)| r.contains(&at)).collect();
                let lost: u64 = hit.iter().map(|(_, r)| u64::from(*r)).sum();
                if sealed || (at >= l.blocks[0].0.start && !e.body.lost_unknown) {
                    assert_eq!(e.body.lost_records, lost, "bit {bit}");
                }
                let (out, s) = salvage_bytes(&bytes).unwrap();
                assert_eq!(s.body.records, 6 - lost, "bit {bit}");
                let e2 = check(&out, true);
                assert!(e2.is_clean(), "bit {bit}: {}", e2.describe());
                assert_eq!(e2.ack_state().settled, 0b01);
                assert_eq!(payloads(&out), intact);
            }
        }
    }

    #[test]
    fn flips_in_payload_go_unnoticed_without_verify_but_framing_is_checked() {
        let (file, _) = small_chunk(true, 0);
        let l = layout(&file).unwrap();
        let mut bytes = file.clone();
        let payload_byte = l.blocks[1].0.start as usize + BLOCK_HEADER_LEN;
        bytes[payload_byte] ^= 0x40;
        assert!(check(&bytes, false).is_clean());
        assert!(!check(&bytes, true).is_clean());
        let mut bytes = file.clone();
        bytes[l.blocks[1].0.start as usize + 5] ^= 0x01;
        let e = check(&bytes, false);
        assert!(!e.is_clean());
        assert_eq!(e.body.records, 3);
    }

    #[test]
    fn foreign_and_empty_bytes() {
        for bytes in [
            &b""[..],
            b"\x89WCHK",
            b"hello, world",
            &[0u8; 200][..],
            &[0xffu8; 5000][..],
        ] {
            let e = check(bytes, true);
            assert!(e.header().is_none());
            assert!(salvage_bytes(bytes).is_none());
            assert!(layout(bytes).is_none());
        }
    }

    #[test]
    fn a_block_from_another_chunk_does_not_validate() {
        let (file, _) = small_chunk(false, 0);
        // The same bytes, but a block encoded with another nonce appended.
        let mut bytes = file.clone();
        encode_block(&mut bytes, 12345, b"intruder", 1);
        let e = check(&bytes, true);
        assert_eq!(e.body.records, 6);
        assert!(!e.is_clean());
    }

    #[test]
    fn large_blocks_stream_through_a_small_window() {
        let (mut file, _) = small_chunk(false, 0);
        let nonce = layout(&file).unwrap().header.nonce;
        let big = vec![7u8; 3 * WINDOW + 17];
        encode_block(&mut file, nonce, &big, 1);
        encode_block(&mut file, nonce, b"after", 1);
        // Damage the big block's header: the scanner must slide over its payload to "after".
        let l = layout(&file).unwrap();
        let at = l.blocks[3].0.start as usize;
        let mut bytes = file.clone();
        bytes[at + 1] ^= 1;
        let p = payloads(&bytes);
        assert_eq!(p.last().unwrap(), b"after");
        assert_eq!(p.len(), 4);
        let e = check(&bytes, false);
        assert_eq!(e.body.records, 7);
        assert!(e.body.lost_unknown);
    }
}
