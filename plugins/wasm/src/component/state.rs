//! Plugins' key-value state, in sled: one database per state directory, opened once per
//! process and kept open (sled locks its directory, and reloads and swaps must find the same
//! one), one tree per instance name. An instance's state therefore outlives the instance: a
//! restart, a reload and a swap to a new version of the plugin find it again, as long as the
//! instance keeps its name (`alias`, else `plugin.N`).
//!
//! Where: `plugins.state_path` when the service section sets it; else `plugin-state` under
//! `storage.path` when that is set (the state then sits beside the buffered chunks it goes
//! with); else `$XDG_STATE_HOME/weir/plugin-state` when that variable is set, else
//! `/var/lib/weir/plugin-state` for root and `~/.local/state/weir/plugin-state` for others.
//!
//! Writes reach the disk within sled's flush interval (half a second) and when an instance
//! stops; a crash may lose the last half second of writes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Longest key a plugin may use.
pub const MAX_KEY: usize = 1024;
/// Largest value a plugin may store under one key.
pub const MAX_VALUE: usize = 16 << 20;

/// One instance's state.
#[derive(Clone)]
pub enum State {
    Disk(sled::Tree),
    /// For `--dry-run` builds (which must not lock the directory a running Weir uses) and
    /// the probe that reads a plugin's description: starts empty, kept in memory.
    Memory(Arc<Mutex<HashMap<String, Vec<u8>>>>),
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            State::Disk(_) => f.write_str("State::Disk"),
            State::Memory(_) => f.write_str("State::Memory"),
        }
    }
}

impl State {
    pub fn memory() -> Self {
        State::Memory(Arc::default())
    }

    /// The state of instance `instance` under `dir`.
    pub fn open(dir: &Path, instance: &str) -> Result<Self, String> {
        let db = database(dir)?;
        db.open_tree(instance.as_bytes())
            .map(State::Disk)
            .map_err(|e| {
                format!(
                    "cannot open the state of {instance} in {}: {e}",
                    dir.display()
                )
            })
    }

    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        match self {
            State::Disk(t) => t
                .get(key.as_bytes())
                .map(|v| v.map(|v| v.to_vec()))
                .map_err(|e| e.to_string()),
            State::Memory(m) => Ok(lock(m).get(key).cloned()),
        }
    }

    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        if key.len() > MAX_KEY {
            return Err(format!("key longer than {MAX_KEY} bytes"));
        }
        if value.len() > MAX_VALUE {
            return Err(format!("value larger than {MAX_VALUE} bytes"));
        }
        match self {
            State::Disk(t) => t
                .insert(key.as_bytes(), value)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            State::Memory(m) => {
                lock(m).insert(key.to_string(), value.to_vec());
                Ok(())
            }
        }
    }

    pub fn delete(&self, key: &str) -> Result<(), String> {
        match self {
            State::Disk(t) => t
                .remove(key.as_bytes())
                .map(|_| ())
                .map_err(|e| e.to_string()),
            State::Memory(m) => {
                lock(m).remove(key);
                Ok(())
            }
        }
    }

    /// Writes what is pending to disk (an instance stopping).
    pub fn flush(&self) {
        if let State::Disk(t) = self {
            let _ = t.flush();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The open databases, by directory.
fn database(dir: &Path) -> Result<sled::Db, String> {
    static OPEN: OnceLock<Mutex<HashMap<PathBuf, sled::Db>>> = OnceLock::new();
    let mut open = lock(OPEN.get_or_init(Mutex::default));
    if let Some(db) = open.get(dir) {
        return Ok(db.clone());
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        format!(
            "cannot create the plugin state directory {}: {e}",
            dir.display()
        )
    })?;
    let db = sled::Config::new()
        .path(dir)
        .open()
        .map_err(|e| format!("cannot open the plugin state in {}: {e}", dir.display()))?;
    open.insert(dir.to_path_buf(), db.clone());
    Ok(db)
}

/// The default state directory, when neither `plugins.state_path` nor `storage.path` is set:
/// `$XDG_STATE_HOME/weir/plugin-state` when that is set, else `/var/lib/weir/plugin-state`
/// for root, else `~/.local/state/weir/plugin-state`.
pub fn default_dir() -> PathBuf {
    per_user("XDG_STATE_HOME", ".local/state", "/var/lib/weir").join("plugin-state")
}

/// The default compile cache directory, when `plugins.cache_path` is not set:
/// `$XDG_CACHE_HOME/weir/wasm`, else `/var/cache/weir/wasm` for root, else
/// `~/.cache/weir/wasm`.
pub fn default_cache_dir() -> PathBuf {
    per_user("XDG_CACHE_HOME", ".cache", "/var/cache/weir").join("wasm")
}

/// `$<var>/weir`, else `<root_dir>` for root, else `~/<home_rel>/weir` (the temporary
/// directory when there is no home).
fn per_user(var: &str, home_rel: &str, root_dir: &str) -> PathBuf {
    if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
        return PathBuf::from(v).join("weir");
    }
    if is_root() {
        return PathBuf::from(root_dir);
    }
    home()
        .map(|h| h.join(home_rel))
        .unwrap_or_else(std::env::temp_dir)
        .join("weir")
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn is_root() -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // The owner of a directory this process just made would do too; /proc/self is there
        // on every system Weir runs as root on.
        std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
    }
    #[cfg(not(unix))]
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_survives_reopening_and_is_per_instance() {
        let dir = tempfile::tempdir().unwrap();
        let a = State::open(dir.path(), "a.0").unwrap();
        a.set("k", b"v1").unwrap();
        let b = State::open(dir.path(), "b.0").unwrap();
        assert_eq!(b.get("k").unwrap(), None);
        let again = State::open(dir.path(), "a.0").unwrap();
        assert_eq!(again.get("k").unwrap().as_deref(), Some(&b"v1"[..]));
        again.delete("k").unwrap();
        assert_eq!(a.get("k").unwrap(), None);
        assert!(a.set(&"x".repeat(MAX_KEY + 1), b"").is_err());
    }

    #[test]
    fn memory_state() {
        let m = State::memory();
        m.set("k", b"1").unwrap();
        assert_eq!(m.get("k").unwrap().as_deref(), Some(&b"1"[..]));
        m.delete("k").unwrap();
        assert_eq!(m.get("k").unwrap(), None);
    }
}
