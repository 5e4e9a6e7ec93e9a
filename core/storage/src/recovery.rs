//! Recovery at open: every file under the root is looked at once, one at a time.
//!
//! - `<root>/<stream>/<created>-<seq>.wchk` files are chunks. A clean chunk goes into the
//!   catalogue (sealed first if a crash left it open); one every output has settled, or one with
//!   no blocks, is deleted. A damaged chunk (any header copy, ack slot or block not as written)
//!   is salvaged: its intact blocks, verified by CRC, are written to a temporary file that then
//!   replaces it, and the original is set aside in `<root>/quarantine/<stream>/` (or deleted,
//!   with `storage.delete_irrecoverable_chunks`). Nothing is lost silently: every damaged file is
//!   described in the report with the records kept and lost.
//! - `.salvage-*` files in a stream directory are leftovers of a salvage cut short by a crash;
//!   the original is still in place, so they are deleted.
//! - Anything else (other names, directories, symlinks, files directly under the root) is
//!   foreign: counted and left alone. `quarantine/`, the dead-letter directory and the lock file
//!   are skipped.
//! - A file whose intact header names a newer format version is left alone and reported.
//!
//! Nothing here fails because of a file's contents; an I/O error on one file is reported and
//! that file left in place. Memory is bounded by one directory listing and one block; at most
//! two files are open at a time.

use std::ffi::OsString;
use std::fs::{self, File, FileType, OpenOptions};
use std::io::{self, BufWriter};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::format::{parse_file_name, AckState, SLOTS_LEN};
use crate::index::{ChunkId, ChunkInfo, Entry, Index};
use crate::options::{LOCK_FILE, QUARANTINE_DIR};
use crate::scan::{examine, salvage, Examination, HeaderLookup};
use crate::store::{rejected_dir_name, valid_stream};
use crate::{Error, Options};

/// Prefix of the temporary file a salvage writes before it replaces the damaged chunk.
const SALVAGE_PREFIX: &str = ".salvage-";
/// Foreign paths listed by name in the report; the rest are only counted.
const MAX_FOREIGN_EXAMPLES: usize = 16;

/// What recovery found and did.
#[derive(Debug, Clone, Default)]
pub struct RecoveryReport {
    /// Every chunk ready for replay (clean or salvaged), oldest first, with the outputs it is
    /// still owed. Chunks owed to outputs that no longer exist are the caller's to reject.
    pub chunks: Vec<ChunkInfo>,
    /// Damaged chunk files, and what became of them.
    pub damaged: Vec<DamagedChunk>,
    /// Files and directories under the root that are not Weir's: counted, left alone.
    pub foreign: u64,
    /// The first few of them.
    pub foreign_examples: Vec<PathBuf>,
    /// Chunk files of a newer format version: left alone.
    pub unsupported: Vec<PathBuf>,
    /// Chunks every output had settled, deleted.
    pub settled_removed: u64,
    /// Chunk files with nothing in them (created just before a crash), deleted.
    pub empty_removed: u64,
    /// Leftover temporary files of an interrupted salvage, deleted.
    pub temp_removed: u64,
    /// Files that could not be read or moved (left in place), with the error.
    pub errors: Vec<String>,
}

impl RecoveryReport {
    /// Records ready for replay.
    pub fn records(&self) -> u64 {
        self.chunks.iter().map(|c| c.records).sum()
    }
    /// Bytes on disk of the chunks ready for replay.
    pub fn bytes(&self) -> u64 {
        self.chunks.iter().map(|c| c.bytes).sum()
    }
    /// Records kept from damaged chunks.
    pub fn salvaged_records(&self) -> u64 {
        self.damaged.iter().map(|d| d.records_salvaged).sum()
    }
    /// Records known lost to damage.
    pub fn lost_records(&self) -> u64 {
        self.damaged.iter().map(|d| d.records_lost).sum()
    }
}

/// One damaged chunk file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedChunk {
    /// Where it was found.
    pub path: PathBuf,
    pub id: ChunkId,
    /// What was wrong, in a few words.
    pub reason: String,
    /// Records kept in the clean chunk that replaced it.
    pub records_salvaged: u64,
    /// Records known lost.
    pub records_lost: u64,
    /// Whether damage hid how many more records were lost (a block header or both header
    /// copies destroyed in a chunk that had not been sealed).
    pub lost_unknown: bool,
    /// Where the original now is; `None` when it was deleted.
    pub quarantined: Option<PathBuf>,
    /// Whether a clean chunk with the intact blocks replaced it (same id and path).
    pub rewritten: bool,
}

/// Lists a directory, sorted by name (chunk names sort by creation).
fn list_dir(dir: &Path) -> io::Result<Vec<(OsString, FileType)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        out.push((entry.file_name(), entry.file_type()?));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

struct Ctx<'a> {
    root: &'a Path,
    options: &'a Options,
    index: &'a mut Index,
    report: RecoveryReport,
}

impl Ctx<'_> {
    fn foreign(&mut self, path: PathBuf) {
        self.report.foreign += 1;
        if self.report.foreign_examples.len() < MAX_FOREIGN_EXAMPLES {
            self.report.foreign_examples.push(path);
        }
    }
}

pub(crate) fn recover(
    root: &Path,
    options: &Options,
    index: &mut Index,
) -> Result<RecoveryReport, Error> {
    let entries = list_dir(root).map_err(|e| Error::io("list", root, e))?;
    let rejected = rejected_dir_name(options);
    let mut cx = Ctx {
        root,
        options,
        index,
        report: RecoveryReport::default(),
    };
    for (name, kind) in entries {
        let path = root.join(&name);
        let Some(name) = name.to_str() else {
            cx.foreign(path);
            continue;
        };
        if kind.is_dir() && (name == QUARANTINE_DIR || Some(name) == rejected.as_deref()) {
            continue;
        }
        if kind.is_file() && name == LOCK_FILE {
            continue;
        }
        if !kind.is_dir() || !valid_stream(name, options) {
            cx.foreign(path);
            continue;
        }
        recover_stream(&mut cx, name);
    }
    let mut report = cx.report;
    report.chunks.sort_by(|a, b| a.id.cmp(&b.id));
    let c = &mut index.counters;
    c.damaged += report.damaged.len() as u64;
    c.quarantined += report
        .damaged
        .iter()
        .filter(|d| d.quarantined.is_some())
        .count() as u64;
    c.salvaged_records += report.salvaged_records();
    c.lost_records += report.lost_records();
    c.foreign_files += report.foreign;
    Ok(report)
}

fn recover_stream(cx: &mut Ctx<'_>, stream: &str) {
    let dir = cx.root.join(stream);
    let entries = match list_dir(&dir) {
        Ok(e) => e,
        Err(e) => {
            cx.report.errors.push(format!("{}: {e}", dir.display()));
            return;
        }
    };
    let stream_name = cx.index.add_stream(stream);
    for (name, kind) in entries {
        let path = dir.join(&name);
        let Some(name) = name.to_str() else {
            cx.foreign(path);
            continue;
        };
        if name.starts_with(SALVAGE_PREFIX) && kind.is_file() {
            match fs::remove_file(&path) {
                Ok(()) => cx.report.temp_removed += 1,
                Err(e) => cx.report.errors.push(format!("{}: {e}", path.display())),
            }
            continue;
        }
        let Some((created, seq)) = parse_file_name(name) else {
            cx.foreign(path);
            continue;
        };
        if !kind.is_file() {
            cx.foreign(path);
            continue;
        }
        cx.index.saw_created(created);
        let id = ChunkId::new(stream_name.clone(), created, seq);
        if let Err(e) = recover_file(cx, &dir, &path, id) {
            cx.report.errors.push(format!("{}: {e}", path.display()));
        }
    }
}

fn recover_file(cx: &mut Ctx<'_>, dir: &Path, path: &Path, id: ChunkId) -> io::Result<()> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    if len == 0 {
        drop(file);
        fs::remove_file(path)?;
        cx.report.empty_removed += 1;
        return Ok(());
    }
    let exam = examine(&file, len, cx.options.checksum)?;
    let (header, hlen) = match &exam.header {
        HeaderLookup::Found { header, len, .. } => (header.clone(), *len as u64),
        HeaderLookup::Unsupported(_) => {
            cx.report.unsupported.push(path.to_path_buf());
            return Ok(());
        }
        HeaderLookup::Lost(_) => {
            drop(file);
            let quarantined = set_aside(cx, id.stream(), path, false)?;
            cx.report.damaged.push(DamagedChunk {
                path: path.to_path_buf(),
                id,
                reason: exam.describe(),
                records_salvaged: 0,
                records_lost: 0,
                lost_unknown: true,
                quarantined,
                rewritten: false,
            });
            return Ok(());
        }
    };
    let acks = exam.ack_state();
    let all = header.all_outputs_mask();
    if acks.settled & all == all {
        drop(file);
        fs::remove_file(path)?;
        cx.report.settled_removed += 1;
        return Ok(());
    }
    let slots_at = 2 * hlen;
    let body_start = slots_at + SLOTS_LEN as u64;
    if exam.is_clean() {
        drop(file);
        if exam.body.blocks == 0 {
            fs::remove_file(path)?;
            cx.report.empty_removed += 1;
            return Ok(());
        }
        let mut generation = acks.generation;
        let mut sealed = acks.sealed;
        if !sealed {
            // A crash left it open; it will not grow any more. The seal lets a later start tell
            // a cut file from a complete one.
            let seal = AckState {
                generation: generation.wrapping_add(1),
                sealed: true,
                settled: acks.settled,
                body_len: len - body_start,
                records: exam.body.records,
            };
            let w = OpenOptions::new().write(true).open(path);
            match w.and_then(|f| f.write_all_at(&seal.encode_slots(header.nonce), slots_at)) {
                Ok(()) => {
                    generation = seal.generation;
                    sealed = true;
                }
                Err(e) => cx
                    .report
                    .errors
                    .push(format!("sealing {}: {e}", path.display())),
            }
        }
        add_chunk(
            cx,
            id,
            path,
            &header,
            ChunkLayout {
                slots_at,
                body_start,
                bytes: len,
            },
            AckState {
                generation,
                sealed,
                ..acks
            },
            exam.body.records,
        );
        return Ok(());
    }
    salvage_file(cx, dir, path, id, file, &exam, slots_at, body_start)
}

struct ChunkLayout {
    slots_at: u64,
    body_start: u64,
    bytes: u64,
}

fn add_chunk(
    cx: &mut Ctx<'_>,
    id: ChunkId,
    path: &Path,
    header: &crate::format::Header,
    layout: ChunkLayout,
    acks: AckState,
    records: u64,
) {
    let outputs: Vec<Arc<str>> = header.outputs.iter().map(|o| cx.index.intern(o)).collect();
    let entry = Entry {
        path: path.to_path_buf(),
        tag: Arc::from(header.tag.as_str()),
        signal: header.signal,
        nonce: header.nonce,
        slots_at: layout.slots_at,
        body_start: layout.body_start,
        outputs,
        settled: acks.settled & header.all_outputs_mask(),
        generation: acks.generation,
        sealed: acks.sealed,
        records,
        bytes: layout.bytes,
        open: false,
        up: false,
        read_damage_counted: false,
    };
    cx.report.chunks.push(entry.info(&id));
    cx.index.insert(id, entry);
}

#[allow(clippy::too_many_arguments)]
fn salvage_file(
    cx: &mut Ctx<'_>,
    dir: &Path,
    path: &Path,
    id: ChunkId,
    file: File,
    exam: &Examination,
    slots_at: u64,
    body_start: u64,
) -> io::Result<()> {
    let Some(header) = exam.header().cloned() else {
        return Ok(());
    };
    let temp = dir.join(format!("{SALVAGE_PREFIX}{}", id.file_name()));
    let _ = fs::remove_file(&temp);
    let out = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&temp)?;
    let mut w = BufWriter::new(out);
    let result = salvage(&file, exam, &mut w).and_then(|s| {
        let out = w.into_inner().map_err(|e| e.into_error())?;
        Ok((s, out))
    });
    drop(file);
    let (salvaged, out) = match result {
        Ok((Some(s), out)) => (s, out),
        Ok((None, _)) => {
            let _ = fs::remove_file(&temp);
            return Ok(());
        }
        Err(e) => {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
    };
    let all = header.all_outputs_mask();
    let keep = salvaged.body.blocks > 0 && salvaged.acks.settled & all != all;
    if keep {
        if let Err(e) = out.sync_all() {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
    }
    drop(out);
    let quarantined = match set_aside(cx, id.stream(), path, keep) {
        Ok(q) => q,
        Err(e) => {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
    };
    if keep {
        // Atomic: the path holds either the damaged original (still quarantined by a link) or
        // the clean chunk, never nothing.
        fs::rename(&temp, path)?;
    } else {
        let _ = fs::remove_file(&temp);
        if path.exists() {
            fs::remove_file(path)?;
        }
    }
    let _ = sync_dir(dir);
    let mut described = exam.clone();
    described.body = salvaged.body.clone();
    cx.report.damaged.push(DamagedChunk {
        path: path.to_path_buf(),
        id: id.clone(),
        reason: described.describe(),
        records_salvaged: if keep { salvaged.body.records } else { 0 },
        records_lost: salvaged.body.lost_records,
        lost_unknown: salvaged.body.lost_unknown,
        quarantined,
        rewritten: keep,
    });
    if keep {
        add_chunk(
            cx,
            id,
            path,
            &header,
            ChunkLayout {
                slots_at,
                body_start,
                bytes: salvaged.file_len,
            },
            salvaged.acks,
            salvaged.body.records,
        );
    }
    Ok(())
}

/// Sets a damaged original aside: into `quarantine/<stream>/`, linked (when a clean chunk is
/// about to replace it in place) or moved; or, with `storage.delete_irrecoverable_chunks`,
/// nowhere (deleted now, or by the replacement). Returns where it went.
fn set_aside(
    cx: &mut Ctx<'_>,
    stream: &str,
    path: &Path,
    replaced: bool,
) -> io::Result<Option<PathBuf>> {
    if cx.options.delete_irrecoverable_chunks {
        if !replaced {
            fs::remove_file(path)?;
        }
        return Ok(None);
    }
    let qdir = cx.root.join(QUARANTINE_DIR).join(stream);
    fs::create_dir_all(&qdir)?;
    let name = path
        .file_name()
        .map_or_else(|| "chunk".into(), |n| n.to_string_lossy().into_owned());
    let mut dest = qdir.join(&name);
    let mut n = 0u32;
    while dest.exists() {
        n += 1;
        if n > 10_000 {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "too many quarantined copies of this chunk",
            ));
        }
        dest = qdir.join(format!("{name}.{n}"));
    }
    if replaced {
        if fs::hard_link(path, &dest).is_err() {
            fs::copy(path, &dest)?;
        }
    } else if fs::rename(path, &dest).is_err() {
        fs::copy(path, &dest)?;
        fs::remove_file(path)?;
    }
    let _ = sync_dir(&qdir);
    Ok(Some(dest))
}
