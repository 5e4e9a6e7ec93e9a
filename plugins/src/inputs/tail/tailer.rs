//! The running tail: one task that finds files, reads them, emits batches and keeps offsets.
//!
//! The loop: read every file that may have data (to its end, or up to `static_batch_size` /
//! `event_batch_size` before looking at timers and events again), then wait for the next of:
//! a watcher hint, the sweep that reads every file (`progress_check_interval`, or
//! `fstat_interval` when polling), the rotation check (`watcher_interval`), the rescan of
//! `path` (`refresh_interval`), the purge of rotated and deleted files, a multiline message
//! coming due, or the stop.
//!
//! Each read is one block (at least [`READ_BLOCK`](super::config::READ_BLOCK) bytes) taken on
//! a blocking thread; its lines are encoded into one batch buffer, reused for the input's
//! whole life, and handed to the engine in one call. The file's offset is stored after that
//! call returns, never before: a crash can repeat the last batch, never lose it.
//!
//! Reads, scans of `path` and database flushes run on blocking threads; opening a file and
//! the `stat` calls of rotation and deletion checks stay on the task (short metadata calls).
//!
//! Shutdown: multiline messages being assembled are emitted, offsets are stored and the
//! store is flushed. A partial last line is not emitted; its offset is not stored either, so
//! the next run reads it whole.

use super::config::TailConfig;
use super::db::{Entry, FileId, MemStore, OffsetStore, SledStore};
use super::file::{read_block, Encoder, ReadResult, TailFile};
use super::lines::LongLines;
use super::record::RecordLayout;
use super::rotation::{self, PathState};
use super::scan::Found;
use super::sink::Sink;
use super::tag::TagTemplate;
use super::watch::{Hint, Watcher};
use std::collections::HashSet;
use std::fs::{File, Metadata};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::{interval_at, Instant, Interval, MissedTickBehavior};
use weir_core::metrics::Counter;
use weir_core::{debug, error, info, warn};
use weir_event::EventTime;
use weir_parser::Multiline;

/// How a file was found: decides where reading starts when no offset is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Discovery {
    /// By the scan at start (`read_from_head`).
    Startup,
    /// Later (`read_newly_discovered_files_from_head`).
    Later,
}

/// What reading one file came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Read to the end for now.
    Eof,
    /// Stopped at the batch budget; there is more.
    More,
    /// The file cannot be followed any more.
    Remove,
    /// The input is stopping.
    Stopped,
}

struct Counters {
    opened: Arc<Counter>,
    closed: Arc<Counter>,
    rotated: Arc<Counter>,
}

/// The state of a running tail.
pub struct Tail {
    cfg: Arc<TailConfig>,
    template: TagTemplate,
    layout: RecordLayout,
    files: Vec<TailFile>,
    store: Arc<dyn OffsetStore>,
    watcher: Watcher,
    read_buf: Vec<u8>,
    /// Encoded events not yet emitted, and how many.
    batch: Vec<u8>,
    batch_records: usize,
    /// Paths left free by a rotation, with the file that left: the replacement is followed as
    /// soon as it appears.
    vacated: Vec<(PathBuf, FileId)>,
    next_watch_id: u64,
    component: String,
    counters: Counters,
}

/// Runs tail until the sink is cancelled or, with `exit_on_eof`, every file is read.
pub async fn run<S: Sink>(cfg: Arc<TailConfig>, sink: &mut S) -> Result<(), String> {
    let component = sink.component().to_string();
    for w in &cfg.warnings {
        warn!(component, "{}", w);
    }
    let template = cfg.tag.template(sink.tag())?;
    let store: Arc<dyn OffsetStore> = match &cfg.db {
        Some(path) => {
            let (p, mode) = (path.clone(), cfg.db_sync);
            let opened = tokio::task::spawn_blocking(move || SledStore::open(&p, mode))
                .await
                .map_err(|e| format!("cannot open database {}: {e}", path.display()))?;
            Arc::new(opened.map_err(|e| e.to_string())?)
        }
        None => Arc::new(MemStore::default()),
    };
    let watcher = Watcher::new(cfg.inotify, |l| warn!(component, "{}", l));
    let mut tail = Tail {
        layout: RecordLayout::new(&cfg.key, cfg.path_key.as_deref(), cfg.offset_key.as_deref()),
        read_buf: vec![0; cfg.read_size],
        batch: Vec::with_capacity(cfg.read_size * 2),
        batch_records: 0,
        counters: Counters {
            opened: sink.counter("files_opened"),
            closed: sink.counter("files_closed"),
            rotated: sink.counter("files_rotated"),
        },
        cfg,
        template,
        files: Vec::new(),
        store,
        watcher,
        vacated: Vec::new(),
        next_watch_id: 1,
        component,
    };
    tail.scan(Discovery::Startup).await;
    tail.drop_stale_entries();
    let result = tail.run_loop(sink).await;
    tail.shutdown(sink).await;
    result
}

fn every(d: Duration) -> Interval {
    let mut i = interval_at(Instant::now() + d, d);
    i.set_missed_tick_behavior(MissedTickBehavior::Delay);
    i
}

impl Tail {
    async fn run_loop<S: Sink>(&mut self, sink: &mut S) -> Result<(), String> {
        let mut polling = self.watcher.is_polling();
        let (mut sweep, mut rotation) = self.timers(polling);
        let mut refresh = every(self.cfg.refresh_interval);
        let mut purge = every(
            self.cfg
                .rotate_wait
                .clamp(Duration::from_millis(100), Duration::from_secs(1)),
        );
        loop {
            let more = self.drain(sink).await;
            if sink.is_cancelled() {
                return Ok(());
            }
            if self.cfg.exit_on_eof
                && !self.files.is_empty()
                && self.files.iter().all(|f| f.at_eof && !f.dirty)
            {
                self.finish_all(sink).await;
                sink.request_exit();
                return Ok(());
            }
            if polling != self.watcher.is_polling() {
                polling = self.watcher.is_polling();
                (sweep, rotation) = self.timers(polling);
            }
            let ml_due = self
                .files
                .iter()
                .filter_map(TailFile::multiline_deadline)
                .min();
            let ml_sleep = async {
                match ml_due {
                    Some(d) => tokio::time::sleep_until(Instant::from_std(d)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = sink.cancelled() => return Ok(()),
                hint = self.watcher.next() => self.on_hint(hint),
                _ = rotation.tick() => self.check_rotations(None),
                _ = sweep.tick() => {
                    self.files.iter_mut().for_each(|f| f.dirty = true);
                    if polling {
                        self.check_rotations(None);
                    }
                }
                _ = refresh.tick() => {
                    let found = self.scan(Discovery::Later).await;
                    self.prune_entries(&found);
                }
                _ = purge.tick() => self.purge(sink).await,
                _ = ml_sleep => self.flush_multiline_expired(sink).await,
                _ = async {}, if more => {}
            }
        }
    }

    fn timers(&self, polling: bool) -> (Interval, Interval) {
        if polling {
            (
                every(self.cfg.fstat_interval),
                every(self.cfg.fstat_interval),
            )
        } else {
            (
                every(self.cfg.progress_interval),
                every(self.cfg.watcher_interval),
            )
        }
    }

    /// Reads every file that may have data. Returns whether some file has more than its
    /// budget allowed.
    async fn drain<S: Sink>(&mut self, sink: &mut S) -> bool {
        let mut more = false;
        let mut i = 0;
        while i < self.files.len() {
            if !self.files[i].dirty {
                i += 1;
                continue;
            }
            match self.read_file(i, sink).await {
                Step::Eof => i += 1,
                Step::More => {
                    more = true;
                    i += 1;
                }
                Step::Remove => {
                    self.close(i, false);
                }
                Step::Stopped => return false,
            }
        }
        more
    }

    /// Reads one file up to its end or its budget, emitting a batch per block.
    async fn read_file<S: Sink>(&mut self, i: usize, sink: &mut S) -> Step {
        let budget = if self.files[i].static_mode {
            self.cfg.static_batch
        } else {
            self.cfg.event_batch
        };
        let mut done = 0u64;
        loop {
            if sink.is_cancelled() {
                return Step::Stopped;
            }
            let (file, pos) = (self.files[i].file.clone(), self.files[i].read_pos);
            let mut buf = std::mem::take(&mut self.read_buf);
            buf.resize(self.cfg.read_size, 0);
            let (buf, res) = match tokio::task::spawn_blocking(move || {
                let r = read_block(&file, pos, &mut buf);
                (buf, r)
            })
            .await
            {
                Ok(x) => x,
                Err(e) => (Vec::new(), Err(std::io::Error::other(e.to_string()))),
            };
            self.read_buf = buf;
            match res {
                Err(e) => {
                    error!(
                        self.component,
                        "error reading {}: {}",
                        self.files[i].name.display(),
                        e
                    );
                    return Step::Remove;
                }
                Ok(ReadResult::Truncated { size }) => {
                    let f = &mut self.files[i];
                    info!(
                        self.component,
                        "inode={} file truncated {} (size {} < offset {}), reading it from the start",
                        f.id.ino,
                        f.name.display(),
                        size,
                        f.read_pos
                    );
                    f.truncated();
                    self.commit(i).await;
                }
                Ok(ReadResult::Data(0)) => {
                    let f = &mut self.files[i];
                    f.at_eof = true;
                    f.static_mode = false;
                    f.dirty = false;
                    return Step::Eof;
                }
                Ok(ReadResult::Data(n)) => {
                    let fed = self.consume(i, n);
                    self.emit(i, sink).await;
                    self.commit(i).await;
                    let f = &mut self.files[i];
                    if fed.long_lines > 0 && !f.warned_long {
                        f.warned_long = true;
                        let what = if self.cfg.long_lines == LongLines::Truncate {
                            "Truncating"
                        } else {
                            "Skipping"
                        };
                        warn!(
                            self.component,
                            "file={} have long lines. {} long lines.",
                            f.name.display(),
                            what
                        );
                    }
                    if fed.too_long {
                        error!(
                            self.component,
                            "file={} requires a larger buffer size, lines are too long. Skipping file.",
                            f.name.display()
                        );
                        return Step::Remove;
                    }
                    f.at_eof = false;
                    // Only a hint: a file that refuses it is read as usual, and a failure
                    // on every read would flood the log.
                    let _ = super::advise::dont_need(
                        &f.file,
                        f.commit_offset(),
                        &mut f.advised,
                        self.cfg.file_cache_advise,
                    );
                    done += n as u64;
                    if n < self.read_buf.len() {
                        // A short read of a regular file means its end, for now: no need for
                        // another system call to learn it.
                        f.at_eof = true;
                        f.static_mode = false;
                        f.dirty = false;
                        return Step::Eof;
                    }
                    if done >= budget {
                        return Step::More;
                    }
                }
            }
        }
    }

    /// Encodes the first `n` bytes of the read buffer for file `i` into the batch.
    fn consume(&mut self, i: usize, n: usize) -> super::lines::Fed {
        let Tail {
            files,
            read_buf,
            batch,
            layout,
            cfg,
            ..
        } = self;
        let mut enc = Encoder {
            layout,
            parser: cfg.parser.as_deref(),
            skip_empty: cfg.skip_empty_lines,
            now: EventTime::now(),
            batch,
            records: 0,
        };
        let fed = files[i].consume(&read_buf[..n], &mut enc, Instant::now().into_std());
        self.batch_records += enc.records;
        fed
    }

    /// Runs `f` with an encoder over the batch, for file `i`.
    fn encode(&mut self, i: usize, f: impl FnOnce(&mut TailFile, &mut Encoder<'_>)) {
        let Tail {
            files,
            batch,
            layout,
            cfg,
            ..
        } = self;
        let mut enc = Encoder {
            layout,
            parser: cfg.parser.as_deref(),
            skip_empty: cfg.skip_empty_lines,
            now: EventTime::now(),
            batch,
            records: 0,
        };
        f(&mut files[i], &mut enc);
        self.batch_records += enc.records;
    }

    /// Hands the batch to the engine under file `i`'s tag.
    async fn emit<S: Sink>(&mut self, i: usize, sink: &mut S) {
        if self.batch_records > 0 {
            sink.emit(&self.files[i].tag, &self.batch, self.batch_records)
                .await;
        }
        self.batch.clear();
        self.batch_records = 0;
    }

    /// Stores file `i`'s offset if it moved. Called only after what it covers was emitted.
    async fn commit(&mut self, i: usize) {
        let f = &mut self.files[i];
        let offset = f.commit_offset();
        if offset == f.stored {
            return;
        }
        let entry = Entry {
            offset,
            name: f.name.to_string_lossy().into_owned(),
        };
        if let Err(e) = self.store.put(f.id, &entry) {
            error!(
                self.component,
                "could not store the offset of {}: {}",
                f.name.display(),
                e
            );
            return;
        }
        f.stored = offset;
        if self.store.flush_each_update() {
            self.flush_store().await;
        }
    }

    async fn flush_store(&self) {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => error!(self.component, "{}", e),
            Err(e) => error!(self.component, "database flush: {}", e),
        }
    }

    fn on_hint(&mut self, hint: Hint) {
        match hint {
            Hint::Rescan => {
                self.files.iter_mut().for_each(|f| f.dirty = true);
                self.check_rotations(None);
            }
            Hint::Paths(paths) => {
                let mut touched = Vec::new();
                for (i, f) in self.files.iter_mut().enumerate() {
                    if paths.iter().any(|p| f.answers_to(p)) {
                        f.dirty = true;
                        touched.push(i);
                    }
                }
                if !touched.is_empty() {
                    self.check_rotations(Some(&touched));
                }
                if self.vacated.iter().any(|(p, _)| paths.contains(p)) {
                    self.check_vacated();
                }
            }
        }
    }

    /// Checks files (all, or those listed) for rotation, then looks for the files that replace
    /// rotated ones.
    fn check_rotations(&mut self, only: Option<&[usize]>) {
        for i in 0..self.files.len() {
            if only.is_some_and(|o| !o.contains(&i)) || self.files[i].rotated.is_some() {
                continue;
            }
            if let PathState::Rotated { new_name } = rotation::check(&self.files[i]) {
                self.rotated(i, new_name);
            }
        }
        self.check_vacated();
    }

    fn rotated(&mut self, i: usize, new_name: PathBuf) {
        let f = &mut self.files[i];
        let old = std::mem::replace(&mut f.name, new_name.clone());
        info!(
            self.component,
            "inode={} handle rotation(): {} => {}",
            f.id.ino,
            old.display(),
            new_name.display()
        );
        f.rotated = Some(Instant::now());
        f.dirty = true;
        self.counters.rotated.inc();
        let (id, offset, real) = (f.id, f.stored, f.real.clone());
        self.watcher.remove(&old, &real);
        self.files[i].real = new_name.clone();
        let component = self.component.clone();
        self.watcher
            .add(&new_name, &new_name, |l| warn!(component, "{}", l));
        if let Err(e) = self.store.put(
            id,
            &Entry {
                offset,
                name: new_name.to_string_lossy().into_owned(),
            },
        ) {
            error!(
                self.component,
                "could not rotate file {}->{} in database: {}",
                old.display(),
                new_name.display(),
                e
            );
        }
        if old != new_name {
            self.vacated.push((old, id));
        }
    }

    /// Follows files that appeared at paths left by rotated files.
    fn check_vacated(&mut self) {
        let mut k = 0;
        while k < self.vacated.len() {
            let path = self.vacated[k].0.clone();
            let found = match std::fs::metadata(&path) {
                Ok(m)
                    if m.is_file()
                        && !self.tracks(FileId::of(&m))
                        && !self.cfg.scanner.is_excluded(&path) =>
                {
                    self.add_file(&path, &m, Discovery::Later)
                }
                Ok(m) => self.tracks(FileId::of(&m)) && self.files.iter().any(|f| f.name == path),
                Err(_) => false,
            };
            if found {
                self.vacated.remove(k);
            } else {
                k += 1;
            }
        }
    }

    fn tracks(&self, id: FileId) -> bool {
        self.files.iter().any(|f| f.id == id)
    }

    /// Expands `path` on a blocking thread (directory walks can stall on slow file systems).
    async fn find(&self) -> Vec<Found> {
        let component = self.component.clone();
        let scanner = self.cfg.scanner.clone();
        debug!(
            component,
            "scanning path {}",
            scanner.patterns().collect::<Vec<_>>().join(",")
        );
        tokio::task::spawn_blocking(move || {
            scanner.scan(SystemTime::now(), |l| debug!(component, "{}", l))
        })
        .await
        .unwrap_or_default()
    }

    /// Looks for files matching `path` and follows the new ones; returns what was found.
    async fn scan(&mut self, how: Discovery) -> Vec<Found> {
        let found = self.find().await;
        let mut added = 0;
        for f in &found {
            if !self.tracks(FileId::of(&f.meta)) && self.add_file(&f.path, &f.meta, how) {
                added += 1;
            }
        }
        if how == Discovery::Later && added == 0 {
            let patterns = self.cfg.scanner.patterns().collect::<Vec<_>>().join(",");
            debug!(self.component, "0 new files found on path '{}'", patterns);
        }
        found
    }

    /// Starts following the file at `path`. Returns whether it is followed now.
    fn add_file(&mut self, path: &Path, meta: &Metadata, how: Discovery) -> bool {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                error!(self.component, "cannot open {}: {}", path.display(), e);
                return false;
            }
        };
        // The path may have changed between the scan and the open: trust the open file.
        let meta = file.metadata().unwrap_or_else(|_| meta.clone());
        if !meta.is_file() {
            return false;
        }
        let id = FileId::of(&meta);
        if self.tracks(id) {
            return false;
        }
        let name = path.to_string_lossy();
        let tag = match self.template.for_path(&name) {
            Ok(t) => t,
            Err(e) => {
                error!(
                    self.component,
                    "failed to compose tag for file {}: {}", name, e
                );
                return false;
            }
        };
        let size = meta.len();
        let fresh = match how {
            Discovery::Startup if self.cfg.read_from_head => 0,
            Discovery::Later if self.cfg.read_new_from_head => 0,
            _ => size,
        };
        let start = match self.store.get(id) {
            Ok(Some(e)) if self.cfg.compare_filename && e.name != name => {
                debug!(
                    self.component,
                    "inode={} db entry is for {}, not {}: not used", id.ino, e.name, name
                );
                fresh
            }
            Ok(Some(e)) if e.offset > size => {
                debug!(
                    self.component,
                    "inode={} stored offset {} is past the end of {}: reading it from the start",
                    id.ino,
                    e.offset,
                    name
                );
                0
            }
            Ok(Some(e)) => e.offset,
            Ok(None) => fresh,
            Err(e) => {
                error!(self.component, "{}", e);
                fresh
            }
        };
        let watch_id = self.next_watch_id;
        self.next_watch_id += 1;
        let multiline =
            (!self.cfg.multiline.is_empty()).then(|| Multiline::new(self.cfg.multiline.clone()));
        let tf = TailFile::new(
            id,
            path.to_path_buf(),
            file,
            tag,
            start,
            &self.layout,
            self.cfg.max_line,
            self.cfg.long_lines,
            multiline,
            how == Discovery::Startup,
            watch_id,
        );
        let component = self.component.clone();
        self.watcher
            .add(&tf.name, &tf.real, |l| warn!(component, "{}", l));
        if !self.watcher.is_polling() {
            debug!(
                self.component,
                "inotify_fs_add(): inode={} watch_fd={} name={}", id.ino, watch_id, name
            );
        }
        if let Err(e) = self.store.put(
            id,
            &Entry {
                offset: start,
                name: name.clone().into_owned(),
            },
        ) {
            error!(self.component, "{}", e);
        }
        debug!(
            self.component,
            "inode={} with offset={} appended as {}", id.ino, start, name
        );
        self.counters.opened.inc();
        self.files.push(tf);
        true
    }

    /// Forgets stored offsets of files that were not found at start (Fluent Bit does the
    /// same), so an inode reused by a new file does not inherit an old offset.
    fn drop_stale_entries(&mut self) {
        let n = self.forget_entries(&HashSet::new());
        if n > 0 {
            info!(
                self.component,
                "db: delete unmonitored stale inodes from the database: count={}", n
            );
        }
    }

    /// Forgets stored offsets of files neither followed nor `found` by the last scan.
    fn prune_entries(&mut self, found: &[Found]) {
        let found: HashSet<FileId> = found.iter().map(|f| FileId::of(&f.meta)).collect();
        self.forget_entries(&found);
    }

    fn forget_entries(&mut self, keep: &HashSet<FileId>) -> usize {
        let ids = match self.store.ids() {
            Ok(ids) => ids,
            Err(e) => {
                error!(self.component, "{}", e);
                return 0;
            }
        };
        let mut n = 0;
        for id in ids {
            if !self.tracks(id) && !keep.contains(&id) && self.store.remove(id).is_ok() {
                n += 1;
            }
        }
        n
    }

    /// Closes rotated files kept for `rotate_wait`, deleted files, and (with
    /// `ignore_active_older_files`) files grown too old.
    async fn purge<S: Sink>(&mut self, sink: &mut S) {
        let now = Instant::now();
        let sys_now = SystemTime::now();
        let mut i = 0;
        while i < self.files.len() {
            let f = &self.files[i];
            if let Some(at) = f.rotated {
                if rotation::due(now.duration_since(at), self.cfg.rotate_wait) {
                    self.final_read(i, sink).await;
                    let f = &self.files[i];
                    let size = f.file.metadata().map(|m| m.len()).unwrap_or(0);
                    debug!(
                        self.component,
                        "inode={} purge rotated file {} (offset={} / size = {})",
                        f.id.ino,
                        f.name.display(),
                        f.read_pos,
                        size
                    );
                    // The entry stays while the file exists: found again by a scan, it resumes
                    // at its end instead of being read a second time.
                    let deleted = rotation::is_deleted(f);
                    self.close(i, deleted);
                    continue;
                }
            }
            if rotation::is_deleted(f) {
                debug!(
                    self.component,
                    "purge: monitored file has been deleted: {}",
                    f.name.display()
                );
                self.final_read(i, sink).await;
                self.close(i, true);
                continue;
            }
            if self.cfg.ignore_active_older_files {
                if let Ok(m) = f.file.metadata() {
                    if self.cfg.scanner.too_old(&m, sys_now) {
                        debug!(
                            self.component,
                            "purge: monitored file (ignore older): {}",
                            f.name.display()
                        );
                        self.close(i, false);
                        continue;
                    }
                }
            }
            i += 1;
        }
    }

    /// Reads what is left of a file that will not grow any more, including a last line
    /// without newline and a multiline message being assembled, and emits it.
    async fn final_read<S: Sink>(&mut self, i: usize, sink: &mut S) {
        self.files[i].dirty = true;
        if self.read_file(i, sink).await == Step::Stopped {
            return;
        }
        self.finish_file(i, sink).await;
    }

    async fn finish_file<S: Sink>(&mut self, i: usize, sink: &mut S) {
        let now = Instant::now().into_std();
        self.encode(i, |f, enc| {
            f.finish_partial(enc, now);
            f.flush_multiline(enc);
        });
        self.emit(i, sink).await;
        self.commit(i).await;
    }

    /// Stops following file `i`; `forget` drops its stored offset.
    fn close(&mut self, i: usize, forget: bool) {
        let f = self.files.remove(i);
        debug!(
            self.component,
            "inode={} removing file name {}",
            f.id.ino,
            f.name.display()
        );
        if !self.watcher.is_polling() {
            debug!(
                self.component,
                "inotify_fs_remove(): inode={} watch_fd={}", f.id.ino, f.watch_id
            );
        }
        self.watcher.remove(&f.name, &f.real);
        self.vacated.retain(|(_, id)| *id != f.id);
        if forget {
            if let Err(e) = self.store.remove(f.id) {
                error!(self.component, "{}", e);
            }
        }
        self.counters.closed.inc();
    }

    /// `exit_on_eof`: every file is at its end.
    async fn finish_all<S: Sink>(&mut self, sink: &mut S) {
        for i in 0..self.files.len() {
            self.finish_file(i, sink).await;
            let f = &self.files[i];
            info!(
                self.component,
                "inode={} file={} ended, stop",
                f.id.ino,
                f.name.display()
            );
        }
    }

    async fn flush_multiline_expired<S: Sink>(&mut self, sink: &mut S) {
        let now = Instant::now().into_std();
        for i in 0..self.files.len() {
            if self.files[i].multiline_deadline().is_some_and(|d| d <= now) {
                self.encode(i, |f, enc| f.flush_expired(enc, now));
                self.emit(i, sink).await;
                self.commit(i).await;
            }
        }
    }

    async fn shutdown<S: Sink>(&mut self, sink: &mut S) {
        if self.files.iter().any(|f| f.multiline.is_some()) {
            info!(self.component, "flushing pending multiline data...");
        }
        for i in 0..self.files.len() {
            self.encode(i, |f, enc| f.flush_multiline(enc));
            self.emit(i, sink).await;
            self.commit(i).await;
        }
        self.flush_store().await;
    }
}
