//! Learning that followed files changed: inotify through the `notify` crate, or polling.
//!
//! With `inotify_watcher on` (the default) the directories holding the followed files are
//! watched (not the files themselves: a directory watch survives the renames of rotation and
//! reports the file that replaces a rotated one). For a file reached through a symbolic link
//! the directory of its target is watched too, since writes to the target are reported there.
//! Events are hints: they name paths, and tail then reads the files with those paths to their
//! end and checks them for rotation. Nothing depends on an event arriving: every
//! `progress_check_interval` all files are read anyway, so a missed or overflowed event only
//! delays data.
//!
//! When inotify is off, or cannot be set up (no inotify, `max_user_watches` reached), tail
//! polls: every `fstat_interval` it checks every file. The switch is logged once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// What the watcher reports.
#[derive(Debug)]
pub enum Hint {
    /// Something happened to these paths (or in their directory).
    Paths(Vec<PathBuf>),
    /// Events were lost: check everything.
    Rescan,
}

/// Watches directories, or polls.
pub struct Watcher {
    inner: Option<Inotify>,
}

struct Inotify {
    watcher: notify::RecommendedWatcher,
    rx: mpsc::UnboundedReceiver<notify::Result<notify::Event>>,
    /// Watched directories and how many followed files need each.
    dirs: HashMap<PathBuf, usize>,
}

/// Most events turned into one hint, so a burst of writes costs one pass over the files.
const COALESCE: usize = 512;

impl Watcher {
    /// An inotify watcher when `inotify` is true and it can be created, else polling. `log`
    /// gets a line when inotify was wanted and is not available.
    pub fn new(inotify: bool, log: impl FnOnce(String)) -> Self {
        if !inotify {
            return Self { inner: None };
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let handler = move |ev: notify::Result<notify::Event>| {
            // The receiver is gone only when tail has stopped.
            let _ = tx.send(ev);
        };
        match notify::recommended_watcher(handler) {
            Ok(watcher) => Self {
                inner: Some(Inotify {
                    watcher,
                    rx,
                    dirs: HashMap::new(),
                }),
            },
            Err(e) => {
                log(format!("inotify_init(): cannot use inotify ({e}), checking files every fstat_interval instead"));
                Self { inner: None }
            }
        }
    }

    /// Whether changes are found by polling only.
    pub fn is_polling(&self) -> bool {
        self.inner.is_none()
    }

    /// Starts watching what tells about changes of `file` (its directory, and its target's
    /// directory when it is a link). On failure, falls back to polling for every file.
    pub fn add(&mut self, file: &Path, real: &Path, log: impl FnOnce(String)) {
        let Some(inner) = self.inner.as_mut() else {
            return;
        };
        for dir in dirs_of(file, real) {
            if let Some(n) = inner.dirs.get_mut(&dir) {
                *n += 1;
                continue;
            }
            match notify::Watcher::watch(
                &mut inner.watcher,
                &dir,
                notify::RecursiveMode::NonRecursive,
            ) {
                Ok(()) => {
                    inner.dirs.insert(dir, 1);
                }
                Err(e) => {
                    log(format!(
                        "inotify_fs_add(): cannot watch {} ({e}), checking files every fstat_interval instead",
                        dir.display()
                    ));
                    self.inner = None;
                    return;
                }
            }
        }
    }

    /// Stops watching for `file` (when no other followed file needs the directories).
    pub fn remove(&mut self, file: &Path, real: &Path) {
        let Some(inner) = self.inner.as_mut() else {
            return;
        };
        for dir in dirs_of(file, real) {
            if let Some(n) = inner.dirs.get_mut(&dir) {
                *n -= 1;
                if *n == 0 {
                    inner.dirs.remove(&dir);
                    // The directory may be gone already; nothing to do then.
                    let _ = notify::Watcher::unwatch(&mut inner.watcher, &dir);
                }
            }
        }
    }

    /// Waits for the next hint. Never resolves when polling.
    pub async fn next(&mut self) -> Hint {
        let Some(inner) = self.inner.as_mut() else {
            return std::future::pending().await;
        };
        let Some(first) = inner.rx.recv().await else {
            return std::future::pending().await;
        };
        let mut paths = Vec::new();
        let mut rescan = false;
        let mut take = |ev: notify::Result<notify::Event>| match ev {
            Ok(ev) if ev.need_rescan() => rescan = true,
            Ok(ev) => paths.extend(ev.paths),
            Err(_) => rescan = true,
        };
        take(first);
        for _ in 0..COALESCE {
            match inner.rx.try_recv() {
                Ok(ev) => take(ev),
                Err(_) => break,
            }
        }
        if rescan {
            Hint::Rescan
        } else {
            paths.sort_unstable();
            paths.dedup();
            Hint::Paths(paths)
        }
    }
}

fn parent(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn dirs_of(file: &Path, real: &Path) -> Vec<PathBuf> {
    let a = parent(file);
    let b = parent(real);
    if a == b {
        vec![a]
    } else {
        vec![a, b]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn polling_when_asked() {
        let mut w = Watcher::new(false, |_| {});
        assert!(w.is_polling());
        w.add(Path::new("/x/a.log"), Path::new("/x/a.log"), |_| {});
        w.remove(Path::new("/x/a.log"), Path::new("/x/a.log"));
    }

    #[test]
    fn link_targets_add_their_directory() {
        assert_eq!(
            dirs_of(Path::new("/a/x.log"), Path::new("/a/x.log")),
            [PathBuf::from("/a")]
        );
        assert_eq!(
            dirs_of(Path::new("/a/x.log"), Path::new("/b/y.log")),
            [PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(
            dirs_of(Path::new("x.log"), Path::new("x.log")),
            [PathBuf::from(".")]
        );
    }

    #[tokio::test]
    async fn reports_writes_in_watched_directories() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.log");
        std::fs::write(&f, b"").unwrap();
        let mut w = Watcher::new(true, |l| panic!("{l}"));
        if w.is_polling() {
            return; // no inotify on this system
        }
        w.add(&f, &f, |l| panic!("{l}"));
        std::fs::write(&f, b"line\n").unwrap();
        let hint = tokio::time::timeout(Duration::from_secs(10), w.next())
            .await
            .expect("an event");
        match hint {
            Hint::Paths(p) => assert!(p.contains(&f), "{p:?}"),
            Hint::Rescan => {}
        }
        w.remove(&f, &f);
    }

    #[test]
    fn missing_directory_falls_back_to_polling() {
        let mut w = Watcher::new(true, |_| {});
        if w.is_polling() {
            return;
        }
        let mut logged = None;
        w.add(
            Path::new("/nonexistent-dir-for-weir/a.log"),
            Path::new("/nonexistent-dir-for-weir/a.log"),
            |l| logged = Some(l),
        );
        assert!(w.is_polling());
        assert!(logged.unwrap().contains("inotify_fs_add()"));
    }
}
