//! The chunk file format, byte for byte: encoding and decoding, with no I/O.
//!
//! A chunk file is laid out as follows (all integers little-endian; the decision record
//! `docs/adr/0003-chunk-file-format.md` says why):
//!
//! ```text
//! header copy A   (header_len bytes)   magic, version, tag, signal, creation time, outputs, CRC
//! header copy B   (header_len bytes)   the same bytes again
//! ack slot A      (40 bytes)           generation, sealed flag, settled-outputs bitmap, CRC
//! ack slot B      (40 bytes)           the same state, written in the same write
//! block*          (20 + payload bytes) marker, payload length, records, payload CRC, header CRC
//! ```
//!
//! Header (copy A at offset 0, copy B at offset `header_len`):
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 8 | magic `89 57 43 48 4B 0D 0A 1A` (`\x89WCHK\r\n\x1a`) |
//! | 8 | 2 | format version (1) |
//! | 10 | 2 | `header_len`: the whole header, CRC included |
//! | 12 | 1 | signal: 0 logs, 1 metrics, 2 traces |
//! | 13 | 1 | number of outputs `n` (at most 64) |
//! | 14 | 2 | tag length |
//! | 16 | 8 | creation time, nanoseconds since the Unix epoch |
//! | 24 | 4 | nonce: seeds the block and ack CRCs, so blocks of another chunk never validate here |
//! | 28 | .. | tag (UTF-8), then `n` times: name length (1 byte) and output name (UTF-8) |
//! | header_len - 4 | 4 | CRC-32 of every preceding header byte |
//!
//! Every future version keeps the magic, version and `header_len` at these offsets and ends the
//! header with a CRC-32 of what precedes it, so a reader can tell a newer file from a damaged one.
//!
//! Ack slot (40 bytes): generation (u32), flags (u32, bit 0: sealed), settled-outputs bitmap
//! (u64, bit `i` for output `i` of the header), sealed body length (u64), sealed record count
//! (u64), reserved (u32, zero), CRC-32 of the nonce and the 36 bytes before it.
//!
//! Block header (20 bytes): marker `WBLK`, payload length (u32), record count (u32), CRC-32 of
//! the payload (u32), CRC-32 of the nonce and the 16 bytes before it (u32). The payload is encoded
//! events back to back, whole events only.

use weir_event::Signal;

/// First bytes of every chunk file. The high first byte and the CR LF and ^Z catch files mangled
/// by text-mode transfers, as in PNG.
pub const MAGIC: [u8; 8] = *b"\x89WCHK\r\n\x1a";
/// The format version this crate writes and reads.
pub const VERSION: u16 = 1;
/// Header bytes before the tag.
pub const HEADER_FIXED_LEN: usize = 28;
/// Longest tag a chunk may carry, in bytes.
pub const MAX_TAG_LEN: usize = 4096;
/// Most outputs one chunk can be owed to (the width of the settled bitmap).
pub const MAX_OUTPUTS: usize = 64;
/// Longest output name, in bytes.
pub const MAX_OUTPUT_NAME_LEN: usize = 255;
/// Longest possible header.
pub const MAX_HEADER_LEN: usize =
    HEADER_FIXED_LEN + MAX_TAG_LEN + MAX_OUTPUTS * (1 + MAX_OUTPUT_NAME_LEN) + 4;
/// Size of one ack slot.
pub const SLOT_LEN: usize = 40;
/// Size of the two ack slots together.
pub const SLOTS_LEN: usize = 2 * SLOT_LEN;
/// Size of a block header.
pub const BLOCK_HEADER_LEN: usize = 20;
/// First bytes of every block header.
pub const BLOCK_MARKER: [u8; 4] = *b"WBLK";
/// An appended batch is split into blocks of at most this many payload bytes, at event
/// boundaries, so that damage costs at most this much data. A single larger event gets a block
/// of its own.
pub const BLOCK_TARGET_LEN: usize = 64 * 1024;
/// Largest block payload accepted (the largest single event a chunk can hold). Readers reject
/// longer lengths as damage, which also bounds the memory a hostile file can make them use.
pub const MAX_BLOCK_LEN: usize = 64 * 1024 * 1024;
/// File name extension of chunk files.
pub const EXTENSION: &str = "wchk";

const SEALED: u32 = 1;

/// Metadata at the head of a chunk file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub signal: Signal,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_ns: u64,
    /// Seeds the CRCs of blocks and ack slots: a block copied from another chunk (or logged into
    /// this one) does not validate here.
    pub nonce: u32,
    pub tag: String,
    /// Outputs the chunk is owed to, in bitmap order.
    pub outputs: Vec<String>,
}

/// Why a header could not be encoded: a limit of the format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("tag is {0} bytes long; the limit is {MAX_TAG_LEN}")]
    TagTooLong(usize),
    #[error("{0} outputs; a chunk can be owed to at most {MAX_OUTPUTS}")]
    TooManyOutputs(usize),
    #[error("output name '{0}' is empty or longer than {MAX_OUTPUT_NAME_LEN} bytes")]
    OutputName(String),
}

/// What is wrong with the bytes where a header should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderFault {
    #[error("file too short for a header")]
    Short,
    #[error("no chunk file magic")]
    BadMagic,
    #[error("impossible header length {0}")]
    BadLength(usize),
    #[error("header CRC mismatch")]
    BadCrc,
    #[error("format version {0} is not supported by this build")]
    Unsupported(u16),
    #[error("malformed header: {0}")]
    Malformed(&'static str),
}

fn signal_code(s: Signal) -> u8 {
    match s {
        Signal::Logs => 0,
        Signal::Metrics => 1,
        Signal::Traces => 2,
    }
}

fn signal_from(code: u8) -> Option<Signal> {
    match code {
        0 => Some(Signal::Logs),
        1 => Some(Signal::Metrics),
        2 => Some(Signal::Traces),
        _ => None,
    }
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn crc_seeded(nonce: u32, bytes: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&nonce.to_le_bytes());
    h.update(bytes);
    h.finalize()
}

impl Header {
    /// Checks the format's limits on the tag and the outputs.
    pub fn check_limits(tag: &str, outputs: &[&str]) -> Result<(), LimitError> {
        if tag.len() > MAX_TAG_LEN {
            return Err(LimitError::TagTooLong(tag.len()));
        }
        if outputs.len() > MAX_OUTPUTS {
            return Err(LimitError::TooManyOutputs(outputs.len()));
        }
        if let Some(o) = outputs
            .iter()
            .find(|o| o.is_empty() || o.len() > MAX_OUTPUT_NAME_LEN)
        {
            return Err(LimitError::OutputName((*o).to_string()));
        }
        Ok(())
    }

    /// Length of the encoded header.
    pub fn encoded_len(&self) -> usize {
        HEADER_FIXED_LEN
            + self.tag.len()
            + self.outputs.iter().map(|o| 1 + o.len()).sum::<usize>()
            + 4
    }

    /// Encodes one copy of the header.
    pub fn encode(&self) -> Result<Vec<u8>, LimitError> {
        let outputs: Vec<&str> = self.outputs.iter().map(String::as_str).collect();
        Self::check_limits(&self.tag, &outputs)?;
        let len = self.encoded_len();
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        // Both fit: the limits above keep the header under MAX_HEADER_LEN < 2^16 and the
        // counts under 2^8 and 2^16.
        out.extend_from_slice(&(len as u16).to_le_bytes());
        out.push(signal_code(self.signal));
        out.push(self.outputs.len() as u8);
        out.extend_from_slice(&(self.tag.len() as u16).to_le_bytes());
        out.extend_from_slice(&self.created_ns.to_le_bytes());
        out.extend_from_slice(&self.nonce.to_le_bytes());
        out.extend_from_slice(self.tag.as_bytes());
        for o in &self.outputs {
            out.push(o.len() as u8);
            out.extend_from_slice(o.as_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    /// Decodes one header copy at the start of `buf`, returning it and its length.
    pub fn decode(buf: &[u8]) -> Result<(Header, usize), HeaderFault> {
        if buf.len() < HEADER_FIXED_LEN + 4 {
            return Err(if buf.len() >= 8 && buf[..8] != MAGIC {
                HeaderFault::BadMagic
            } else {
                HeaderFault::Short
            });
        }
        if buf[..8] != MAGIC {
            return Err(HeaderFault::BadMagic);
        }
        let len = usize::from(le16(buf, 10));
        if !(HEADER_FIXED_LEN + 4..=MAX_HEADER_LEN).contains(&len) {
            return Err(HeaderFault::BadLength(len));
        }
        if buf.len() < len {
            return Err(HeaderFault::Short);
        }
        let body = &buf[..len - 4];
        if crc32fast::hash(body) != le32(buf, len - 4) {
            return Err(HeaderFault::BadCrc);
        }
        // Checked after the CRC, so a flipped version bit reads as damage, not as a newer file.
        let version = le16(buf, 8);
        if version != VERSION {
            return Err(HeaderFault::Unsupported(version));
        }
        let signal = signal_from(buf[12]).ok_or(HeaderFault::Malformed("unknown signal"))?;
        let n = usize::from(buf[13]);
        if n > MAX_OUTPUTS {
            return Err(HeaderFault::Malformed("too many outputs"));
        }
        let tag_len = usize::from(le16(buf, 14));
        let created_ns = le64(buf, 16);
        let nonce = le32(buf, 24);
        let mut pos = HEADER_FIXED_LEN;
        let tag = take_str(body, &mut pos, tag_len)?;
        let mut outputs = Vec::with_capacity(n);
        for _ in 0..n {
            let l = usize::from(*body.get(pos).ok_or(HeaderFault::Malformed("outputs"))?);
            pos += 1;
            outputs.push(take_str(body, &mut pos, l)?);
        }
        if pos != body.len() {
            return Err(HeaderFault::Malformed("trailing bytes"));
        }
        Ok((
            Header {
                signal,
                created_ns,
                nonce,
                tag,
                outputs,
            },
            len,
        ))
    }

    /// The bitmap with one bit set per output.
    pub fn all_outputs_mask(&self) -> u64 {
        mask_for(self.outputs.len())
    }
}

/// The bitmap with the low `n` bits set.
pub fn mask_for(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

fn take_str(body: &[u8], pos: &mut usize, len: usize) -> Result<String, HeaderFault> {
    let s = body
        .get(*pos..*pos + len)
        .ok_or(HeaderFault::Malformed("field runs past the header"))?;
    *pos += len;
    String::from_utf8(s.to_vec()).map_err(|_| HeaderFault::Malformed("text is not UTF-8"))
}

/// Delivery state of a chunk: which outputs are settled (acknowledged or given up), and whether
/// the chunk was sealed by a clean close, with its length then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AckState {
    /// Increases with every write; recovery takes the valid slot with the highest.
    pub generation: u32,
    pub sealed: bool,
    /// Bit `i` set: output `i` of the header no longer needs the chunk.
    pub settled: u64,
    /// Body bytes (blocks) when sealed.
    pub body_len: u64,
    /// Records when sealed.
    pub records: u64,
}

impl AckState {
    /// Encodes one slot.
    pub fn encode_slot(&self, nonce: u32) -> [u8; SLOT_LEN] {
        let mut s = [0u8; SLOT_LEN];
        s[0..4].copy_from_slice(&self.generation.to_le_bytes());
        let flags = if self.sealed { SEALED } else { 0 };
        s[4..8].copy_from_slice(&flags.to_le_bytes());
        s[8..16].copy_from_slice(&self.settled.to_le_bytes());
        s[16..24].copy_from_slice(&self.body_len.to_le_bytes());
        s[24..32].copy_from_slice(&self.records.to_le_bytes());
        let crc = crc_seeded(nonce, &s[..36]);
        s[36..40].copy_from_slice(&crc.to_le_bytes());
        s
    }

    /// Encodes both slots with the same state. They are written together: a torn write leaves
    /// one of them valid (new or old state), and a flipped bit in one leaves the other.
    pub fn encode_slots(&self, nonce: u32) -> [u8; SLOTS_LEN] {
        let one = self.encode_slot(nonce);
        let mut both = [0u8; SLOTS_LEN];
        both[..SLOT_LEN].copy_from_slice(&one);
        both[SLOT_LEN..].copy_from_slice(&one);
        both
    }

    /// Decodes one slot; `None` when its CRC does not match or it uses unknown flags.
    pub fn decode_slot(buf: &[u8], nonce: u32) -> Option<AckState> {
        let s = buf.get(..SLOT_LEN)?;
        if crc_seeded(nonce, &s[..36]) != le32(s, 36) {
            return None;
        }
        let flags = le32(s, 4);
        if flags & !SEALED != 0 || le32(s, 32) != 0 {
            return None;
        }
        Some(AckState {
            generation: le32(s, 0),
            sealed: flags & SEALED != 0,
            settled: le64(s, 8),
            body_len: le64(s, 16),
            records: le64(s, 24),
        })
    }
}

/// The framing of one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    pub len: u32,
    pub records: u32,
    pub crc: u32,
}

impl BlockHeader {
    /// The header of a block holding `payload`.
    pub fn for_payload(payload: &[u8], records: u32) -> BlockHeader {
        BlockHeader {
            // Callers never build blocks over MAX_BLOCK_LEN, which fits in u32.
            len: payload.len() as u32,
            records,
            crc: crc32fast::hash(payload),
        }
    }

    pub fn encode(&self, nonce: u32) -> [u8; BLOCK_HEADER_LEN] {
        let mut h = [0u8; BLOCK_HEADER_LEN];
        h[0..4].copy_from_slice(&BLOCK_MARKER);
        h[4..8].copy_from_slice(&self.len.to_le_bytes());
        h[8..12].copy_from_slice(&self.records.to_le_bytes());
        h[12..16].copy_from_slice(&self.crc.to_le_bytes());
        let crc = crc_seeded(nonce, &h[..16]);
        h[16..20].copy_from_slice(&crc.to_le_bytes());
        h
    }

    /// Decodes a block header; `None` unless the marker, the header CRC and the length limit
    /// all check out.
    pub fn decode(buf: &[u8], nonce: u32) -> Option<BlockHeader> {
        let h = buf.get(..BLOCK_HEADER_LEN)?;
        if h[..4] != BLOCK_MARKER || crc_seeded(nonce, &h[..16]) != le32(h, 16) {
            return None;
        }
        let len = le32(h, 4);
        if len as usize > MAX_BLOCK_LEN {
            return None;
        }
        Some(BlockHeader {
            len,
            records: le32(h, 8),
            crc: le32(h, 12),
        })
    }

    /// Whether `payload` matches the CRC.
    pub fn payload_ok(&self, payload: &[u8]) -> bool {
        crc32fast::hash(payload) == self.crc
    }
}

/// Appends a block (header and payload) to `out`.
pub fn encode_block(out: &mut Vec<u8>, nonce: u32, payload: &[u8], records: u32) {
    out.extend_from_slice(&BlockHeader::for_payload(payload, records).encode(nonce));
    out.extend_from_slice(payload);
}

/// Name of a chunk file: creation time and sequence number, zero-padded so that names sort in
/// creation order.
pub fn file_name(created_ns: u64, seq: u32) -> String {
    format!("{created_ns:020}-{seq:010}.{EXTENSION}")
}

/// Parses a chunk file name made by [`file_name`].
pub fn parse_file_name(name: &str) -> Option<(u64, u32)> {
    let b = name.as_bytes();
    if b.len() != 36 || b[20] != b'-' || &name[31..] != ".wchk" {
        return None;
    }
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if !digits(&b[..20]) || !digits(&b[21..31]) {
        return None;
    }
    Some((name[..20].parse().ok()?, name[21..31].parse().ok()?))
}

/// A nonce that differs between chunks: a SplitMix64 step over the chunk's identity and the
/// process id. It needs no secrecy, only to differ.
pub fn make_nonce(created_ns: u64, seq: u32) -> u32 {
    let mut z = created_ns ^ (u64::from(seq) << 32) ^ u64::from(std::process::id()).rotate_left(17);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z ^ (z >> 32)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            signal: Signal::Metrics,
            created_ns: 1_700_000_000_123_456_789,
            nonce: 0xdead_beef,
            tag: "kube.var.log".into(),
            outputs: vec!["es.0".into(), "http.1".into()],
        }
    }

    #[test]
    fn header_round_trip() {
        let h = header();
        let bytes = h.encode().unwrap();
        assert_eq!(bytes.len(), h.encoded_len());
        let (back, len) = Header::decode(&bytes).unwrap();
        assert_eq!(back, h);
        assert_eq!(len, bytes.len());
        // Trailing bytes after the header do not matter.
        let mut more = bytes.clone();
        more.extend_from_slice(b"xyz");
        assert_eq!(Header::decode(&more).unwrap().0, h);
    }

    #[test]
    fn header_limits() {
        assert!(Header::check_limits(&"t".repeat(MAX_TAG_LEN), &["a"]).is_ok());
        assert!(matches!(
            Header::check_limits(&"t".repeat(MAX_TAG_LEN + 1), &["a"]),
            Err(LimitError::TagTooLong(_))
        ));
        let many: Vec<String> = (0..65).map(|i| format!("o{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(matches!(
            Header::check_limits("t", &many),
            Err(LimitError::TooManyOutputs(65))
        ));
        assert!(Header::check_limits("t", &many[..64]).is_ok());
        assert!(Header::check_limits("t", &[""]).is_err());
        // The largest header still fits the u16 length field.
        let big = Header {
            tag: "t".repeat(MAX_TAG_LEN),
            outputs: (0..64).map(|i| format!("{i:0>255}")).collect(),
            ..header()
        };
        let bytes = big.encode().unwrap();
        assert_eq!(bytes.len(), MAX_HEADER_LEN);
        assert_eq!(Header::decode(&bytes).unwrap().0, big);
    }

    #[test]
    fn header_faults() {
        let bytes = header().encode().unwrap();
        for cut in 0..bytes.len() {
            assert!(Header::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(Header::decode(&b).is_err(), "bit {bit}");
        }
        assert_eq!(
            Header::decode(b"hello world, not a chunk file at all"),
            Err(HeaderFault::BadMagic)
        );
        // A newer version with a valid CRC is reported as such, not as damage.
        let mut newer = bytes.clone();
        newer[8] = 2;
        let n = newer.len();
        let crc = crc32fast::hash(&newer[..n - 4]);
        newer[n - 4..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(Header::decode(&newer), Err(HeaderFault::Unsupported(2)));
    }

    #[test]
    fn slots_round_trip_and_reject_damage() {
        let s = AckState {
            generation: 7,
            sealed: true,
            settled: 0b101,
            body_len: 12345,
            records: 99,
        };
        let both = s.encode_slots(42);
        assert_eq!(AckState::decode_slot(&both[..SLOT_LEN], 42), Some(s));
        assert_eq!(AckState::decode_slot(&both[SLOT_LEN..], 42), Some(s));
        // Another chunk's nonce does not validate.
        assert_eq!(AckState::decode_slot(&both, 43), None);
        for bit in 0..SLOT_LEN * 8 {
            let mut b = both;
            b[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(AckState::decode_slot(&b, 42), None, "bit {bit}");
        }
        assert_eq!(AckState::decode_slot(&both[..SLOT_LEN - 1], 42), None);
    }

    #[test]
    fn block_header_round_trip_and_damage() {
        let payload = b"some events";
        let mut out = Vec::new();
        encode_block(&mut out, 9, payload, 3);
        let h = BlockHeader::decode(&out, 9).unwrap();
        assert_eq!(h.len as usize, payload.len());
        assert_eq!(h.records, 3);
        assert!(h.payload_ok(&out[BLOCK_HEADER_LEN..]));
        assert!(BlockHeader::decode(&out, 10).is_none());
        for bit in 0..BLOCK_HEADER_LEN * 8 {
            let mut b = out.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(BlockHeader::decode(&b, 9).is_none(), "bit {bit}");
        }
    }

    #[test]
    fn names_sort_by_creation() {
        let a = file_name(5, 9);
        let b = file_name(10, 0);
        let c = file_name(10, 1);
        assert!(a < b && b < c);
        assert_eq!(parse_file_name(&a), Some((5, 9)));
        assert_eq!(
            parse_file_name(&file_name(u64::MAX, u32::MAX)),
            Some((u64::MAX, u32::MAX))
        );
        assert_eq!(parse_file_name("notes.txt"), None);
        assert_eq!(
            parse_file_name("0000000000000000000a-0000000000.wchk"),
            None
        );
        assert_eq!(
            parse_file_name("00000000000000000001-0000000000.wchk.tmp"),
            None
        );
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(make_nonce(1, 0), make_nonce(1, 1));
        assert_ne!(make_nonce(1, 0), make_nonce(2, 0));
    }
}
