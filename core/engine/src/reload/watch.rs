//! `hot_reload.watch`: a reload when a file the pipeline was built from changes.
//!
//! The directories holding the files are watched, not the files: editors and configuration
//! managers replace a file by renaming a new one over it, which a watch on the old file
//! misses. Bursts of events (an editor writes, renames, sets attributes) are debounced into one
//! reload; a reload that comes while one runs is coalesced by the engine anyway.

use super::Control;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Quiet time after the last change before reloading.
const DEBOUNCE: Duration = Duration::from_millis(500);

/// Watches while alive.
pub(crate) struct Watcher {
    _watcher: Option<notify::RecommendedWatcher>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl Watcher {
    /// Starts watching `files` (when `enabled`); a change asks `control` for a reload.
    pub fn start(enabled: bool, files: &[PathBuf], control: Arc<Control>) -> Self {
        let off = Self {
            _watcher: None,
            task: None,
        };
        if !enabled || files.is_empty() {
            return off;
        }
        // Compare absolute paths: notify reports them so.
        let files: HashSet<PathBuf> = files
            .iter()
            .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone()))
            .collect();
        let dirs: HashSet<PathBuf> = files
            .iter()
            .filter_map(|f| f.parent().map(PathBuf::from))
            .collect();
        let (tx, rx) = mpsc::unbounded_channel::<()>();
        let wanted = files.clone();
        let handler = move |ev: notify::Result<notify::Event>| {
            let Ok(ev) = ev else { return };
            if matches!(ev.kind, notify::EventKind::Access(_)) {
                return;
            }
            if ev.paths.iter().any(|p| wanted.contains(p)) {
                let _ = tx.send(());
            }
        };
        let mut watcher = match notify::recommended_watcher(handler) {
            Ok(w) => w,
            Err(e) => {
                crate::error!("reload", "hot_reload.watch: cannot watch files: {}", e);
                return off;
            }
        };
        for d in &dirs {
            if let Err(e) =
                notify::Watcher::watch(&mut watcher, d, notify::RecursiveMode::NonRecursive)
            {
                crate::error!(
                    "reload",
                    "hot_reload.watch: cannot watch {}: {}",
                    d.display(),
                    e
                );
            }
        }
        crate::info!(
            "reload",
            "hot_reload.watch: watching {} files for changes",
            files.len()
        );
        Self {
            _watcher: Some(watcher),
            task: Some(tokio::spawn(debounce(rx, control))),
        }
    }
}

async fn debounce(mut rx: mpsc::UnboundedReceiver<()>, control: Arc<Control>) {
    while rx.recv().await.is_some() {
        // Wait until the files have been quiet for DEBOUNCE.
        loop {
            match tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return,
                Err(_) => break,
            }
        }
        control.request_detached("file change");
    }
}
