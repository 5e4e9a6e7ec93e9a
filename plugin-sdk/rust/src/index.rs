//! Where a record's fields lie, found once.
//!
//! MessagePack maps carry no offsets: finding a field, or the end of the map, means walking
//! every key and value before it. A filter reads each event (a walk to find where it ends),
//! looks a field up (a walk) and writes it with a change (a walk): three walks per record,
//! which was most of a filter's cost. The walk that checks an event's body now notes where its
//! first pairs start, and lookups and edits of that event read the offsets instead of walking.
//!
//! The index is a fixed array kept inside the [`crate::Event`], so reading a batch allocates
//! nothing. Pairs past [`INDEXED_PAIRS`], or past 64 KiB into the map, are not indexed: they
//! are found by walking on from the last indexed pair, as before.

use crate::msgpack::{self, DecodeError};

/// Pairs an index holds: most log records have fewer top-level fields.
pub(crate) const INDEXED_PAIRS: usize = 15;

/// The start of a map's first pairs, as offsets into the map's bytes (header included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PairIndex {
    /// `starts[i]` is where pair `i`'s key starts, for `i <= pairs`; `starts[pairs]` is thus
    /// the end of the last indexed pair.
    starts: [u16; INDEXED_PAIRS + 1],
    /// How many pairs are indexed.
    pairs: u8,
}

impl PairIndex {
    /// No pair indexed: lookups walk from the first pair.
    pub(crate) const NONE: PairIndex = PairIndex {
        starts: [0; INDEXED_PAIRS + 1],
        pairs: 0,
    };

    /// Pair `i` as `start..end` in the map's bytes, when indexed.
    #[inline]
    pub(crate) fn pair(&self, i: u32) -> Option<(usize, usize)> {
        if i < u32::from(self.pairs) {
            let i = i as usize;
            Some((usize::from(self.starts[i]), usize::from(self.starts[i + 1])))
        } else {
            None
        }
    }

    /// How many pairs are indexed.
    pub(crate) fn len(&self) -> u32 {
        u32::from(self.pairs)
    }
}

/// Walks the pairs of the map at `at` (its header read already: `len` pairs from `items`),
/// checking every value, and returns the end of the map and the index of its first pairs.
pub(crate) fn walk_map(
    buf: &[u8],
    at: usize,
    items: usize,
    len: u32,
) -> Result<(usize, PairIndex), DecodeError> {
    let mut index = PairIndex::NONE;
    let mut pos = items;
    let len = len as usize;
    // Offsets are u16: pairs are indexed while they end within 64 KiB of the map's start.
    let limit = at.saturating_add(usize::from(u16::MAX));
    let mut walked = 0;
    while walked < len.min(INDEXED_PAIRS) && pos <= limit {
        index.starts[walked] = (pos - at) as u16;
        pos = walk_pair(buf, pos)?;
        walked += 1;
        if pos > limit {
            break;
        }
        index.starts[walked] = (pos - at) as u16;
        index.pairs = walked as u8;
    }
    for _ in walked..len {
        pos = walk_pair(buf, pos)?;
    }
    Ok((pos, index))
}

/// The end of the pair at `at`.
#[inline(always)]
fn walk_pair(buf: &[u8], at: usize) -> Result<usize, DecodeError> {
    match msgpack::end_of(buf, at).and_then(|p| msgpack::end_of(buf, p)) {
        Some(p) => Ok(p),
        // Malformed: the general walk says where and why.
        None => Err(pair_error(buf, at)),
    }
}

/// Why the pair at `at` does not decode.
#[cold]
fn pair_error(buf: &[u8], at: usize) -> DecodeError {
    let err = match msgpack::skip(buf, at) {
        Ok(value) => msgpack::skip(buf, value).err(),
        Err(e) => Some(e),
    };
    // `end_of` and `skip` agree, so there is an error; a default keeps this panic-free.
    err.unwrap_or(DecodeError::Truncated { at })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msgpack::{head, skip, write_int, write_map_len, write_str, Head};

    fn map(n: u32, value: &str) -> Vec<u8> {
        let mut b = Vec::new();
        write_map_len(&mut b, n);
        for i in 0..n {
            write_str(&mut b, &format!("k{i}"));
            write_str(&mut b, value);
        }
        b
    }

    fn walk(b: &[u8]) -> Result<(usize, PairIndex), DecodeError> {
        let Head::Map { start, len } = head(b, 0)? else {
            panic!("not a map")
        };
        walk_map(b, 0, start, len)
    }

    #[test]
    fn indexes_the_first_pairs_and_finds_the_end() {
        for n in [0, 1, 14, 15, 16, 40] {
            let b = map(n, "v");
            let (end, index) = walk(&b).unwrap();
            assert_eq!(end, skip(&b, 0).unwrap(), "{n}");
            assert_eq!(index.len(), n.min(INDEXED_PAIRS as u32));
            for i in 0..index.len() {
                let (s, e) = index.pair(i).unwrap();
                let key = format!("k{i}");
                assert!(b[s..e].starts_with(&[0xa0 | key.len() as u8]));
                assert_eq!(&b[s + 1..s + 1 + key.len()], key.as_bytes());
            }
            assert_eq!(index.pair(index.len()), None);
        }
    }

    #[test]
    fn stops_indexing_past_64_kib() {
        let b = map(10, &"x".repeat(20_000));
        let (end, index) = walk(&b).unwrap();
        assert_eq!(end, b.len());
        assert_eq!(index.len(), 3, "pairs 0..3 end before 65,536 bytes");
        // A small map in a large buffer is indexed in full.
        let mut b = map(3, "v");
        let len = b.len();
        b.extend(vec![0xc0; 70_000]);
        let (end, index) = walk(&b).unwrap();
        assert_eq!((end, index.len()), (len, 3));
        assert_eq!(index, walk(&b[..len]).unwrap().1);
    }

    #[test]
    fn malformed_maps_are_errors() {
        let mut b = map(3, "v");
        assert!(walk(&b[..b.len() - 1]).is_err());
        b.push(0xc1);
        let mut bad = Vec::new();
        write_map_len(&mut bad, 2);
        write_str(&mut bad, "a");
        write_int(&mut bad, 1);
        bad.push(0xc1);
        assert!(walk(&bad).is_err());
        // A forged count of pairs.
        assert!(walk(&[0xdf, 0xff, 0xff, 0xff, 0xff, 0xa0, 0x01]).is_err());
    }
}
