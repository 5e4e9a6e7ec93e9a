//! Values inside events: borrowed views to read them ([`Value`], [`Map`], [`Array`]) and the
//! [`Encode`] trait to write them.
//!
//! Reading decodes nothing up front: a [`Map`] is the encoded bytes of a map, already checked,
//! and [`Map::get`] walks them (an event's body is walked once, when the event is read, and
//! its lookups use the offsets noted then: see `index`). Copying a value into a new event
//! copies its bytes.

use crate::index::PairIndex;
use crate::msgpack::{self, DecodeError, Head};

/// One MessagePack value, borrowed from an event.
///
/// Integers that fit `i64` are [`Value::Int`]; only larger unsigned ones are [`Value::UInt`].
/// A string whose bytes are not UTF-8 (MessagePack requires UTF-8, some producers ignore it)
/// reads as [`Value::Bin`], so [`Value::as_str`] never returns invalid text; copying the value
/// into another event copies its original bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(&'a str),
    Bin(&'a [u8]),
    Array(Array<'a>),
    Map(Map<'a>),
    /// An extension value: its type and payload. Event times inside records are type 0.
    Ext(i8, &'a [u8]),
}

impl<'a> Value<'a> {
    /// Reads the value at the start of `buf`, checking it completely, and returns it with the
    /// number of bytes it takes.
    pub fn decode(buf: &'a [u8]) -> Result<(Value<'a>, usize), DecodeError> {
        let end = msgpack::skip(buf, 0)?;
        Ok((Self::read_checked(&buf[..end], 0)?, end))
    }

    /// Reads the value at `at` whose end, `end`, a [`msgpack::skip`] has just found (checking
    /// it): a container is not walked again.
    pub(crate) fn read_span(
        buf: &'a [u8],
        at: usize,
        end: usize,
    ) -> Result<Value<'a>, DecodeError> {
        Ok(match msgpack::head(buf, at)? {
            Head::Array { start, len } => Value::Array(Array {
                raw: &buf[at..end],
                items: start - at,
                len,
            }),
            Head::Map { start, len } => Value::Map(Map {
                raw: &buf[at..end],
                items: start - at,
                len,
            }),
            h => Self::scalar(buf, h),
        })
    }

    /// [`Value::read_span`] with short strings and small integers, most of the values looked
    /// up, read inline.
    #[inline(always)]
    pub(crate) fn read_known(buf: &'a [u8], at: usize, end: usize) -> Option<Value<'a>> {
        match *buf.get(at)? {
            m @ 0xa0..=0xbf if end == at + 1 + usize::from(m & 0x1f) => {
                let bytes = buf.get(at + 1..end)?;
                Some(match std::str::from_utf8(bytes) {
                    Ok(s) => Value::Str(s),
                    Err(_) => Value::Bin(bytes),
                })
            }
            m @ 0x00..=0x7f => Some(Value::Int(i64::from(m))),
            _ => Value::read_span(buf, at, end).ok(),
        }
    }

    /// Reads the value at `at`, checking it: a container is walked to find its end.
    pub(crate) fn read_checked(buf: &'a [u8], at: usize) -> Result<Value<'a>, DecodeError> {
        Ok(match msgpack::head(buf, at)? {
            Head::Array { start, len } => {
                let end = msgpack::skip(buf, at)?;
                Value::Array(Array {
                    raw: &buf[at..end],
                    items: start - at,
                    len,
                })
            }
            Head::Map { start, len } => {
                let end = msgpack::skip(buf, at)?;
                Value::Map(Map {
                    raw: &buf[at..end],
                    items: start - at,
                    len,
                })
            }
            h => Self::scalar(buf, h),
        })
    }

    /// The value of a header that is not a container (whose payload `head` checked).
    fn scalar(buf: &'a [u8], h: Head) -> Value<'a> {
        match h {
            Head::Nil => Value::Nil,
            Head::Bool(b) => Value::Bool(b),
            Head::Int(i) => Value::Int(i),
            Head::UInt(u) => Value::UInt(u),
            Head::Float(f) => Value::Float(f),
            Head::Str { start, len } => {
                let bytes = &buf[start..start + len];
                match std::str::from_utf8(bytes) {
                    Ok(s) => Value::Str(s),
                    Err(_) => Value::Bin(bytes),
                }
            }
            Head::Bin { start, len } => Value::Bin(&buf[start..start + len]),
            Head::Ext { ty, start, len } => Value::Ext(ty, &buf[start..start + len]),
            // Containers are read by the callers, which know where they end.
            Head::Array { .. } | Head::Map { .. } => Value::Nil,
        }
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&'a str> {
        match *self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// An integer that fits `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    /// A non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Int(i) => u64::try_from(i).ok(),
            Value::UInt(u) => Some(u),
            _ => None,
        }
    }

    /// A number: floats as they are, integers converted (large ones lose precision).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Float(f) => Some(f),
            Value::Int(i) => Some(i as f64),
            Value::UInt(u) => Some(u as f64),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The bytes of a binary value (or of a string that is not UTF-8).
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match *self {
            Value::Bin(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<Map<'a>> {
        match *self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<Array<'a>> {
        match *self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The value under `key` when this is a map: `v.get("kubernetes")?.get("pod_name")`.
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        self.as_map()?.get(key)
    }

    /// The JSON text of the value (see [`crate::json`]).
    pub fn to_json(&self) -> Result<String, DecodeError> {
        let mut s = String::new();
        crate::json::write_value(self, &mut s)?;
        Ok(s)
    }
}

impl PartialEq<&str> for Value<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

/// A map inside an event, borrowed and already checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Map<'a> {
    /// The whole encoded map, header included.
    raw: &'a [u8],
    /// Offset of the first key in `raw`.
    items: usize,
    len: u32,
}

impl<'a> Map<'a> {
    /// An empty map (events without metadata have one).
    pub const EMPTY: Map<'static> = Map {
        raw: &[0x80],
        items: 1,
        len: 0,
    };

    /// A map whose bytes (`raw`, header included, pairs from `items`) were checked.
    pub(crate) fn from_parts(raw: &'a [u8], items: usize, len: u32) -> Self {
        Self { raw, items, len }
    }

    /// Number of key/value pairs.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The encoded map, header included, to copy it elsewhere as it is.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The value of the first pair whose key is the string `key`.
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        self.get_indexed(&PairIndex::NONE, key)
    }

    /// [`Map::get`] with the offsets of the first pairs known (an event's body).
    pub(crate) fn get_indexed(&self, index: &PairIndex, key: &str) -> Option<Value<'a>> {
        // Keys are compared as bytes and only the value found is decoded: a filter looks up
        // a field of every record.
        let key = key.as_bytes();
        let mut pairs = self.raw_pairs(index);
        if let Some(header) = short_str_header(key.len()) {
            // The indexed pairs: a key's first byte tells most mismatches apart. Read here
            // rather than through `RawPairs::next`, whose items go through memory in
            // WebAssembly: iterating it cost the example filter about 25% more.
            for i in 0..index.len() {
                let (start, end) = index.pair(i)?;
                match self.raw.get(start) {
                    Some(&m) if m == header => {
                        let value = start + 1 + key.len();
                        if self
                            .raw
                            .get(start + 1..value)
                            .is_some_and(|k| msgpack::same_key(k, key))
                        {
                            return Value::read_known(self.raw, value, end);
                        }
                    }
                    // A longer string header may still hold a short key.
                    Some(0xd9..=0xdb) => {
                        let p = pairs.at(i)?;
                        if p.key == Some(key) {
                            return Value::read_span(self.raw, p.value, p.end).ok();
                        }
                    }
                    _ => {}
                }
            }
            pairs.skip_indexed();
        }
        pairs
            .find(|p| p.key == Some(key))
            .and_then(|p| Value::read_span(self.raw, p.value, p.end).ok())
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The pairs in order. Keys are usually strings but may be any value.
    pub fn iter(&self) -> MapIter<'a> {
        MapIter {
            raw: self.raw,
            pos: self.items,
            left: self.len,
        }
    }

    /// The pairs as encoded bytes, for copying them unchanged; `index` (of this map, or
    /// [`PairIndex::NONE`]) spares walking the pairs it holds.
    pub(crate) fn raw_pairs<'i>(&self, index: &'i PairIndex) -> RawPairs<'a, 'i> {
        RawPairs {
            raw: self.raw,
            pos: self.items,
            next: 0,
            len: self.len,
            index,
        }
    }
}

impl<'a> IntoIterator for Map<'a> {
    type Item = (Value<'a>, Value<'a>);
    type IntoIter = MapIter<'a>;
    fn into_iter(self) -> MapIter<'a> {
        self.iter()
    }
}

/// Iterator over the pairs of a [`Map`].
#[derive(Debug, Clone)]
pub struct MapIter<'a> {
    raw: &'a [u8],
    pos: usize,
    left: u32,
}

impl<'a> Iterator for MapIter<'a> {
    type Item = (Value<'a>, Value<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // The map was checked when it was read, so these cannot fail; if they did, the
        // iteration would just end.
        let kend = msgpack::skip(self.raw, self.pos).ok()?;
        let key = Value::read_span(self.raw, self.pos, kend).ok()?;
        let vend = msgpack::skip(self.raw, kend).ok()?;
        let value = Value::read_span(self.raw, kend, vend).ok()?;
        self.pos = vend;
        Some((key, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

/// One pair of a map, as offsets into the map's bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawPair<'a> {
    pub start: usize,
    /// Where the value starts.
    pub value: usize,
    pub end: usize,
    /// The key's bytes when the key is a string (compared as bytes: no UTF-8 check on the
    /// hot path).
    pub key: Option<&'a [u8]>,
}

/// The pairs of a map as [`RawPair`]s: from the index while it lasts, then by walking.
pub(crate) struct RawPairs<'a, 'i> {
    raw: &'a [u8],
    /// Where pair `next` starts.
    pos: usize,
    next: u32,
    len: u32,
    index: &'i PairIndex,
}

/// The one-byte header of a string of `len` bytes, when it has one.
#[inline]
pub(crate) fn short_str_header(len: usize) -> Option<u8> {
    (len < 32).then_some(0xa0 | len as u8)
}

impl<'a> RawPairs<'a, '_> {
    /// Indexed pair `i`, read on its own.
    pub(crate) fn at(&self, i: u32) -> Option<RawPair<'a>> {
        let (start, end) = self.index.pair(i)?;
        let (key, value) = self.key(start)?;
        Some(RawPair {
            start,
            value,
            end,
            key,
        })
    }

    /// Moves past the indexed pairs (the caller looked at them through the index).
    pub(crate) fn skip_indexed(&mut self) {
        let n = self.index.len();
        if n > 0 {
            if let Some((_, end)) = self.index.pair(n - 1) {
                self.next = n;
                self.pos = end;
            }
        }
    }

    /// The key at `start`: its string bytes, and where the value starts.
    #[inline]
    fn key(&self, start: usize) -> Option<(Option<&'a [u8]>, usize)> {
        let raw = self.raw;
        match raw.get(start) {
            // A short string, the usual key, read inline.
            Some(&m @ 0xa0..=0xbf) => {
                let end = start + 1 + usize::from(m & 0x1f);
                Some((Some(raw.get(start + 1..end)?), end))
            }
            _ => match msgpack::head(raw, start).ok()? {
                Head::Str { start: s, len } => Some((Some(&raw[s..s + len]), s + len)),
                _ => Some((None, msgpack::skip(raw, start).ok()?)),
            },
        }
    }
}

impl<'a> Iterator for RawPairs<'a, '_> {
    type Item = RawPair<'a>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.len {
            return None;
        }
        let i = self.next;
        self.next += 1;
        // The map was checked when it was read, so nothing here fails; if it did, the
        // iteration would just end.
        let (start, known_end) = match self.index.pair(i) {
            Some((s, e)) => (s, Some(e)),
            // Past the index: the previous pair's end.
            None => (self.pos, None),
        };
        let (key, value) = self.key(start)?;
        let end = match known_end {
            Some(e) => e,
            None => msgpack::skip(self.raw, value).ok()?,
        };
        self.pos = end;
        Some(RawPair {
            start,
            value,
            end,
            key,
        })
    }
}

/// An array inside an event, borrowed and already checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Array<'a> {
    raw: &'a [u8],
    items: usize,
    len: u32,
}

impl<'a> Array<'a> {
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The encoded array, header included.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The element at `index` (walks the elements before it).
    pub fn get(&self, index: usize) -> Option<Value<'a>> {
        self.iter().nth(index)
    }

    pub fn iter(&self) -> ArrayIter<'a> {
        ArrayIter {
            raw: self.raw,
            pos: self.items,
            left: self.len,
        }
    }
}

impl<'a> IntoIterator for Array<'a> {
    type Item = Value<'a>;
    type IntoIter = ArrayIter<'a>;
    fn into_iter(self) -> ArrayIter<'a> {
        self.iter()
    }
}

/// Iterator over the elements of an [`Array`].
#[derive(Debug, Clone)]
pub struct ArrayIter<'a> {
    raw: &'a [u8],
    pos: usize,
    left: u32,
}

impl<'a> Iterator for ArrayIter<'a> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Value<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let v = Value::read_checked(self.raw, self.pos).ok()?;
        self.pos = msgpack::skip(self.raw, self.pos).ok()?;
        Some(v)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

/// Anything that can be written as a MessagePack value into an event.
///
/// Implemented for Rust's scalars, strings, `Option` (`None` is nil), `()` (nil), slices and
/// `Vec`s (arrays), [`Bin`] (binary), [`Value`] (copied as it was read), [`MapBuilder`]
/// (nested maps) and [`crate::EventTime`] (the EventTime extension).
pub trait Encode {
    fn encode(&self, out: &mut Vec<u8>);
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encode(&self, out: &mut Vec<u8>) {
        (**self).encode(out)
    }
}

impl Encode for str {
    fn encode(&self, out: &mut Vec<u8>) {
        msgpack::write_str(out, self)
    }
}

impl Encode for String {
    fn encode(&self, out: &mut Vec<u8>) {
        msgpack::write_str(out, self)
    }
}

impl Encode for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        msgpack::write_bool(out, *self)
    }
}

impl Encode for () {
    fn encode(&self, out: &mut Vec<u8>) {
        msgpack::write_nil(out)
    }
}

macro_rules! encode_signed {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                msgpack::write_int(out, i64::from(*self))
            }
        }
    )*};
}
encode_signed!(i8, i16, i32, i64);

macro_rules! encode_unsigned {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                msgpack::write_uint(out, u64::from(*self))
            }
        }
    )*};
}
encode_unsigned!(u8, u16, u32, u64);

impl Encode for usize {
    fn encode(&self, out: &mut Vec<u8>) {
        msgpack::write_uint(out, *self as u64)
    }
}

impl Encode for isize {
    fn encode(&self, out: &mut Vec<u8>) {
        msgpack::write_int(out, *self as i64)
    }
}

impl Encode for f64 {
    fn encode(&self, out: &mut Vec<u8>) {
        msgpack::write_f64(out, *self)
    }
}

impl Encode for f32 {
    fn encode(&self, out: &mut Vec<u8>) {
        msgpack::write_f64(out, f64::from(*self))
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Some(v) => v.encode(out),
            None => msgpack::write_nil(out),
        }
    }
}

impl<T: Encode> Encode for [T] {
    fn encode(&self, out: &mut Vec<u8>) {
        msgpack::write_array_len(out, self.len().min(u32::MAX as usize) as u32);
        for v in self.iter().take(u32::MAX as usize) {
            v.encode(out);
        }
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        self.as_slice().encode(out)
    }
}

impl<T: Encode, const N: usize> Encode for [T; N] {
    fn encode(&self, out: &mut Vec<u8>) {
        self.as_slice().encode(out)
    }
}

impl Encode for Value<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Value::Nil => msgpack::write_nil(out),
            Value::Bool(b) => msgpack::write_bool(out, b),
            Value::Int(i) => msgpack::write_int(out, i),
            Value::UInt(u) => msgpack::write_uint(out, u),
            Value::Float(f) => msgpack::write_f64(out, f),
            Value::Str(s) => msgpack::write_str(out, s),
            Value::Bin(b) => msgpack::write_bin(out, b),
            Value::Ext(ty, data) => msgpack::write_ext(out, ty, data),
            Value::Array(a) => out.extend_from_slice(a.raw),
            Value::Map(m) => out.extend_from_slice(m.raw),
        }
    }
}

impl Encode for Map<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.raw)
    }
}

impl Encode for Array<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.raw)
    }
}

/// Binary data (MessagePack `bin`), as opposed to a slice of bytes, which encodes as an array
/// of integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bin<'a>(pub &'a [u8]);

impl Encode for Bin<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        msgpack::write_bin(out, self.0)
    }
}

/// A map built field by field, to nest inside an event:
///
/// ```
/// use weir_plugin_sdk::{EventTime, EventWriter, MapBuilder};
/// let mut w = EventWriter::new();
/// w.event(EventTime::new(1, 0))
///     .field("http", MapBuilder::new().field("status", 200).field("path", "/"))
///     .finish();
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MapBuilder {
    pairs: Vec<u8>,
    len: u32,
}

impl MapBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a pair (keys are not checked for duplicates).
    pub fn field(mut self, key: &str, value: impl Encode) -> Self {
        self.insert(key, value);
        self
    }

    /// Adds a pair through a reference, for building in a loop.
    pub fn insert(&mut self, key: &str, value: impl Encode) -> &mut Self {
        msgpack::write_str(&mut self.pairs, key);
        value.encode(&mut self.pairs);
        self.len = self.len.saturating_add(1);
        self
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Encode for MapBuilder {
    fn encode(&self, out: &mut Vec<u8>) {
        msgpack::write_map_len(out, self.len);
        out.extend_from_slice(&self.pairs);
    }
}

/// Encodes a value on its own, e.g. to compare or store it.
pub fn to_msgpack(value: impl Encode) -> Vec<u8> {
    let mut out = Vec::new();
    value.encode(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        to_msgpack(
            MapBuilder::new()
                .field("level", "debug")
                .field("n", -5)
                .field("big", u64::MAX)
                .field("f", 2.5)
                .field("ok", true)
                .field("none", ())
                .field("list", vec![1, 2, 3])
                .field("bin", Bin(b"\x00\x01"))
                .field("nested", MapBuilder::new().field("pod", "web-1")),
        )
    }

    #[test]
    fn reads_every_kind_of_value() {
        let buf = sample();
        let (v, used) = Value::decode(&buf).unwrap();
        assert_eq!(used, buf.len());
        let m = v.as_map().unwrap();
        assert_eq!(m.len(), 9);
        assert_eq!(m.get("level"), Some(Value::Str("debug")));
        assert!(m.get("level").unwrap() == "debug");
        assert_eq!(m.get("n").and_then(|v| v.as_i64()), Some(-5));
        assert_eq!(m.get("n").and_then(|v| v.as_u64()), None);
        assert_eq!(m.get("big").and_then(|v| v.as_u64()), Some(u64::MAX));
        assert_eq!(m.get("f").and_then(|v| v.as_f64()), Some(2.5));
        assert_eq!(m.get("ok").and_then(|v| v.as_bool()), Some(true));
        assert!(m.get("none").unwrap().is_nil());
        let list: Vec<i64> = m
            .get("list")
            .and_then(|v| v.as_array())
            .unwrap()
            .iter()
            .filter_map(|v| v.as_i64())
            .collect();
        assert_eq!(list, [1, 2, 3]);
        assert_eq!(
            m.get("list").unwrap().as_array().unwrap().get(2),
            Some(Value::Int(3))
        );
        assert_eq!(
            m.get("bin").and_then(|v| v.as_bytes()),
            Some(&b"\x00\x01"[..])
        );
        assert_eq!(
            v.get("nested").and_then(|n| n.get("pod")),
            Some(Value::Str("web-1"))
        );
        assert_eq!(m.get("missing"), None);
        assert!(!m.contains_key("missing"));
    }

    #[test]
    fn values_copy_back_to_the_same_bytes() {
        let buf = sample();
        let (v, _) = Value::decode(&buf).unwrap();
        let mut again = MapBuilder::new();
        for (k, val) in v.as_map().unwrap() {
            again.insert(k.as_str().unwrap(), val);
        }
        assert_eq!(to_msgpack(again), buf);
    }

    #[test]
    fn invalid_utf8_strings_read_as_binary() {
        let buf = [0xa2, 0xff, 0xfe];
        assert_eq!(Value::decode(&buf).unwrap().0, Value::Bin(&[0xff, 0xfe]));
    }

    #[test]
    fn truncated_values_are_errors() {
        let buf = sample();
        for cut in 0..buf.len() {
            assert!(Value::decode(&buf[..cut]).is_err(), "{cut}");
        }
    }
}
