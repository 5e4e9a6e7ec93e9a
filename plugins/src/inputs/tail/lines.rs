//! Cutting the bytes read from a file into lines, whatever the size of the reads.
//!
//! [`LineSplitter`] takes the bytes of a file in order, in blocks of any size, and hands out each
//! complete line (the bytes before a `\n`) with the file offset where it starts. The result does
//! not depend on how the bytes were cut into blocks: the property test below feeds the same
//! bytes in random pieces and checks that.
//!
//! Rules, following Fluent Bit's tail:
//! - A line ends at `\n`; one `\r` before it is dropped (CRLF files).
//! - NUL bytes at the start of a line are dropped before the line is measured. A file truncated
//!   by `copytruncate` while its writer keeps its old offset fills the gap with NULs; Fluent Bit
//!   skips them the same way.
//! - A line longer than `max_line` bytes (Fluent Bit's `buffer_max_size`) is a long line,
//!   handled as [`LongLines`] says: stop before it (the caller stops following the file,
//!   Fluent Bit's default), drop it whole (`skip_long_lines`), or keep its first `max_line`
//!   bytes, cut at a UTF-8 character boundary, and drop the rest (`truncate_long_lines`).
//! - Bytes after the last `\n` stay pending until the line is completed, or until the caller
//!   decides the file is finished ([`LineSplitter::finish`]).
//!
//! Lines are handed out as slices of the block being fed whenever they lie inside it, so the
//! common case copies nothing; only a line split across two reads is assembled in `partial`.

use memchr::memchr;

/// What to do with a line longer than `max_line`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongLines {
    /// Stop before it and report it.
    Stop,
    /// Drop it.
    Skip,
    /// Hand out its first `max_line` bytes (at a character boundary) and drop the rest.
    Truncate,
}

/// What one call to [`LineSplitter::feed`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fed {
    /// Lines handed out (truncated ones included).
    pub lines: usize,
    /// Long lines dropped or truncated.
    pub long_lines: usize,
    /// A long line was met with [`LongLines::Stop`]: the splitter stopped before it and the
    /// rest of the block was not looked at.
    pub too_long: bool,
}

/// Splits a byte stream into lines. See the module documentation for the rules.
#[derive(Debug, Clone)]
pub struct LineSplitter {
    /// Bytes of the current, incomplete line. Never starts with NUL.
    partial: Vec<u8>,
    /// Stream offset of the first byte not handed out, dropped or skipped: the start of
    /// `partial` (or of whatever comes next when `partial` is empty).
    consumed: u64,
    /// Dropping bytes up to the next `\n` (the rest of a long line).
    skipping: bool,
    max_line: usize,
    long: LongLines,
}

impl LineSplitter {
    /// A splitter whose first byte is at stream offset `start`.
    pub fn new(start: u64, max_line: usize, long: LongLines) -> Self {
        Self {
            partial: Vec::new(),
            consumed: start,
            skipping: false,
            max_line: max_line.max(1),
            long,
        }
    }

    /// The offset up to which every byte has been handed out as a line or dropped: where to
    /// resume reading after a restart without losing or repeating a line.
    pub fn offset(&self) -> u64 {
        self.consumed
    }

    /// The offset just past every byte fed so far.
    pub fn fed_offset(&self) -> u64 {
        self.consumed + self.partial.len() as u64
    }

    /// The pending, incomplete line.
    pub fn pending(&self) -> &[u8] {
        &self.partial
    }

    /// Starts over at `offset`, forgetting any pending bytes (after a truncation).
    pub fn reset(&mut self, offset: u64) {
        self.partial.clear();
        self.skipping = false;
        self.consumed = offset;
    }

    /// Feeds the bytes that follow everything fed before. `line` gets each complete line
    /// (without `\n` and a trailing `\r`) and the stream offset where it starts.
    pub fn feed(&mut self, mut data: &[u8], mut line: impl FnMut(&[u8], u64)) -> Fed {
        let mut fed = Fed::default();
        while !data.is_empty() {
            if self.skipping {
                match memchr(b'\n', data) {
                    Some(i) => {
                        self.consumed += i as u64 + 1;
                        data = &data[i + 1..];
                        self.skipping = false;
                    }
                    None => {
                        self.consumed += data.len() as u64;
                        data = &[];
                    }
                }
                continue;
            }
            if self.partial.is_empty() {
                let nuls = data.iter().take_while(|b| **b == 0).count();
                self.consumed += nuls as u64;
                data = &data[nuls..];
                if data.is_empty() {
                    break;
                }
            }
            let newline = memchr(b'\n', data);
            let taken = newline.unwrap_or(data.len());
            let total = self.partial.len() + taken;
            if total > self.max_line {
                if self.long == LongLines::Stop {
                    fed.too_long = true;
                    return fed;
                }
                fed.long_lines += 1;
                if self.long == LongLines::Truncate {
                    let need = (self.max_line + 1)
                        .saturating_sub(self.partial.len())
                        .min(taken);
                    let start = self.consumed;
                    if self.partial.is_empty() {
                        line(cut(&data[..taken], self.max_line), start);
                    } else {
                        self.partial.extend_from_slice(&data[..need]);
                        line(cut(&self.partial, self.max_line), start);
                    }
                    fed.lines += 1;
                }
                self.partial.clear();
                self.consumed += total as u64;
                match newline {
                    Some(i) => {
                        self.consumed += 1;
                        data = &data[i + 1..];
                    }
                    None => {
                        self.skipping = true;
                        data = &[];
                    }
                }
                continue;
            }
            match newline {
                Some(i) => {
                    if self.partial.is_empty() {
                        line(trim_cr(&data[..i]), self.consumed);
                    } else {
                        self.partial.extend_from_slice(&data[..i]);
                        line(trim_cr(&self.partial), self.consumed);
                        self.partial.clear();
                    }
                    fed.lines += 1;
                    self.consumed += total as u64 + 1;
                    data = &data[i + 1..];
                }
                None => {
                    self.partial.extend_from_slice(data);
                    data = &[];
                }
            }
        }
        fed
    }

    /// Hands out the pending bytes as a last line, when the file is known to be finished (end
    /// of file with `exit_on_eof`, or a rotated file being closed). Returns whether there was
    /// one.
    pub fn finish(&mut self, mut line: impl FnMut(&[u8], u64)) -> bool {
        if self.partial.is_empty() {
            return false;
        }
        line(trim_cr(&self.partial), self.consumed);
        self.consumed += self.partial.len() as u64;
        self.partial.clear();
        true
    }
}

/// The first `max` bytes of a longer `line`, shortened to end at a UTF-8 character boundary.
fn cut(line: &[u8], max: usize) -> &[u8] {
    let mut c = max.min(line.len());
    while c > 0 && line.get(c).is_some_and(|b| b & 0xC0 == 0x80) {
        c -= 1;
    }
    &line[..c]
}

#[inline]
fn trim_cr(line: &[u8]) -> &[u8] {
    match line.split_last() {
        Some((b'\r', rest)) => rest,
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split(s: &mut LineSplitter, data: &[u8]) -> (Vec<(String, u64)>, Fed) {
        let mut out = Vec::new();
        let fed = s.feed(data, |l, off| {
            out.push((String::from_utf8_lossy(l).into_owned(), off))
        });
        (out, fed)
    }

    fn owned(v: &[(&str, u64)]) -> Vec<(String, u64)> {
        v.iter().map(|(s, o)| (s.to_string(), *o)).collect()
    }

    #[test]
    fn lines_and_offsets() {
        let mut s = LineSplitter::new(100, 1000, LongLines::Stop);
        let (lines, fed) = split(&mut s, b"one\ntwo\r\n\nthree");
        assert_eq!(lines, owned(&[("one", 100), ("two", 104), ("", 109)]));
        assert_eq!(
            fed,
            Fed {
                lines: 3,
                long_lines: 0,
                too_long: false
            }
        );
        assert_eq!(s.offset(), 110);
        assert_eq!(s.pending(), b"three");
        assert_eq!(s.fed_offset(), 115);
        let (lines, _) = split(&mut s, b" more\nfour\n");
        assert_eq!(lines, owned(&[("three more", 110), ("four", 121)]));
        assert_eq!(s.offset(), 126);
        assert!(s.pending().is_empty());
    }

    #[test]
    fn partial_line_waits_then_finish_hands_it_out() {
        let mut s = LineSplitter::new(0, 1000, LongLines::Stop);
        let (lines, _) = split(&mut s, b"abc");
        assert!(lines.is_empty());
        assert_eq!(s.offset(), 0);
        let mut last = Vec::new();
        assert!(s.finish(|l, off| last.push((l.to_vec(), off))));
        assert_eq!(last, vec![(b"abc".to_vec(), 0)]);
        assert_eq!(s.offset(), 3);
        assert!(!s.finish(|_, _| {}));
    }

    #[test]
    fn crlf_only_line_is_empty() {
        let mut s = LineSplitter::new(0, 1000, LongLines::Stop);
        let (lines, _) = split(&mut s, b"\r\na\r\r\n");
        assert_eq!(lines, owned(&[("", 0), ("a\r", 2)]));
    }

    #[test]
    fn leading_nuls_are_dropped() {
        let mut s = LineSplitter::new(0, 4, LongLines::Stop);
        // A copytruncate gap longer than max_line must not count as a long line.
        let (lines, fed) = split(&mut s, b"\0\0\0\0\0\0\0\0ab\n\0c\n");
        assert_eq!(lines, owned(&[("ab", 8), ("c", 12)]));
        assert!(!fed.too_long);
        assert_eq!(s.offset(), 14);
    }

    #[test]
    fn long_complete_line_stops_without_skip() {
        let mut s = LineSplitter::new(0, 4, LongLines::Stop);
        let (lines, fed) = split(&mut s, b"ok\ntoolong\nafter\n");
        assert_eq!(lines, owned(&[("ok", 0)]));
        assert!(fed.too_long);
        assert_eq!(s.offset(), 3, "stops just before the long line");
    }

    #[test]
    fn long_partial_line_stops_without_skip() {
        let mut s = LineSplitter::new(0, 4, LongLines::Stop);
        let (_, fed) = split(&mut s, b"ab");
        assert!(!fed.too_long);
        let (_, fed) = split(&mut s, b"cde");
        assert!(fed.too_long);
        assert_eq!(s.offset(), 0);
    }

    #[test]
    fn long_lines_are_skipped_whole() {
        let mut s = LineSplitter::new(0, 4, LongLines::Skip);
        let (lines, fed) = split(&mut s, b"ok\ntoolong\nfine\nlongest");
        assert_eq!(lines, owned(&[("ok", 0), ("fine", 11)]));
        assert_eq!(fed.long_lines, 2);
        let (lines, fed) = split(&mut s, b"_still\nnext\n");
        assert_eq!(lines, owned(&[("next", 30)]));
        assert_eq!(
            fed.long_lines, 0,
            "the rest of a skipped line is not counted again"
        );
        assert_eq!(s.offset(), 35);
    }

    #[test]
    fn long_lines_are_truncated_at_a_character_boundary() {
        let mut s = LineSplitter::new(0, 5, LongLines::Truncate);
        let (lines, fed) = split(&mut s, "ab\u{e9}\u{e9}\u{e9}\nok\nxyz".as_bytes());
        // "ab" + 3 bytes of "éé" would cut the second é: keep "abé".
        assert_eq!(lines, owned(&[("ab\u{e9}", 0), ("ok", 9)]));
        assert_eq!(fed.long_lines, 1);
        let (lines, fed) = split(&mut s, b"uvwxyz");
        assert_eq!(lines, owned(&[("xyzuv", 12)]));
        assert_eq!(fed.long_lines, 1);
        let (lines, _) = split(&mut s, b"rest\nnext\n");
        assert_eq!(lines, owned(&[("next", 26)]));
    }

    #[test]
    fn line_of_exactly_max_fits() {
        let mut s = LineSplitter::new(0, 4, LongLines::Stop);
        let (lines, fed) = split(&mut s, b"abcd\n");
        assert_eq!(lines, owned(&[("abcd", 0)]));
        assert!(!fed.too_long);
    }

    #[test]
    fn reset_forgets_pending() {
        let mut s = LineSplitter::new(0, 100, LongLines::Stop);
        split(&mut s, b"a\npartial");
        s.reset(0);
        assert!(s.pending().is_empty());
        let (lines, _) = split(&mut s, b"new\n");
        assert_eq!(lines, owned(&[("new", 0)]));
    }

    /// Feeds `data` cut at `cuts`, then finishes; returns every line, the counts and the end
    /// state.
    fn run(
        data: &[u8],
        cuts: &[usize],
        max: usize,
        long: LongLines,
    ) -> (Vec<(Vec<u8>, u64)>, usize, bool, u64) {
        let mut s = LineSplitter::new(7, max, long);
        let mut lines = Vec::new();
        let mut skipped = 0;
        let mut too_long = false;
        let mut at = 0;
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        points.sort_unstable();
        points.push(data.len());
        for p in points {
            let fed = s.feed(&data[at..p], |l, off| lines.push((l.to_vec(), off)));
            skipped += fed.long_lines;
            at = p;
            if fed.too_long {
                too_long = true;
                break;
            }
        }
        if !too_long {
            s.finish(|l, off| lines.push((l.to_vec(), off)));
        }
        (lines, skipped, too_long, s.offset())
    }

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![4 => Just(b'\n'), 2 => Just(b'\r'), 2 => Just(0u8), 10 => b'a'..=b'e'],
            0..200,
        )
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_same_lines(
            data in bytes(),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
            max in 1usize..12,
            long in prop_oneof![Just(LongLines::Stop), Just(LongLines::Skip), Just(LongLines::Truncate)],
        ) {
            let whole = run(&data, &[], max, long);
            let pieces = run(&data, &cuts, max, long);
            prop_assert_eq!(whole, pieces);
        }

        #[test]
        fn lines_have_no_newline_and_offsets_grow(data in bytes(), max in 1usize..12, truncate in any::<bool>()) {
            let long = if truncate { LongLines::Truncate } else { LongLines::Skip };
            let (lines, _, _, end) = run(&data, &[], max, long);
            let mut last = None;
            for (l, off) in &lines {
                prop_assert!(!l.contains(&b'\n'));
                prop_assert!(l.len() <= max);
                prop_assert!(last.is_none_or(|p| *off > p));
                last = Some(*off);
            }
            prop_assert_eq!(end, 7 + data.len() as u64);
        }
    }
}
