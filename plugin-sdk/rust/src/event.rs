//! Reading a batch: [`Batch`] is what the host hands over, [`Events`] walks its MessagePack
//! bytes and yields each [`Event`].
//!
//! An event is `[[time, {metadata}], {body}]`, the layout of Fluent Bit's chunks. The older
//! `[time, {body}]` is read as well (with empty metadata), as the host does.

use crate::index::{self, PairIndex};
use crate::msgpack::{self, DecodeError, Head};
use crate::value::{Map, Value};

/// An event's timestamp: seconds and nanoseconds since the Unix epoch.
///
/// Written as Fluent Bit's EventTime extension (type 0: big-endian u32 seconds, u32
/// nanoseconds); read from that, from integer seconds, or from float seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventTime {
    pub sec: i64,
    pub nsec: u32,
}

/// MessagePack extension type of event timestamps.
pub const EVENT_TIME_EXT: i8 = 0;

impl EventTime {
    pub const fn new(sec: i64, nsec: u32) -> Self {
        Self { sec, nsec }
    }

    /// From nanoseconds since the epoch (what [`crate::now`] and the host's clock give).
    pub const fn from_nanos(ns: u64) -> Self {
        Self {
            sec: (ns / 1_000_000_000) as i64,
            nsec: (ns % 1_000_000_000) as u32,
        }
    }

    /// Nanoseconds since the epoch (negative before 1970).
    pub fn as_nanos(&self) -> i128 {
        i128::from(self.sec) * 1_000_000_000 + i128::from(self.nsec)
    }

    /// Seconds as a float, the `date` of Fluent Bit's JSON outputs.
    pub fn as_f64(&self) -> f64 {
        self.sec as f64 + f64::from(self.nsec) / 1e9
    }

    /// From float seconds; NaN and infinities give the epoch.
    pub fn from_f64(secs: f64) -> Self {
        if !secs.is_finite() {
            return Self::default();
        }
        let sec = secs.floor();
        let nsec = ((secs - sec) * 1e9).round().clamp(0.0, 999_999_999.0) as u32;
        Self::new(sec as i64, nsec)
    }

    /// The current time, from the host's clock.
    pub fn now() -> Self {
        crate::host::now()
    }
}

impl crate::Encode for EventTime {
    /// EventTime holds u32 seconds: times before 1970 or after 2106 wrap, as in Fluent Bit.
    fn encode(&self, out: &mut Vec<u8>) {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&(self.sec as u32).to_be_bytes());
        b[4..].copy_from_slice(&self.nsec.min(999_999_999).to_be_bytes());
        msgpack::write_ext(out, EVENT_TIME_EXT, &b);
    }
}

/// Reads a timestamp at `at`, returning it and the offset past it.
fn read_time(buf: &[u8], at: usize) -> Result<(EventTime, usize), DecodeError> {
    let unexpected = DecodeError::Unexpected {
        at,
        expected: "a timestamp (EventTime, integer or float seconds)",
    };
    // Weir's own form, read inline: every event has one.
    if let Some(&[0xd7, 0x00, s0, s1, s2, s3, n0, n1, n2, n3]) = buf.get(at..at + 10) {
        let sec = u32::from_be_bytes([s0, s1, s2, s3]);
        let nsec = u32::from_be_bytes([n0, n1, n2, n3]);
        return Ok((
            EventTime::new(i64::from(sec), nsec.min(999_999_999)),
            at + 10,
        ));
    }
    let end = msgpack::skip(buf, at)?;
    let t = match msgpack::head(buf, at)? {
        Head::Ext {
            ty: EVENT_TIME_EXT,
            start,
            len: 8,
        } => {
            let b = &buf[start..start + 8];
            let sec = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            let nsec = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
            EventTime::new(i64::from(sec), nsec.min(999_999_999))
        }
        Head::Int(i) => EventTime::new(i, 0),
        Head::UInt(u) => EventTime::new(i64::try_from(u).map_err(|_| unexpected.clone())?, 0),
        Head::Float(f) => EventTime::from_f64(f),
        _ => return Err(unexpected),
    };
    Ok((t, end))
}

/// One event of a batch, borrowed from the batch's bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event<'a> {
    tag: &'a str,
    time: EventTime,
    metadata: Map<'a>,
    body: Value<'a>,
    /// Where the body's first fields are, noted while the body was checked.
    index: PairIndex,
    raw: &'a [u8],
}

impl<'a> Event<'a> {
    /// The tag of the batch the event came in.
    pub fn tag(&self) -> &'a str {
        self.tag
    }

    pub fn time(&self) -> EventTime {
        self.time
    }

    /// The metadata map (empty for most logs; OpenTelemetry and metrics events use it).
    pub fn metadata(&self) -> Map<'a> {
        self.metadata
    }

    /// The body: the record, normally a map.
    pub fn body(&self) -> Value<'a> {
        self.body
    }

    /// A field of the body (`None` when absent or when the body is not a map).
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        match self.body {
            Value::Map(m) => m.get_indexed(&self.index, key),
            _ => None,
        }
    }

    /// The encoded event up to its body, `[[time, metadata], `, when the body is a container
    /// (it always is in Fluent Bit's events).
    pub(crate) fn head(&self) -> Option<&'a [u8]> {
        let body = match self.body {
            Value::Map(m) => m.raw().len(),
            Value::Array(a) => a.raw().len(),
            _ => return None,
        };
        self.raw.get(..self.raw.len().checked_sub(body)?)
    }

    /// The offsets of the body's first fields (see [`crate::index`]).
    pub(crate) fn index(&self) -> &PairIndex {
        &self.index
    }

    /// A string field of the body.
    pub fn get_str(&self, key: &str) -> Option<&'a str> {
        self.get(key)?.as_str()
    }

    /// A field of the metadata.
    pub fn meta(&self, key: &str) -> Option<Value<'a>> {
        self.metadata.get(key)
    }

    /// The whole encoded event, to pass it on unchanged.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The event as one line of the JSON event format (without the newline):
    /// `{"time_ns":...,"metadata":{...},"record":{...}}`.
    pub fn to_json(&self) -> Result<String, DecodeError> {
        let mut s = String::new();
        crate::json::write_event(self, &mut s)?;
        Ok(s)
    }
}

/// [`msgpack::head`] with the small arrays and maps of every event read inline.
#[inline(always)]
fn head_of(buf: &[u8], at: usize) -> Result<Head, DecodeError> {
    match buf.get(at) {
        Some(&m @ 0x90..=0x9f) => Ok(Head::Array {
            start: at + 1,
            len: u32::from(m & 0x0f),
        }),
        Some(&m @ 0x80..=0x8f) => Ok(Head::Map {
            start: at + 1,
            len: u32::from(m & 0x0f),
        }),
        _ => msgpack::head(buf, at),
    }
}

/// Reads one event at `start`; returns it and the offset past it.
pub(crate) fn read_event<'a>(
    tag: &'a str,
    buf: &'a [u8],
    start: usize,
) -> Result<(Event<'a>, usize), DecodeError> {
    let Head::Array {
        start: mut pos,
        len: 2,
    } = head_of(buf, start)?
    else {
        return Err(DecodeError::Unexpected {
            at: start,
            expected: "an event: an array of 2 elements",
        });
    };
    let (time, metadata);
    match head_of(buf, pos)? {
        Head::Array { start: p, len } if len >= 1 => {
            let (t, p) = read_time(buf, p)?;
            time = t;
            pos = p;
            metadata = if len >= 2 && buf.get(pos) == Some(&0x80) {
                // No metadata, as for most logs.
                pos += 1;
                Map::EMPTY
            } else if len >= 2 {
                let end = msgpack::skip(buf, pos)?;
                let v = Value::read_span(buf, pos, end)?;
                pos = end;
                // Fluent Bit always writes a map; anything else reads as no metadata (and is
                // still passed on unchanged by a raw copy).
                v.as_map().unwrap_or(Map::EMPTY)
            } else {
                Map::EMPTY
            };
            for _ in 2..len {
                pos = msgpack::skip(buf, pos)?;
            }
        }
        Head::Array { .. } => {
            return Err(DecodeError::Unexpected {
                at: pos,
                expected: "an event header [time, metadata]",
            })
        }
        _ => {
            let (t, p) = read_time(buf, pos)?;
            time = t;
            pos = p;
            metadata = Map::EMPTY;
        }
    }
    // The body is walked once, here, and where its fields start is kept for lookups and
    // edits.
    let (body, index, end) = match head_of(buf, pos)? {
        Head::Map { start: items, len } => {
            let (end, index) = index::walk_map(buf, pos, items, len)?;
            let body = Map::from_parts(&buf[pos..end], items - pos, len);
            (Value::Map(body), index, end)
        }
        _ => {
            let end = msgpack::skip(buf, pos)?;
            (Value::read_span(buf, pos, end)?, PairIndex::NONE, end)
        }
    };
    Ok((
        Event {
            tag,
            time,
            metadata,
            body,
            index,
            raw: &buf[start..end],
        },
        end,
    ))
}

/// Iterator over the events of a batch's bytes. A malformed event yields its error once, and
/// the iteration ends there (what follows cannot be located).
#[derive(Debug, Clone)]
pub struct Events<'a> {
    tag: &'a str,
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Events<'a> {
    /// Events encoded back to back in `buf`, all under `tag`.
    pub fn new(tag: &'a str, buf: &'a [u8]) -> Self {
        Self {
            tag,
            buf,
            pos: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for Events<'a> {
    type Item = Result<Event<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        match read_event(self.tag, self.buf, self.pos) {
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

/// How a plugin receives and returns events (its choice, in [`crate::Info`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Weir's own encoding: no conversion on the way in or out. [`Batch::events`] reads it
    /// and [`crate::EventWriter`] writes it.
    #[default]
    Msgpack,
    /// One JSON object per line, `{"time_ns":...,"metadata":{...},"record":{...}}`. The SDK
    /// hands the bytes over as they are ([`Batch::bytes`]) and takes them back the same way
    /// ([`crate::EventWriter::push_raw`]); the plugin parses and writes them itself.
    Json,
}

/// A batch of events sharing a tag, as the host hands it to a filter or an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch<'a> {
    tag: &'a str,
    bytes: &'a [u8],
    count: u32,
}

impl<'a> Batch<'a> {
    /// A batch over encoded events (tests build batches with [`crate::EventWriter`]).
    pub fn new(tag: &'a str, bytes: &'a [u8], count: u32) -> Self {
        Self { tag, bytes, count }
    }

    pub fn tag(&self) -> &'a str {
        self.tag
    }

    /// The events' bytes, in the plugin's format.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// How many events the host says the batch holds.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The events, read from MessagePack (the default [`Format`]).
    pub fn events(&self) -> Events<'a> {
        Events::new(self.tag, self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msgpack::*;
    use crate::{EventWriter, MapBuilder};

    #[test]
    fn reads_events_written_by_the_writer() {
        let mut w = EventWriter::new();
        w.event(EventTime::new(1_700_000_000, 5))
            .meta("otel", true)
            .field("msg", "hello")
            .finish();
        w.event(EventTime::new(3, 0)).field("n", 1).finish();
        let batch = Batch::new("app.log", w.as_bytes(), w.len() as u32);
        let evs: Vec<_> = batch.events().collect::<Result<_, _>>().unwrap();
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].tag(), "app.log");
        assert_eq!(evs[0].time(), EventTime::new(1_700_000_000, 5));
        assert_eq!(evs[0].meta("otel"), Some(Value::Bool(true)));
        assert_eq!(evs[0].get_str("msg"), Some("hello"));
        assert_eq!(evs[1].get("n"), Some(Value::Int(1)));
        assert!(evs[1].metadata().is_empty());
        assert_eq!(evs[0].raw().len() + evs[1].raw().len(), w.as_bytes().len());
    }

    #[test]
    fn reads_legacy_events_and_other_time_forms() {
        let body = crate::value::to_msgpack(MapBuilder::new().field("a", 1));
        let mut buf = Vec::new();
        // [1700000000, {a: 1}]
        write_array_len(&mut buf, 2);
        write_int(&mut buf, 1_700_000_000);
        buf.extend_from_slice(&body);
        // [[1.5, {}], {a: 1}]
        write_array_len(&mut buf, 2);
        write_array_len(&mut buf, 2);
        write_f64(&mut buf, 1.5);
        write_map_len(&mut buf, 0);
        buf.extend_from_slice(&body);
        // [[7], {a: 1}]: a header without metadata
        write_array_len(&mut buf, 2);
        write_array_len(&mut buf, 1);
        write_int(&mut buf, 7);
        buf.extend_from_slice(&body);
        let evs: Vec<_> = Events::new("t", &buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(evs[0].time(), EventTime::new(1_700_000_000, 0));
        assert_eq!(evs[1].time(), EventTime::new(1, 500_000_000));
        assert_eq!(evs[2].time(), EventTime::new(7, 0));
        assert!(evs.iter().all(|e| e.get("a") == Some(Value::Int(1))));
    }

    #[test]
    fn malformed_batches_yield_one_error_and_stop() {
        let mut w = EventWriter::new();
        w.event(EventTime::new(1, 0)).field("a", 1).finish();
        let good = w.as_bytes().to_vec();
        for cut in 1..good.len() {
            let mut buf = good.clone();
            buf.extend_from_slice(&good[..cut]);
            let items: Vec<_> = Events::new("t", &buf).collect();
            assert_eq!(items.len(), 2, "{cut}");
            assert!(items[0].is_ok());
            assert!(items[1].is_err());
        }
        for bad in [
            &[0x90u8][..],
            &[0x92, 0xa1, b'x', 0x80],
            &[0x92, 0x90, 0x80],
            &[0xc1],
        ] {
            let items: Vec<_> = Events::new("t", bad).collect();
            assert_eq!(items.len(), 1);
            assert!(items[0].is_err(), "{bad:?}");
        }
    }

    /// Arbitrary bytes, and valid events with bytes flipped, never panic the reader or the
    /// JSON rendering (a deterministic generator keeps the test dependency-free).
    #[test]
    fn random_input_never_panics() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut w = EventWriter::new();
        w.event(EventTime::new(1, 2))
            .meta("m", MapBuilder::new().field("k", vec![1, 2]))
            .field("s", "text")
            .field("f", 1.5)
            .finish();
        let valid = w.into_bytes();
        for round in 0..20_000 {
            let buf: Vec<u8> = if round % 2 == 0 {
                let len = (next() % 64) as usize;
                (0..len).map(|_| next() as u8).collect()
            } else {
                let mut b = valid.clone();
                let i = (next() as usize) % b.len();
                b[i] = next() as u8;
                b
            };
            for ev in Events::new("t", &buf).flatten() {
                let _ = ev.to_json();
                let mut out = EventWriter::new();
                let _ = out.edit(&ev).set("x", 1).remove("s").finish();
                for (k, v) in ev.metadata() {
                    let _ = (k.to_json(), v.to_json());
                }
            }
            let _ = Value::decode(&buf).map(|(v, _)| v.to_json());
        }
    }

    /// Lookups and edits through the body's index agree with walking it, for fields inside
    /// the index, past it, and past 64 KiB.
    #[test]
    fn indexed_lookups_and_edits_agree_with_walks() {
        for (n, size) in [(1, 1), (15, 3), (16, 40), (40, 2), (8, 20_000)] {
            let mut w = EventWriter::new();
            let mut e = w.event(EventTime::new(1, 0));
            for i in 0..n {
                e = e.field(&format!("k{i}"), "v".repeat(size + i));
            }
            e.finish();
            let ev = Events::new("t", w.as_bytes()).next().unwrap().unwrap();
            let body = ev.body().as_map().unwrap();
            for i in 0..n {
                let key = format!("k{i}");
                assert_eq!(ev.get(&key), body.get(&key), "{n} {i}");
                assert_eq!(ev.get_str(&key).map(str::len), Some(size + i));
            }
            assert_eq!(ev.get("absent"), None);
            let mut out = EventWriter::new();
            out.edit(&ev)
                .set("k0", 0)
                .set(&format!("k{}", n - 1), "last")
                .set("new", true)
                .finish()
                .unwrap();
            let edited = Events::new("t", out.as_bytes()).next().unwrap().unwrap();
            let keys: Vec<_> = edited
                .body()
                .as_map()
                .unwrap()
                .iter()
                .map(|(k, _)| k.as_str().unwrap().to_string())
                .collect();
            let mut expected: Vec<_> = (0..n).map(|i| format!("k{i}")).collect();
            expected.push("new".into());
            assert_eq!(keys, expected, "{n}");
            if n > 1 {
                assert_eq!(edited.get("k0"), Some(Value::Int(0)));
            }
            assert_eq!(edited.get_str(&format!("k{}", n - 1)), Some("last"));
        }
    }

    #[test]
    fn event_time_conversions() {
        let t = EventTime::from_nanos(1_700_000_000_123_456_789);
        assert_eq!(t, EventTime::new(1_700_000_000, 123_456_789));
        assert_eq!(t.as_nanos(), 1_700_000_000_123_456_789);
        assert_eq!(EventTime::from_f64(f64::NAN), EventTime::default());
        assert_eq!(EventTime::from_f64(2.25), EventTime::new(2, 250_000_000));
    }
}
