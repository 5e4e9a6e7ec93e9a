//! One followed file: its identity, where reading stands, and how its bytes become records.
//!
//! Reading is split in two so the blocking part can run on a blocking thread: [`read_block`]
//! does the system calls (size check, then `pread` at the current position) and
//! [`TailFile::consume`] cuts what was read into lines and encodes them into the batch.
//!
//! Offsets. `read_pos` is where the next read starts. [`TailFile::commit_offset`] is where a
//! restart must resume: past every line already handed to the engine, before any pending
//! partial line, and before the first line of a multiline message still being assembled.

use super::db::FileId;
use super::lines::{Fed, LineSplitter, LongLines};
use super::record::RecordLayout;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use weir_event::event::write_head;
use weir_event::EventTime;
use weir_parser::multiline::Emitted;
use weir_parser::{Multiline, Parser};

/// What a blocking read found.
#[derive(Debug)]
pub enum ReadResult {
    /// `n` bytes were read into the buffer (0: end of file).
    Data(usize),
    /// The file is now shorter than where reading stood: it was truncated.
    Truncated { size: u64 },
}

/// Reads up to `buf.len()` bytes at `pos`, after checking that the file was not truncated.
/// Blocking: meant for `spawn_blocking`.
pub fn read_block(file: &File, pos: u64, buf: &mut [u8]) -> io::Result<ReadResult> {
    let size = file.metadata()?.len();
    if size < pos {
        return Ok(ReadResult::Truncated { size });
    }
    loop {
        match file.read_at(buf, pos) {
            Ok(n) => return Ok(ReadResult::Data(n)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The real path of an open file, as the kernel knows it (`/proc/self/fd`), with whether the
/// file was deleted. `None` where `/proc` is not available.
pub fn real_name(file: &File) -> Option<(PathBuf, bool)> {
    use std::os::fd::AsRawFd;
    let link = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?;
    let s = link.to_string_lossy();
    match s.strip_suffix(" (deleted)") {
        Some(base) => Some((PathBuf::from(base), true)),
        None => Some((link, false)),
    }
}

/// Everything that turns lines into records, shared by the files of one tail.
pub struct Encoder<'a> {
    pub layout: &'a RecordLayout,
    pub parser: Option<&'a Parser>,
    pub skip_empty: bool,
    /// Time of records whose line has none: the time the block was read.
    pub now: EventTime,
    pub batch: &'a mut Vec<u8>,
    pub records: usize,
}

impl Encoder<'_> {
    /// Encodes one line without multiline handling.
    #[inline]
    fn line(&mut self, path_pair: &[u8], line: &[u8], offset: u64) {
        if let Some(p) = self.parser {
            let pos = self.batch.len();
            if p.parse_event(line, self.now, self.batch).is_ok() {
                self.layout.append_extra(self.batch, pos, path_pair, offset);
                self.records += 1;
                return;
            }
            // Fluent Bit keeps a line its parser rejects, as text under `key`.
        }
        self.layout
            .write_raw(self.batch, self.now, path_pair, offset, line);
        self.records += 1;
    }

    /// Encodes a record completed by the multiline parser.
    fn multiline(&mut self, path_pair: &[u8], r: &Emitted<'_>, offset: u64) {
        let pos = self.batch.len();
        if r.truncated {
            // Fluent Bit marks a cut message in the metadata.
            let mut meta = Vec::with_capacity(24);
            meta.push(0x81);
            weir_event::value::write_str_bytes(&mut meta, b"multiline_truncated");
            meta.push(0xc3);
            write_head(self.batch, r.time, &meta);
            let body_at = self.batch.len();
            self.batch.extend_from_slice(r.body);
            self.layout
                .append_extra_at(self.batch, body_at, path_pair, offset);
        } else {
            write_head(self.batch, r.time, &[]);
            self.batch.extend_from_slice(r.body);
            self.layout.append_extra(self.batch, pos, path_pair, offset);
        }
        self.records += 1;
    }
}

/// Multiline state of one file.
pub struct FileMultiline {
    pub ml: Multiline,
    /// Offset of the first line of the message being assembled, if any.
    pending_since: Option<u64>,
}

/// A followed file.
pub struct TailFile {
    pub id: FileId,
    /// The current name (the new one after a rotation).
    pub name: PathBuf,
    /// The name it was found under: the value of `path_key`, as in Fluent Bit.
    pub orig_name: String,
    /// The real path (through links), for matching watcher events.
    pub real: PathBuf,
    pub tag: String,
    pub file: Arc<File>,
    /// Where the next read starts.
    pub read_pos: u64,
    pub splitter: LineSplitter,
    /// The encoded `path_key` pair for this file.
    path_pair: Vec<u8>,
    pub multiline: Option<FileMultiline>,
    /// When the file was found rotated (renamed away from its path).
    pub rotated: Option<tokio::time::Instant>,
    /// Has data to read, as far as tail knows.
    pub dirty: bool,
    /// The last read reached the end of the file.
    pub at_eof: bool,
    /// Found at start and not yet read to its end once (Fluent Bit's static files).
    pub static_mode: bool,
    /// The offset last written to the store.
    pub stored: u64,
    /// Bytes from the start already advised out of the page cache.
    pub advised: u64,
    /// A long-line warning was logged.
    pub warned_long: bool,
    /// Number shown in log lines as `watch_fd`.
    pub watch_id: u64,
}

impl TailFile {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: FileId,
        name: PathBuf,
        file: File,
        tag: String,
        start: u64,
        layout: &RecordLayout,
        max_line: usize,
        long_lines: LongLines,
        multiline: Option<Multiline>,
        static_mode: bool,
        watch_id: u64,
    ) -> Self {
        let orig_name = name.to_string_lossy().into_owned();
        let real = real_name(&file)
            .map(|(p, _)| p)
            .unwrap_or_else(|| name.clone());
        Self {
            id,
            path_pair: layout.path_pair(&orig_name),
            orig_name,
            name,
            real,
            tag,
            file: Arc::new(file),
            read_pos: start,
            splitter: LineSplitter::new(start, max_line, long_lines),
            multiline: multiline.map(|ml| FileMultiline {
                ml,
                pending_since: None,
            }),
            rotated: None,
            dirty: true,
            at_eof: false,
            static_mode,
            stored: start,
            advised: 0,
            warned_long: false,
            watch_id,
        }
    }

    /// Whether a watcher event on `path` concerns this file.
    pub fn answers_to(&self, path: &Path) -> bool {
        self.name == path || self.real == path
    }

    /// Where to resume after a restart.
    pub fn commit_offset(&self) -> u64 {
        let done = self.splitter.offset();
        match self.multiline.as_ref().and_then(|m| m.pending_since) {
            Some(p) => p.min(done),
            None => done,
        }
    }

    /// Cuts `data` (the bytes just read at `read_pos`) into lines and encodes them. Advances
    /// `read_pos`. Returns what the splitter did; on `too_long` the bytes from the long line on
    /// were not used and `read_pos` stops at its start.
    pub fn consume(&mut self, data: &[u8], enc: &mut Encoder<'_>, now: std::time::Instant) -> Fed {
        let Self {
            splitter,
            path_pair,
            multiline,
            ..
        } = self;
        let fed = match multiline {
            None => splitter.feed(data, |line, off| {
                if !(enc.skip_empty && line.is_empty()) {
                    enc.line(path_pair, line, off);
                }
            }),
            Some(m) => splitter.feed(data, |line, off| {
                if !(enc.skip_empty && line.is_empty()) {
                    feed_multiline(m, enc, path_pair, line, off, now);
                }
            }),
        };
        self.read_pos = if fed.too_long {
            self.splitter.fed_offset()
        } else {
            self.read_pos + data.len() as u64
        };
        fed
    }

    /// Hands out the pending partial line as a last line (the file is finished).
    pub fn finish_partial(&mut self, enc: &mut Encoder<'_>, now: std::time::Instant) {
        let Self {
            splitter,
            path_pair,
            multiline,
            ..
        } = self;
        match multiline {
            None => {
                splitter.finish(|line, off| {
                    if !(enc.skip_empty && line.is_empty()) {
                        enc.line(path_pair, line, off)
                    }
                });
            }
            Some(m) => {
                splitter.finish(|line, off| {
                    if !(enc.skip_empty && line.is_empty()) {
                        feed_multiline(m, enc, path_pair, line, off, now)
                    }
                });
            }
        }
    }

    /// Emits the multiline messages that waited long enough.
    pub fn flush_expired(&mut self, enc: &mut Encoder<'_>, now: std::time::Instant) {
        let Some(m) = self.multiline.as_mut() else {
            return;
        };
        let offset = self.splitter.offset();
        let path_pair = &self.path_pair;
        m.ml.flush_expired(now, &mut |r| enc.multiline(path_pair, &r, offset));
        if !m.ml.has_pending() {
            m.pending_since = None;
        }
    }

    /// Emits every multiline message still being assembled (end of file, shutdown).
    pub fn flush_multiline(&mut self, enc: &mut Encoder<'_>) {
        let Some(m) = self.multiline.as_mut() else {
            return;
        };
        let offset = self.splitter.offset();
        let path_pair = &self.path_pair;
        m.ml.flush_all(&mut |r| enc.multiline(path_pair, &r, offset));
        m.pending_since = None;
    }

    /// When the next multiline message will be due.
    pub fn multiline_deadline(&self) -> Option<std::time::Instant> {
        self.multiline.as_ref().and_then(|m| m.ml.next_deadline())
    }

    /// Starts over at the beginning after a truncation; pending data is dropped.
    pub fn truncated(&mut self) {
        self.read_pos = 0;
        self.splitter.reset(0);
        if let Some(m) = self.multiline.as_mut() {
            m.pending_since = None;
        }
        self.advised = 0;
    }
}

/// Feeds one line to a file's multiline state, keeping track of where the message being
/// assembled starts.
fn feed_multiline(
    m: &mut FileMultiline,
    enc: &mut Encoder<'_>,
    path_pair: &[u8],
    line: &[u8],
    off: u64,
    now: std::time::Instant,
) {
    let mut emitted = false;
    let time = enc.now;
    m.ml.feed_line(0, line, time, now, &mut |r| {
        emitted = true;
        enc.multiline(path_pair, &r, off);
    });
    if !m.ml.has_pending() {
        m.pending_since = None;
    } else if emitted || m.pending_since.is_none() {
        // Something was emitted while this line was fed, and something is still pending:
        // the message being assembled is the one this line started.
        m.pending_since = Some(off);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn layout() -> RecordLayout {
        RecordLayout::new("log", None, Some("off"))
    }

    fn open(path: &Path, layout: &RecordLayout, ml: Option<Multiline>) -> TailFile {
        let f = File::open(path).unwrap();
        let id = FileId::of(&f.metadata().unwrap());
        TailFile::new(
            id,
            path.to_path_buf(),
            f,
            "t".into(),
            0,
            layout,
            1000,
            LongLines::Stop,
            ml,
            true,
            1,
        )
    }

    fn read_all(tf: &mut TailFile, enc: &mut Encoder<'_>) {
        let mut buf = vec![0u8; 7];
        loop {
            match read_block(&tf.file.clone(), tf.read_pos, &mut buf).unwrap() {
                ReadResult::Data(0) => return,
                ReadResult::Data(n) => {
                    tf.consume(&buf[..n], enc, std::time::Instant::now());
                }
                ReadResult::Truncated { .. } => panic!("not truncated"),
            }
        }
    }

    #[test]
    fn reads_lines_with_offsets_in_small_reads() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        std::fs::write(&p, b"first line\nsecond\r\n\nthird partial").unwrap();
        let l = layout();
        let mut tf = open(&p, &l, None);
        let mut batch = Vec::new();
        let mut enc = Encoder {
            layout: &l,
            parser: None,
            skip_empty: true,
            now: EventTime::new(1, 0),
            batch: &mut batch,
            records: 0,
        };
        read_all(&mut tf, &mut enc);
        assert_eq!(enc.records, 2);
        assert_eq!(tf.commit_offset(), 20);
        assert_eq!(tf.read_pos, 33);
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b" done\n").unwrap();
        read_all(&mut tf, &mut enc);
        assert_eq!(tf.commit_offset(), 39);
        let got = crate::testing::bodies(&batch);
        assert_eq!(
            got,
            [
                r#"{"off":0,"log":"first line"}"#,
                r#"{"off":11,"log":"second"}"#,
                r#"{"off":20,"log":"third partial done"}"#
            ]
        );
    }

    #[test]
    fn truncation_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        std::fs::write(&p, b"0123456789\n").unwrap();
        let f = File::open(&p).unwrap();
        std::fs::write(&p, b"x\n").unwrap();
        let mut buf = vec![0u8; 16];
        assert!(matches!(
            read_block(&f, 11, &mut buf).unwrap(),
            ReadResult::Truncated { size: 2 }
        ));
        assert!(matches!(
            read_block(&f, 2, &mut buf).unwrap(),
            ReadResult::Data(0)
        ));
    }

    #[test]
    fn real_name_follows_renames_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        std::fs::write(&p, b"").unwrap();
        let f = File::open(&p).unwrap();
        let Some((name, deleted)) = real_name(&f) else {
            return;
        };
        assert_eq!(name, p.canonicalize().unwrap());
        assert!(!deleted);
        let q = dir.path().join("a.log.1");
        std::fs::rename(&p, &q).unwrap();
        assert_eq!(real_name(&f).unwrap().0, q.canonicalize().unwrap());
        std::fs::remove_file(&q).unwrap();
        assert!(real_name(&f).unwrap().1);
    }
}
