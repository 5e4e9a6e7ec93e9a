//! Encoded events: how to write them and how to walk a buffer of them without decoding.
//!
//! An event is `[[time, {metadata}], {body}]` (Fluent Bit 2 and later). The older form
//! `[time, {body}]` is accepted when reading, so data from old forwarders still flows.

use crate::{DecodeError, EventTime};

/// Deepest nesting accepted in any MessagePack value from outside.
pub const MAX_DEPTH: usize = 256;

/// One event inside an encoded buffer, borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventRef<'a> {
    pub time: EventTime,
    /// The encoded metadata map (an empty map when the event had none).
    pub metadata: &'a [u8],
    /// The encoded body: normally a map.
    pub body: &'a [u8],
    /// The whole encoded event, for pass-through copies.
    pub raw: &'a [u8],
}

const EMPTY_MAP: &[u8] = &[0x80];

/// Appends the head of an event, `[[time, {metadata}], `, leaving the body to the caller.
///
/// `metadata` must be an encoded map (or empty for none). Writing the body straight after the
/// head lets parsers encode a record in place with no intermediate copy.
pub fn write_head(out: &mut Vec<u8>, time: EventTime, metadata: &[u8]) {
    out.push(0x92);
    out.push(0x92);
    time.encode(out);
    if metadata.is_empty() {
        out.push(0x80);
    } else {
        out.extend_from_slice(metadata);
    }
}

/// Length of the head written by [`begin_event`].
pub const HEAD_LEN: usize = 13;

/// Starts an event whose time is not known until its body is parsed: writes a fixed-size head
/// (`[[time, {}], `) with a zero time and returns its position for [`set_time`].
///
/// Parsers append the body right after, so a record is encoded in place with no copy; on a
/// parse error the caller truncates the buffer back to the returned position.
pub fn begin_event(out: &mut Vec<u8>) -> usize {
    let pos = out.len();
    write_head(out, EventTime::default(), &[]);
    pos
}

/// Sets the time of an event started with [`begin_event`] at `pos`.
pub fn set_time(out: &mut [u8], pos: usize, time: EventTime) {
    out[pos + 4..pos + 12].copy_from_slice(&time.to_ext_bytes());
}

/// Appends a whole event.
pub fn write_event(out: &mut Vec<u8>, time: EventTime, metadata: &[u8], body: &[u8]) {
    write_head(out, time, metadata);
    out.extend_from_slice(body);
}

/// A small helper that appends events to a buffer and counts them.
#[derive(Debug, Default, Clone)]
pub struct EventWriter {
    pub buf: Vec<u8>,
    pub count: usize,
}

impl EventWriter {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn with_capacity(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
            count: 0,
        }
    }
    /// Appends an event whose body is already encoded.
    pub fn push(&mut self, time: EventTime, metadata: &[u8], body: &[u8]) {
        write_event(&mut self.buf, time, metadata, body);
        self.count += 1;
    }
    /// Copies an existing encoded event unchanged.
    pub fn push_raw(&mut self, ev: &EventRef<'_>) {
        self.buf.extend_from_slice(ev.raw);
        self.count += 1;
    }
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    pub fn clear(&mut self) {
        self.buf.clear();
        self.count = 0;
    }
}

/// Iterates the events of a buffer. Stops at the first malformed event, yielding its error once.
#[derive(Debug, Clone)]
pub struct Events<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Events<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            failed: false,
        }
    }
    /// Byte offset of the next event.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Events<'a> {
    type Item = Result<EventRef<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        match read_event(self.buf, self.pos) {
            Ok((ev, end)) => {
                self.pos = end;
                Some(Ok(ev))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Counts the events in a buffer, failing on the first malformed one.
pub fn count_events(buf: &[u8]) -> Result<usize, DecodeError> {
    let mut n = 0;
    for ev in Events::new(buf) {
        ev?;
        n += 1;
    }
    Ok(n)
}

/// Reads one event starting at `start`, returning it and the offset just past it.
pub fn read_event(buf: &[u8], start: usize) -> Result<(EventRef<'_>, usize), DecodeError> {
    let (n, mut pos) = read_array_len(buf, start)?;
    if n != 2 {
        return Err(DecodeError::Unexpected {
            at: start,
            expected: "an event array of 2 elements",
        });
    }
    let (time, metadata);
    if matches!(buf.get(pos), Some(0x90..=0x9f | 0xdc | 0xdd)) {
        // [[time, {metadata}], body]
        let head_at = pos;
        let (hn, p) = read_array_len(buf, pos)?;
        if hn == 0 {
            return Err(DecodeError::Unexpected {
                at: head_at,
                expected: "an event header [time, metadata]",
            });
        }
        let (t, p) = read_time(buf, p)?;
        pos = p;
        time = t;
        if hn >= 2 {
            let meta_end = skip_value(buf, pos)?;
            metadata = &buf[pos..meta_end];
            pos = meta_end;
            for _ in 2..hn {
                pos = skip_value(buf, pos)?;
            }
        } else {
            metadata = EMPTY_MAP;
        }
    } else {
        // Legacy [time, body]
        let (t, p) = read_time(buf, pos)?;
        time = t;
        pos = p;
        metadata = EMPTY_MAP;
    }
    let body_start = pos;
    let end = skip_value(buf, pos)?;
    Ok((
        EventRef {
            time,
            metadata,
            body: &buf[body_start..end],
            raw: &buf[start..end],
        },
        end,
    ))
}

fn byte(buf: &[u8], at: usize) -> Result<u8, DecodeError> {
    buf.get(at).copied().ok_or(DecodeError::Truncated(at))
}

fn be(buf: &[u8], at: usize, n: usize) -> Result<u64, DecodeError> {
    let s = buf.get(at..at + n).ok_or(DecodeError::Truncated(at))?;
    Ok(s.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

fn read_array_len(buf: &[u8], at: usize) -> Result<(usize, usize), DecodeError> {
    match byte(buf, at)? {
        m @ 0x90..=0x9f => Ok(((m & 0x0f) as usize, at + 1)),
        0xdc => Ok((be(buf, at + 1, 2)? as usize, at + 3)),
        0xdd => Ok((be(buf, at + 1, 4)? as usize, at + 5)),
        _ => Err(DecodeError::Unexpected {
            at,
            expected: "an array",
        }),
    }
}

/// Reads a timestamp: EventTime extension, integer seconds or float seconds.
pub fn read_time(buf: &[u8], at: usize) -> Result<(EventTime, usize), DecodeError> {
    let m = byte(buf, at)?;
    match m {
        0xd7 => {
            let payload = buf.get(at + 2..at + 10).ok_or(DecodeError::Truncated(at))?;
            let t = EventTime::from_ext_bytes(payload).ok_or(DecodeError::Truncated(at))?;
            Ok((t, at + 10))
        }
        0xc7 if byte(buf, at + 1)? == 8 => {
            let payload = buf.get(at + 3..at + 11).ok_or(DecodeError::Truncated(at))?;
            let t = EventTime::from_ext_bytes(payload).ok_or(DecodeError::Truncated(at))?;
            Ok((t, at + 11))
        }
        0x00..=0x7f => Ok((EventTime::new(i64::from(m), 0), at + 1)),
        0xcc => Ok((EventTime::new(be(buf, at + 1, 1)? as i64, 0), at + 2)),
        0xcd => Ok((EventTime::new(be(buf, at + 1, 2)? as i64, 0), at + 3)),
        0xce => Ok((EventTime::new(be(buf, at + 1, 4)? as i64, 0), at + 5)),
        0xcf => Ok((EventTime::new(be(buf, at + 1, 8)? as i64, 0), at + 9)),
        0xd0 => Ok((
            EventTime::new(be(buf, at + 1, 1)? as u8 as i8 as i64, 0),
            at + 2,
        )),
        0xd1 => Ok((
            EventTime::new(be(buf, at + 1, 2)? as u16 as i16 as i64, 0),
            at + 3,
        )),
        0xd2 => Ok((
            EventTime::new(be(buf, at + 1, 4)? as u32 as i32 as i64, 0),
            at + 5,
        )),
        0xd3 => Ok((EventTime::new(be(buf, at + 1, 8)? as i64, 0), at + 9)),
        0xe0..=0xff => Ok((EventTime::new(i64::from(m as i8), 0), at + 1)),
        0xca => {
            let v = f32::from_bits(be(buf, at + 1, 4)? as u32);
            Ok((EventTime::from_f64(f64::from(v)), at + 5))
        }
        0xcb => {
            let v = f64::from_bits(be(buf, at + 1, 8)?);
            Ok((EventTime::from_f64(v), at + 9))
        }
        _ => Err(DecodeError::Unexpected {
            at,
            expected: "a timestamp",
        }),
    }
}

/// Returns the offset just past the MessagePack value that starts at `at`.
///
/// Iterative, so hostile nesting cannot overflow the stack; every element needs at least one
/// byte, so a declared length larger than what is left fails at once instead of looping.
pub fn skip_value(buf: &[u8], at: usize) -> Result<usize, DecodeError> {
    let mut pos = at;
    let mut remaining: u64 = 1;
    while remaining > 0 {
        remaining -= 1;
        let m = byte(buf, pos)?;
        let (head, payload, children): (usize, u64, u64) = match m {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (1, 0, 0),
            0x80..=0x8f => (1, 0, 2 * u64::from(m & 0x0f)),
            0x90..=0x9f => (1, 0, u64::from(m & 0x0f)),
            0xa0..=0xbf => (1, u64::from(m & 0x1f), 0),
            0xc4 | 0xd9 => (2, be(buf, pos + 1, 1)?, 0),
            0xc5 | 0xda => (3, be(buf, pos + 1, 2)?, 0),
            0xc6 | 0xdb => (5, be(buf, pos + 1, 4)?, 0),
            0xc7 => (3, be(buf, pos + 1, 1)?, 0),
            0xc8 => (4, be(buf, pos + 1, 2)?, 0),
            0xc9 => (6, be(buf, pos + 1, 4)?, 0),
            0xca | 0xce | 0xd2 => (5, 0, 0),
            0xcb | 0xcf | 0xd3 => (9, 0, 0),
            0xcc | 0xd0 => (2, 0, 0),
            0xcd | 0xd1 => (3, 0, 0),
            0xd4 => (3, 0, 0),
            0xd5 => (4, 0, 0),
            0xd6 => (6, 0, 0),
            0xd7 => (10, 0, 0),
            0xd8 => (18, 0, 0),
            0xdc => (3, 0, be(buf, pos + 1, 2)?),
            0xdd => (5, 0, be(buf, pos + 1, 4)?),
            0xde => (3, 0, 2 * be(buf, pos + 1, 2)?),
            0xdf => (5, 0, 2 * be(buf, pos + 1, 4)?),
            0xc1 => return Err(DecodeError::InvalidMarker { marker: m, at: pos }),
        };
        let end = (pos as u64) + head as u64 + payload;
        if end > buf.len() as u64 {
            return Err(DecodeError::Truncated(pos));
        }
        pos = end as usize;
        remaining += children;
        if remaining > (buf.len() - pos) as u64 {
            return Err(DecodeError::Truncated(pos));
        }
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn body(pairs: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        rmp::encode::write_map_len(&mut out, pairs.len() as u32).unwrap();
        for (k, v) in pairs {
            rmp::encode::write_str(&mut out, k).unwrap();
            rmp::encode::write_str(&mut out, v).unwrap();
        }
        out
    }

    #[test]
    fn writes_and_reads_events() {
        let mut w = EventWriter::new();
        let b = body(&[("log", "hello")]);
        w.push(EventTime::new(10, 5), &[], &b);
        w.push(EventTime::new(11, 0), &[], &b);
        let evs: Vec<_> = Events::new(&w.buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].time, EventTime::new(10, 5));
        assert_eq!(evs[0].body, &b[..]);
        assert_eq!(evs[0].metadata, &[0x80]);
        assert_eq!(count_events(&w.buf), Ok(2));
    }

    #[test]
    fn reads_legacy_and_numeric_times() {
        let mut buf = vec![0x92, 0xce];
        buf.extend_from_slice(&100u32.to_be_bytes());
        buf.extend_from_slice(&body(&[("a", "b")]));
        buf.push(0x92);
        buf.push(0xcb);
        buf.extend_from_slice(&2.5f64.to_bits().to_be_bytes());
        buf.extend_from_slice(&body(&[]));
        let evs: Vec<_> = Events::new(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(evs[0].time, EventTime::new(100, 0));
        assert_eq!(evs[1].time, EventTime::new(2, 500_000_000));
    }

    #[test]
    fn begin_event_then_set_time() {
        let mut buf = vec![];
        let pos = begin_event(&mut buf);
        assert_eq!(buf.len(), HEAD_LEN);
        buf.extend_from_slice(&body(&[("k", "v")]));
        set_time(&mut buf, pos, EventTime::new(42, 7));
        let ev = Events::new(&buf).next().unwrap().unwrap();
        assert_eq!(ev.time, EventTime::new(42, 7));
        assert_eq!(ev.body, &body(&[("k", "v")])[..]);
    }

    #[test]
    fn truncated_fails_once() {
        let mut w = EventWriter::new();
        w.push(EventTime::new(1, 0), &[], &body(&[("k", "v")]));
        let cut = &w.buf[..w.buf.len() - 1];
        let mut it = Events::new(cut);
        assert!(matches!(it.next(), Some(Err(_))));
        assert!(it.next().is_none());
    }

    #[test]
    fn huge_declared_lengths_fail_fast() {
        assert!(skip_value(&[0xdf, 0xff, 0xff, 0xff, 0xff], 0).is_err());
        assert!(skip_value(&[0xdb, 0xff, 0xff, 0xff, 0xff, 0x00], 0).is_err());
        assert!(skip_value(&[0xc1], 0).is_err());
    }

    fn arb_value() -> impl Strategy<Value = rmpv::Value> {
        let leaf = prop_oneof![
            Just(rmpv::Value::Nil),
            any::<bool>().prop_map(rmpv::Value::from),
            any::<i64>().prop_map(rmpv::Value::from),
            any::<u64>().prop_map(rmpv::Value::from),
            any::<f64>().prop_map(rmpv::Value::from),
            ".{0,40}".prop_map(rmpv::Value::from),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(rmpv::Value::Binary),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(rmpv::Value::Array),
                proptest::collection::vec((inner.clone(), inner), 0..8).prop_map(rmpv::Value::Map),
            ]
        })
    }

    proptest! {
        #[test]
        fn skip_value_matches_encoder(v in arb_value()) {
            let mut out = Vec::new();
            rmpv::encode::write_value(&mut out, &v).unwrap();
            prop_assert_eq!(skip_value(&out, 0), Ok(out.len()));
        }

        #[test]
        fn events_round_trip(bodies in proptest::collection::vec(arb_value(), 0..20), secs in any::<u32>(), nsec in 0u32..1_000_000_000) {
            let mut w = EventWriter::new();
            let mut encoded = Vec::new();
            for b in &bodies {
                let mut e = Vec::new();
                rmpv::encode::write_value(&mut e, b).unwrap();
                w.push(EventTime::new(i64::from(secs), nsec), &[], &e);
                encoded.push(e);
            }
            let evs: Vec<_> = Events::new(&w.buf).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(evs.len(), bodies.len());
            for (ev, e) in evs.iter().zip(&encoded) {
                prop_assert_eq!(ev.body, &e[..]);
                prop_assert_eq!(ev.time, EventTime::new(i64::from(secs), nsec));
            }
        }

        #[test]
        fn never_panics_on_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            for ev in Events::new(&bytes) { let _ = ev; }
            let _ = skip_value(&bytes, 0);
        }
    }
}
