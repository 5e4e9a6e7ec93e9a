//! The store: creating chunks, reading them back, settling them per output, and the figures.
//!
//! One lock guards the catalogue ([`Index`]). It is held for bookkeeping and for the small
//! positioned write of an acknowledgement (so two outputs acking the same chunk at once cannot
//! write their slots out of order), never across an append, a read or a dead-letter copy.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use weir_event::Signal;

use crate::format::{make_nonce, AckState, Header, SLOTS_LEN};
use crate::index::{ChunkId, ChunkInfo, Entry, Index, StorageStats};
use crate::options::{LOCK_FILE, QUARANTINE_DIR};
use crate::recovery::{self, RecoveryReport};
use crate::scan::{BlockScanner, Item};
use crate::sync::{Durable, Syncer, Ticket};
use crate::writer::ChunkWriter;
use crate::{Error, Options};

/// A filesystem chunk store rooted at `storage.path`. Cheap to clone; every clone is the same
/// store. All methods block on file I/O: call them from blocking threads.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    options: Options,
    index: Mutex<Index>,
    syncer: Syncer,
    /// Held locked while the store is open; closing it releases the lock.
    _lock: File,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

/// A chunk's events, read back for replay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChunkData {
    /// Encoded events back to back, from every intact block.
    pub events: Vec<u8>,
    pub records: u64,
    /// Records in blocks found damaged by this read (known from intact block headers).
    pub lost_records: u64,
    /// Whether damaged bytes may have held more records than counted.
    pub lost_unknown: bool,
}

/// What an acknowledgement or a rejection did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// Outputs still owed the chunk.
    pub remaining: usize,
    /// The chunk file was deleted: every output had settled it.
    pub deleted: bool,
    /// Where a rejected chunk was copied (`storage.keep.rejected`).
    pub dead_letter: Option<PathBuf>,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Keeps letters, digits, `.`, `-` and `_`, replaces the rest, and shortens, so any tag or name
/// makes a safe piece of a file name.
fn sanitize(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(max)
        .collect()
}

/// The directory name the dead-letter path occupies under the root, if it is under the root.
pub(crate) fn rejected_dir_name(options: &Options) -> Option<String> {
    match options.rejected_path.components().next() {
        Some(Component::Normal(c)) => c.to_str().map(str::to_string),
        _ => None,
    }
}

/// Whether `stream` can name a stream directory.
pub(crate) fn valid_stream(stream: &str, options: &Options) -> bool {
    !stream.is_empty()
        && stream.len() <= 255
        && !stream.starts_with('.')
        && !stream.contains(['/', '\\', '\0'])
        && stream != QUARANTINE_DIR
        && rejected_dir_name(options).as_deref() != Some(stream)
}

impl Store {
    /// Opens the store at `root` (creating the directory if needed) and recovers every chunk
    /// under it: see [`RecoveryReport`]. Fails only when the root itself cannot be created or
    /// listed, another store holds it ([`Error::Locked`]), or the sync thread cannot start;
    /// never because of a chunk file.
    pub fn open(
        root: impl AsRef<Path>,
        options: Options,
    ) -> Result<(Store, RecoveryReport), Error> {
        let root = root.as_ref().to_path_buf();
        fs::create_dir_all(&root).map_err(|e| Error::io("create", &root, e))?;
        let lock = lock_root(&root)?;
        let syncer = Syncer::start(options.sync, options.sync_interval)?;
        let mut index = Index::default();
        let report = recovery::recover(&root, &options, &mut index)?;
        let store = Store {
            inner: Arc::new(Inner {
                root,
                options,
                index: Mutex::new(index),
                syncer,
                _lock: lock,
            }),
        };
        Ok((store, report))
    }

    /// The root directory (`storage.path`).
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        // Nothing panics while holding the lock; should something, the catalogue is still
        // usable (each update is a few assignments).
        self.inner
            .index
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn syncer(&self) -> &Syncer {
        &self.inner.syncer
    }

    /// Starts a chunk in `stream` (an input instance name such as `tail.0`), owed to `outputs`
    /// (output instance names, at most 64, resolved by routing once, now).
    pub fn create(
        &self,
        stream: &str,
        tag: &str,
        signal: Signal,
        outputs: &[&str],
    ) -> Result<ChunkWriter, Error> {
        if !valid_stream(stream, &self.inner.options) {
            return Err(Error::InvalidStream(stream.to_string()));
        }
        Header::check_limits(tag, outputs)?;
        if outputs.is_empty() {
            return Err(Error::NoOutputs);
        }
        for (i, o) in outputs.iter().enumerate() {
            if outputs[..i].contains(o) {
                return Err(Error::DuplicateOutput((*o).to_string()));
            }
        }
        let dir = self.inner.root.join(stream);
        let known = self.lock().known_stream(stream);
        let stream = match known {
            Some(s) => s,
            None => {
                fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
                self.syncer().dir_changed(&self.inner.root);
                self.lock().add_stream(stream)
            }
        };
        let (id, outputs) = {
            let mut ix = self.lock();
            let id = ix.allocate(stream, now_ns());
            let outputs: Vec<Arc<str>> = outputs.iter().map(|o| ix.intern(o)).collect();
            (id, outputs)
        };
        let nonce = make_nonce(id.created_ns(), id.seq());
        let header = Header {
            signal,
            created_ns: id.created_ns(),
            nonce,
            tag: tag.to_string(),
            outputs: outputs.iter().map(|o| o.to_string()).collect(),
        };
        let hbytes = header.encode()?;
        let acks = AckState {
            generation: 1,
            ..AckState::default()
        };
        let mut head = Vec::with_capacity(2 * hbytes.len() + SLOTS_LEN);
        head.extend_from_slice(&hbytes);
        head.extend_from_slice(&hbytes);
        head.extend_from_slice(&acks.encode_slots(nonce));
        let path = dir.join(id.file_name());
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io("create", &path, e))?;
        if let Err(e) = file.write_all_at(&head, 0) {
            let _ = fs::remove_file(&path);
            return Err(Error::io("write the header of", &path, e));
        }
        let file = Arc::new(file);
        self.syncer().dir_changed(&dir);
        let ticket = self.syncer().written(&path, Some(&file));
        let slots_at = 2 * hbytes.len() as u64;
        let body_start = slots_at + SLOTS_LEN as u64;
        self.lock().insert(
            id.clone(),
            Entry {
                path: path.clone(),
                tag: Arc::from(tag),
                signal,
                nonce,
                slots_at,
                body_start,
                outputs,
                settled: 0,
                generation: 1,
                sealed: false,
                records: 0,
                bytes: body_start,
                open: true,
                up: true,
                read_damage_counted: false,
            },
        );
        Ok(ChunkWriter::new(
            self.clone(),
            id,
            path,
            file,
            nonce,
            slots_at,
            body_start,
            ticket,
        ))
    }

    pub(crate) fn note_append(&self, id: &ChunkId, bytes: u64, records: u64) {
        self.lock().grow(id, bytes, records);
    }

    /// A writer is done (closed, or dropped): the chunk becomes routable.
    pub(crate) fn finish(&self, id: &ChunkId, generation: u32, sealed: bool) -> Option<ChunkInfo> {
        let mut ix = self.lock();
        let e = ix.get_mut(id)?;
        e.open = false;
        e.generation = generation;
        e.sealed = sealed;
        Some(e.info(id))
    }

    /// Reads a chunk's events, one chunk at a time, so replay memory is bounded by the caller
    /// (`storage.backlog.mem_limit`). Damaged blocks are left out and counted in the result;
    /// payload CRCs are verified with `storage.checksum`.
    pub fn read(&self, id: &ChunkId) -> Result<ChunkData, Error> {
        let (path, nonce, body_start, end) = {
            let ix = self.lock();
            let e = ix.get(id).ok_or_else(|| Error::UnknownChunk(id.clone()))?;
            // Up to what appends have completed: a block being written is not read half-done.
            (e.path.clone(), e.nonce, e.body_start, e.bytes)
        };
        let file = File::open(&path).map_err(|e| Error::io("open", &path, e))?;
        let read_err = |e| Error::io("read", &path, e);
        let mut scanner = BlockScanner::new(
            &file,
            nonce,
            body_start,
            end,
            true,
            self.inner.options.checksum,
        )
        .map_err(read_err)?;
        let mut data = ChunkData {
            events: Vec::with_capacity(end.saturating_sub(body_start) as usize),
            ..ChunkData::default()
        };
        while let Some(item) = scanner.next_item().map_err(read_err)? {
            match item {
                Item::Block {
                    records, payload, ..
                } => {
                    data.events.extend_from_slice(payload.unwrap_or(&[]));
                    data.records += u64::from(records);
                }
                Item::Bad { records, .. } => match records {
                    Some(r) => data.lost_records += u64::from(r),
                    None => data.lost_unknown = true,
                },
            }
        }
        if data.lost_records > 0 || data.lost_unknown {
            let mut ix = self.lock();
            let first = ix
                .get_mut(id)
                .is_some_and(|e| !std::mem::replace(&mut e.read_damage_counted, true));
            if first {
                ix.counters.damaged += 1;
                ix.counters.lost_records += data.lost_records;
            }
        }
        Ok(data)
    }

    /// Records that `output` accepted the chunk. Durable before it returns Ok (written in
    /// place; fsynced in the next round with `storage.sync full`), so after a restart the chunk
    /// is not sent to `output` again. When every output has settled, the file is deleted.
    /// Acknowledging twice is harmless.
    ///
    /// An `Err` after the chunk was found means the acknowledgement is kept in memory but could
    /// not be written: after a restart `output` may get the chunk again (at least once).
    pub fn ack(&self, id: &ChunkId, output: &str) -> Result<Settled, Error> {
        self.settle(id, output, false)
    }

    /// Records that `output` gave up on the chunk (retry limit reached, error, or dropped to
    /// keep `storage.total_limit_size`). With `storage.keep.rejected` the chunk file is first
    /// copied to the dead-letter directory as
    /// `<tag>_<output>_<stream>_<chunk file name>` (names made file-safe).
    pub fn reject(&self, id: &ChunkId, output: &str) -> Result<Settled, Error> {
        self.settle(id, output, true)
    }

    fn settle(&self, id: &ChunkId, output: &str, reject: bool) -> Result<Settled, Error> {
        let (bit, path, tag) = {
            let ix = self.lock();
            let e = ix.get(id).ok_or_else(|| Error::UnknownChunk(id.clone()))?;
            if e.open {
                return Err(Error::StillOpen(id.clone()));
            }
            let bit = e
                .outputs
                .iter()
                .position(|o| &**o == output)
                .ok_or_else(|| Error::UnknownOutput {
                    chunk: id.clone(),
                    output: output.to_string(),
                })?;
            if e.settled & (1 << bit) != 0 {
                return Ok(Settled {
                    remaining: e.info(id).owed.len(),
                    deleted: false,
                    dead_letter: None,
                });
            }
            (bit, e.path.clone(), e.tag.clone())
        };
        // Copied before the output is marked settled, so the file cannot be deleted under the
        // copy by the other outputs settling meanwhile.
        let dead_letter = if reject && self.inner.options.keep_rejected {
            Some(self.copy_to_dead_letter(id, &path, &tag, output)?)
        } else {
            None
        };
        let mut ix = self.lock();
        let already = ix
            .get(id)
            .ok_or_else(|| Error::UnknownChunk(id.clone()))?
            .settled
            & (1 << bit)
            != 0;
        if !already {
            ix.settle(id, bit, reject, dead_letter.is_some());
        }
        let Some(e) = ix.get_mut(id) else {
            return Err(Error::UnknownChunk(id.clone()));
        };
        if e.all_settled() {
            let Some(e) = ix.remove(id) else {
                return Err(Error::UnknownChunk(id.clone()));
            };
            drop(ix);
            return match fs::remove_file(&e.path) {
                Ok(()) => {
                    if let Some(dir) = e.path.parent() {
                        self.syncer().dir_changed(dir);
                    }
                    Ok(Settled {
                        remaining: 0,
                        deleted: true,
                        dead_letter,
                    })
                }
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Settled {
                    remaining: 0,
                    deleted: true,
                    dead_letter,
                }),
                Err(err) => {
                    // Leave a record that nothing is owed, so the next start deletes it.
                    let _ = write_slots(&e, e.generation.wrapping_add(1), e.settled);
                    Err(Error::io("delete", &e.path, err))
                }
            };
        }
        e.generation = e.generation.wrapping_add(1);
        let remaining = e.info(id).owed.len();
        let result = write_slots(e, e.generation, e.settled);
        let path = e.path.clone();
        drop(ix);
        result.map_err(|err| Error::io("record an acknowledgement in", &path, err))?;
        self.syncer().written(&path, None);
        Ok(Settled {
            remaining,
            deleted: false,
            dead_letter,
        })
    }

    fn copy_to_dead_letter(
        &self,
        id: &ChunkId,
        path: &Path,
        tag: &str,
        output: &str,
    ) -> Result<PathBuf, Error> {
        let dir = self.inner.root.join(&self.inner.options.rejected_path);
        fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
        let name = format!(
            "{}_{}_{}_{}",
            sanitize(tag, 96),
            sanitize(output, 64),
            sanitize(id.stream(), 64),
            id.file_name()
        );
        let dest = dir.join(name);
        fs::copy(path, &dest)
            .map_err(|e| Error::io("copy to the dead-letter directory", path, e))?;
        self.syncer().written(&dest, None);
        self.syncer().dir_changed(&dir);
        Ok(dest)
    }

    /// What the store knows about one chunk.
    pub fn info(&self, id: &ChunkId) -> Option<ChunkInfo> {
        self.lock().get(id).map(|e| e.info(id))
    }

    /// Every chunk on disk, oldest first (open ones included, flagged).
    pub fn chunks(&self) -> Vec<ChunkInfo> {
        self.lock().chunks().map(|(id, e)| e.info(id)).collect()
    }

    /// Closed chunks still owed to `output`, oldest first: the candidates for `drop_oldest`.
    pub fn output_chunks(&self, output: &str) -> Vec<ChunkId> {
        self.lock().owed_to(output)
    }

    /// Bytes on disk of every chunk (open ones included) still owed to `output`: what
    /// `storage.total_limit_size` bounds.
    pub fn output_bytes(&self, output: &str) -> u64 {
        self.lock().output_bytes(output)
    }

    /// Marks a chunk as loaded in memory (`up`) or not, for the statistics. Returns false for
    /// an unknown chunk.
    pub fn set_up(&self, id: &ChunkId, up: bool) -> bool {
        self.lock().get_mut(id).map(|e| e.up = up).is_some()
    }

    /// Figures for `/api/v1/storage` and metrics.
    pub fn stats(&self) -> StorageStats {
        let mut s = self.lock().stats();
        s.fsyncs = self.syncer().fsyncs();
        s
    }

    /// Whether an append is durable yet (see [`Ticket`]).
    pub fn is_durable(&self, ticket: Ticket) -> Result<bool, Error> {
        self.syncer().is_durable(ticket)
    }

    /// Blocks until an append is durable: at once with `storage.sync normal`; with `full`,
    /// after the next sync round (about `sync_interval` at most, plus the fsyncs).
    pub fn wait_durable(&self, ticket: Ticket) -> Result<(), Error> {
        self.syncer().wait(ticket)
    }

    /// [`Store::wait_durable`] with a time limit; `Ok(false)` when it ran out.
    pub fn wait_durable_timeout(&self, ticket: Ticket, timeout: Duration) -> Result<bool, Error> {
        self.syncer().wait_timeout(ticket, timeout)
    }

    /// A future that resolves when an append is durable, for async callers; it needs no
    /// particular runtime (the sync thread wakes it).
    pub fn durable(&self, ticket: Ticket) -> Durable {
        self.syncer().durable(ticket)
    }
}

/// Takes the root's lock file, so two stores (two processes, or two opens in one) never share a
/// root: the second would take the first one's open chunks for crash leftovers.
fn lock_root(root: &Path) -> Result<File, Error> {
    let path = root.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io("create", &path, e))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(file),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(Error::Locked(root.to_path_buf())),
        Err(e) => Err(Error::io("lock", &path, e.into())),
    }
}

/// Writes both ack slots of a chunk with the given state.
fn write_slots(e: &Entry, generation: u32, settled: u64) -> std::io::Result<()> {
    let acks = AckState {
        generation,
        sealed: e.sealed,
        settled,
        body_len: e.bytes.saturating_sub(e.body_start),
        records: e.records,
    };
    let f = OpenOptions::new().write(true).open(&e.path)?;
    f.write_all_at(&acks.encode_slots(e.nonce), e.slots_at)
}
