//! Durability tickets and the batched syncer behind `storage.sync full`.
//!
//! Every append gets a [`Ticket`], a number that increases across the whole store. A ticket is
//! *durable* once the bytes of its append would survive a power loss: at once with
//! `storage.sync normal` (which promises only what write(2) promises), and with `full` once a
//! sync round that started after the append has fsynced its file.
//!
//! The syncer is one thread. It sleeps until some file is dirty, waits until at least
//! `sync_interval` has passed since its previous round started, then takes the whole dirty set,
//! fsyncs each file once (and each directory whose entries changed) and declares every ticket
//! issued before it took the set durable. So there is at most one fsync per file per interval
//! however many appends there were, and an append waits at most about one interval plus the
//! fsyncs. Tickets are issued under the same lock that marks a file dirty, after its write
//! returned, which is what makes "issued before the take" imply "covered by this round".
//!
//! An fsync failure is sticky: after it no later ticket is ever declared durable (the kernel
//! may have dropped the dirty pages it failed to write, so a later successful fsync proves
//! nothing), and every wait for such a ticket fails with [`Error::SyncFailed`].

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{Error, SyncMode};

/// Identifies an append for durability: see [`crate::Store::wait_durable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ticket(u64);

impl Ticket {
    /// A ticket that is always durable (nothing was written).
    pub const NONE: Ticket = Ticket(0);

    /// The ticket's sequence number; later appends have larger numbers.
    pub fn get(self) -> u64 {
        self.0
    }
}

pub(crate) struct Shared {
    state: Mutex<State>,
    work: Condvar,
    done: Condvar,
}

#[derive(Default)]
struct State {
    issued: u64,
    durable: u64,
    failed: Option<String>,
    files: HashMap<PathBuf, Option<Arc<File>>>,
    dirs: HashSet<PathBuf>,
    shutdown: bool,
    wakers: Vec<(u64, Waker)>,
    fsyncs: u64,
}

impl State {
    fn check(&self, t: u64) -> Option<Result<(), Error>> {
        if t <= self.durable {
            Some(Ok(()))
        } else {
            self.failed
                .as_ref()
                .map(|e| Err(Error::SyncFailed(e.clone())))
        }
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // Nothing panics while holding the lock; if something did, the counters are still
    // consistent enough to go on with.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Issues tickets and, with `storage.sync full`, runs the sync thread.
pub(crate) struct Syncer {
    mode: SyncMode,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    pub(crate) fn start(mode: SyncMode, interval: Duration) -> Result<Syncer, Error> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            done: Condvar::new(),
        });
        let thread = match mode {
            SyncMode::Normal => None,
            SyncMode::Full => {
                let s = shared.clone();
                Some(
                    std::thread::Builder::new()
                        .name("weir-storage-sync".into())
                        .spawn(move || run(&s, interval))
                        .map_err(Error::Thread)?,
                )
            }
        };
        Ok(Syncer {
            mode,
            shared,
            thread,
        })
    }

    /// Records that `path` was written (through `file` when the caller holds it open) and
    /// returns the ticket of that write.
    pub(crate) fn written(&self, path: &Path, file: Option<&Arc<File>>) -> Ticket {
        let mut st = lock(&self.shared.state);
        st.issued += 1;
        let t = st.issued;
        match self.mode {
            SyncMode::Normal => {
                st.durable = t;
            }
            SyncMode::Full => {
                let slot = st.files.entry(path.to_path_buf()).or_insert(None);
                if slot.is_none() {
                    *slot = file.cloned();
                }
                drop(st);
                self.shared.work.notify_one();
            }
        }
        Ticket(t)
    }

    /// Records that entries of `dir` changed (a file was created, renamed or removed).
    pub(crate) fn dir_changed(&self, dir: &Path) {
        if self.mode == SyncMode::Full {
            lock(&self.shared.state).dirs.insert(dir.to_path_buf());
            self.shared.work.notify_one();
        }
    }

    pub(crate) fn is_durable(&self, t: Ticket) -> Result<bool, Error> {
        lock(&self.shared.state)
            .check(t.0)
            .map_or(Ok(false), |r| r.map(|()| true))
    }

    pub(crate) fn wait(&self, t: Ticket) -> Result<(), Error> {
        let mut st = lock(&self.shared.state);
        loop {
            if let Some(r) = st.check(t.0) {
                return r;
            }
            st = self
                .shared
                .done
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    pub(crate) fn wait_timeout(&self, t: Ticket, timeout: Duration) -> Result<bool, Error> {
        let deadline = Instant::now() + timeout;
        let mut st = lock(&self.shared.state);
        loop {
            if let Some(r) = st.check(t.0) {
                return r.map(|()| true);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            st = self
                .shared
                .done
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    pub(crate) fn durable(&self, t: Ticket) -> Durable {
        Durable {
            shared: self.shared.clone(),
            ticket: t.0,
        }
    }

    /// fsync calls made so far.
    pub(crate) fn fsyncs(&self) -> u64 {
        lock(&self.shared.state).fsyncs
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        lock(&self.shared.state).shutdown = true;
        self.shared.work.notify_all();
        if let Some(t) = self.thread.take() {
            // The thread finishes the round in progress and the files still dirty, so every
            // ticket issued is settled before the store is gone.
            let _ = t.join();
        }
    }
}

fn run(shared: &Shared, interval: Duration) {
    let mut last_round: Option<Instant> = None;
    loop {
        let mut st = lock(&shared.state);
        while st.files.is_empty() && st.dirs.is_empty() && !st.shutdown {
            st = shared.work.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        if st.files.is_empty() && st.dirs.is_empty() {
            // Shutting down with nothing left to sync: every ticket issued is settled.
            let wakers: Vec<_> = st.wakers.drain(..).collect();
            drop(st);
            wakers.into_iter().for_each(|(_, w)| w.wake());
            shared.done.notify_all();
            return;
        }
        if let Some(last) = last_round {
            let since = last.elapsed();
            if since < interval && !st.shutdown {
                drop(st);
                std::thread::sleep(interval - since);
                st = lock(&shared.state);
            }
        }
        let files = std::mem::take(&mut st.files);
        let dirs = std::mem::take(&mut st.dirs);
        let upto = st.issued;
        last_round = Some(Instant::now());
        drop(st);

        let (count, failure) = sync_round(files, dirs);

        let mut st = lock(&shared.state);
        st.fsyncs += count;
        match failure {
            Some(e) => {
                st.failed.get_or_insert(e);
            }
            None if st.failed.is_none() => st.durable = st.durable.max(upto),
            None => {}
        }
        let durable = st.durable;
        let failed = st.failed.is_some();
        let mut woken = Vec::new();
        let mut i = 0;
        while i < st.wakers.len() {
            if failed || st.wakers[i].0 <= durable {
                woken.push(st.wakers.swap_remove(i).1);
            } else {
                i += 1;
            }
        }
        drop(st);
        woken.into_iter().for_each(Waker::wake);
        shared.done.notify_all();
    }
}

/// fsyncs each file and directory once; returns the calls made and the first failure.
fn sync_round(
    files: HashMap<PathBuf, Option<Arc<File>>>,
    dirs: HashSet<PathBuf>,
) -> (u64, Option<String>) {
    let mut failure = None;
    let mut count = 0;
    for (path, file) in files {
        let r = match file {
            Some(f) => f.sync_data(),
            // Opened again by path: an fsync through any descriptor flushes the file.
            None => File::open(&path).and_then(|f| f.sync_data()),
        };
        count += 1;
        match r {
            Ok(()) => {}
            // Removed since it was written (acknowledged by every output): nothing to keep.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                failure.get_or_insert_with(|| format!("{}: {e}", path.display()));
            }
        }
    }
    for dir in dirs {
        count += 1;
        match File::open(&dir).and_then(|d| d.sync_all()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                failure.get_or_insert_with(|| format!("{}: {e}", dir.display()));
            }
        }
    }
    (count, failure)
}

/// A future that resolves when a ticket is durable: for async callers, with no runtime of its
/// own (`store.durable(ticket).await`). It resolves at once with `storage.sync normal`.
pub struct Durable {
    shared: Arc<Shared>,
    ticket: u64,
}

impl Future for Durable {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut st = lock(&self.shared.state);
        if let Some(r) = st.check(self.ticket) {
            return Poll::Ready(r);
        }
        let ticket = self.ticket;
        match st.wakers.iter_mut().find(|(_, w)| w.will_wake(cx.waker())) {
            // One entry per task, woken at the smallest ticket it waits for; the task polls
            // again and re-registers for the rest.
            Some(entry) => entry.0 = entry.0.min(ticket),
            None => st.wakers.push((ticket, cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl std::fmt::Debug for Durable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Durable")
            .field("ticket", &self.ticket)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    #[test]
    fn normal_mode_tickets_are_durable_at_once() {
        let s = Syncer::start(SyncMode::Normal, Duration::from_millis(10)).unwrap();
        let t1 = s.written(Path::new("/nonexistent"), None);
        let t2 = s.written(Path::new("/nonexistent"), None);
        assert!(t2 > t1);
        assert!(s.is_durable(t2).unwrap());
        s.wait(t2).unwrap();
        assert_eq!(s.fsyncs(), 0);
    }

    #[test]
    fn full_mode_coalesces_and_settles_every_ticket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = Arc::new(File::create(&path).unwrap());
        let s = Syncer::start(SyncMode::Full, Duration::from_millis(20)).unwrap();
        let mut last = Ticket::NONE;
        for _ in 0..50 {
            (&*file).write_all(b"data").unwrap();
            last = s.written(&path, Some(&file));
        }
        s.dir_changed(dir.path());
        s.wait(last).unwrap();
        assert!(s.is_durable(last).unwrap());
        // 50 appends to one file cost far fewer fsyncs than appends.
        assert!(s.fsyncs() < 50, "fsyncs {}", s.fsyncs());
        assert!(s.wait_timeout(last, Duration::from_millis(1)).unwrap());
        // A ticket never issued is not durable and times out.
        assert!(!s
            .wait_timeout(Ticket(last.0 + 100), Duration::from_millis(5))
            .unwrap());
    }

    #[test]
    fn removed_files_do_not_fail_a_round() {
        let dir = tempfile::tempdir().unwrap();
        let s = Syncer::start(SyncMode::Full, Duration::from_millis(1)).unwrap();
        let t = s.written(&dir.path().join("gone"), None);
        s.wait(t).unwrap();
    }

    struct CountWake(AtomicUsize);
    impl Wake for CountWake {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn durable_future_wakes_its_task() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = Arc::new(File::create(&path).unwrap());
        let s = Syncer::start(SyncMode::Full, Duration::from_millis(5)).unwrap();
        let t = s.written(&path, Some(&file));
        let counter = Arc::new(CountWake(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let mut fut = s.durable(t);
        let mut polls = 0;
        loop {
            match Pin::new(&mut fut).poll(&mut cx) {
                Poll::Ready(r) => {
                    r.unwrap();
                    break;
                }
                Poll::Pending => {
                    polls += 1;
                    // Block until the wake arrives, as an executor would.
                    s.wait(t).unwrap();
                    assert!(counter.0.load(Ordering::SeqCst) >= 1);
                }
            }
            assert!(polls < 3);
        }
        let normal = Syncer::start(SyncMode::Normal, Duration::ZERO).unwrap();
        let t = normal.written(&path, None);
        assert!(matches!(
            Pin::new(&mut normal.durable(t)).poll(&mut cx),
            Poll::Ready(Ok(()))
        ));
    }
}
