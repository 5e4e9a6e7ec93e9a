//! Where tail remembers how far it read each file: the `db` option.
//!
//! Offsets are keyed by device and inode ([`FileId`]), not by name, so a file renamed by
//! rotation keeps its offset, as in Fluent Bit. The name is kept beside the offset for
//! `db.compare_filename` and for the log.
//!
//! [`OffsetStore`] is the small interface the rest of tail uses; [`SledStore`] keeps entries in
//! a sled database at the `db` path (a directory, where Fluent Bit has an SQLite file), and
//! [`MemStore`] keeps them in memory when no `db` is set, so the same code remembers files
//! that were closed after rotation and found again by a later scan.
//!
//! Durability. Tail writes an offset after the batch it covers has been handed to the
//! engine, never before, so a crash can only repeat lines, never skip them. sled writes its
//! log to disk in the background: with `db.sync normal` (the default) every half second, with
//! `off` only at shutdown, with `full` or `extra` after every offset update (tail asks for the
//! flush on a blocking thread). A clean shutdown always flushes. After `kill -9` the offsets
//! read back are at most that half second old: the lines after them are read again.
//!
//! The offset follows the hand-over to the engine, not the delivery by the outputs: records
//! the engine still holds in memory when the process is killed are lost with it (as in Fluent
//! Bit); only storage that survives the process (`storage.type filesystem`) keeps them.
//!
//! Format: tree `tail.files.v1`; key = device then inode, 8 bytes each, big-endian; value =
//! offset, 8 bytes big-endian, then the file name in UTF-8.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

/// A file's identity across renames: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    #[cfg(unix)]
    pub fn of(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    fn key(self) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&self.dev.to_be_bytes());
        k[8..].copy_from_slice(&self.ino.to_be_bytes());
        k
    }

    fn from_key(k: &[u8]) -> Option<Self> {
        let dev = u64::from_be_bytes(k.get(..8)?.try_into().ok()?);
        let ino = u64::from_be_bytes(k.get(8..16)?.try_into().ok()?);
        Some(Self { dev, ino })
    }
}

/// What is remembered about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Where to resume reading: just past the last line handed to the engine.
    pub offset: u64,
    /// The file's name when the entry was written.
    pub name: String,
}

impl Entry {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + self.name.len());
        v.extend_from_slice(&self.offset.to_be_bytes());
        v.extend_from_slice(self.name.as_bytes());
        v
    }

    fn decode(v: &[u8]) -> Option<Self> {
        let offset = u64::from_be_bytes(v.get(..8)?.try_into().ok()?);
        let name = String::from_utf8_lossy(v.get(8..)?).into_owned();
        Some(Self { offset, name })
    }
}

/// A failure of the store, with what was being done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

/// Tail's offsets, by file identity. Methods take `&self` so that a flush can run on a
/// blocking thread while the tail task goes on.
pub trait OffsetStore: Send + Sync {
    fn get(&self, id: FileId) -> Result<Option<Entry>, StoreError>;
    fn put(&self, id: FileId, entry: &Entry) -> Result<(), StoreError>;
    fn remove(&self, id: FileId) -> Result<(), StoreError>;
    /// Every identity in the store.
    fn ids(&self) -> Result<Vec<FileId>, StoreError>;
    /// Makes every write so far durable. May block on the disk.
    fn flush(&self) -> Result<(), StoreError>;
    /// Whether each update should be flushed at once (`db.sync full` or `extra`).
    fn flush_each_update(&self) -> bool {
        false
    }
}

/// Entries in memory: tail without `db`.
#[derive(Debug, Default)]
pub struct MemStore {
    entries: Mutex<HashMap<FileId, Entry>>,
}

impl MemStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<FileId, Entry>> {
        // A panic while holding this lock cannot leave the map half-updated.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl OffsetStore for MemStore {
    fn get(&self, id: FileId) -> Result<Option<Entry>, StoreError> {
        Ok(self.lock().get(&id).cloned())
    }
    fn put(&self, id: FileId, entry: &Entry) -> Result<(), StoreError> {
        self.lock().insert(id, entry.clone());
        Ok(())
    }
    fn remove(&self, id: FileId) -> Result<(), StoreError> {
        self.lock().remove(&id);
        Ok(())
    }
    fn ids(&self) -> Result<Vec<FileId>, StoreError> {
        Ok(self.lock().keys().copied().collect())
    }
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// `db.sync`: how eagerly offsets reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    Off,
    Normal,
    Full,
}

impl SyncMode {
    /// Fluent Bit's values (`extra` is as `full` here).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" => Some(Self::Off),
            "normal" => Some(Self::Normal),
            "full" | "extra" => Some(Self::Full),
            _ => None,
        }
    }
}

/// Entries in a sled database.
#[derive(Debug)]
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    mode: SyncMode,
}

impl SledStore {
    /// Opens (or creates) the database at `path`. sled locks it: a second process, or a
    /// second tail with the same `db`, fails here with a clear error.
    pub fn open(path: &Path, mode: SyncMode) -> Result<Self, StoreError> {
        let every = match mode {
            SyncMode::Normal => Some(500),
            SyncMode::Off | SyncMode::Full => None,
        };
        let err =
            |e: sled::Error| StoreError(format!("cannot open database {}: {e}", path.display()));
        let db = sled::Config::new()
            .path(path)
            .flush_every_ms(every)
            .open()
            .map_err(err)?;
        let tree = db.open_tree("tail.files.v1").map_err(err)?;
        Ok(Self { db, tree, mode })
    }

    fn err(what: &str, e: sled::Error) -> StoreError {
        StoreError(format!("database {what}: {e}"))
    }
}

impl OffsetStore for SledStore {
    fn get(&self, id: FileId) -> Result<Option<Entry>, StoreError> {
        let v = self.tree.get(id.key()).map_err(|e| Self::err("read", e))?;
        Ok(v.and_then(|v| Entry::decode(&v)))
    }
    fn put(&self, id: FileId, entry: &Entry) -> Result<(), StoreError> {
        self.tree
            .insert(id.key(), entry.encode())
            .map(|_| ())
            .map_err(|e| Self::err("write", e))
    }
    fn remove(&self, id: FileId) -> Result<(), StoreError> {
        self.tree
            .remove(id.key())
            .map(|_| ())
            .map_err(|e| Self::err("delete", e))
    }
    fn ids(&self) -> Result<Vec<FileId>, StoreError> {
        let mut out = Vec::new();
        for kv in self.tree.iter() {
            let (k, _) = kv.map_err(|e| Self::err("read", e))?;
            if let Some(id) = FileId::from_key(&k) {
                out.push(id);
            }
        }
        Ok(out)
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.db
            .flush()
            .map(|_| ())
            .map_err(|e| Self::err("flush", e))
    }
    fn flush_each_update(&self) -> bool {
        self.mode == SyncMode::Full
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ino: u64) -> FileId {
        FileId { dev: 2049, ino }
    }

    fn round_trip(s: &dyn OffsetStore) {
        assert_eq!(s.get(id(1)).unwrap(), None);
        s.put(
            id(1),
            &Entry {
                offset: 10,
                name: "/a.log".into(),
            },
        )
        .unwrap();
        s.put(
            id(2),
            &Entry {
                offset: 0,
                name: "/b.log".into(),
            },
        )
        .unwrap();
        s.put(
            id(1),
            &Entry {
                offset: u64::MAX,
                name: "/a.log.1".into(),
            },
        )
        .unwrap();
        assert_eq!(
            s.get(id(1)).unwrap(),
            Some(Entry {
                offset: u64::MAX,
                name: "/a.log.1".into()
            })
        );
        let mut ids = s.ids().unwrap();
        ids.sort();
        assert_eq!(ids, [id(1), id(2)]);
        s.remove(id(2)).unwrap();
        assert_eq!(s.get(id(2)).unwrap(), None);
        s.flush().unwrap();
    }

    #[test]
    fn mem_store() {
        round_trip(&MemStore::default());
    }

    #[test]
    fn sled_store_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tail.db");
        {
            let s = SledStore::open(&path, SyncMode::Normal).unwrap();
            round_trip(&s);
            s.put(
                id(7),
                &Entry {
                    offset: 1234,
                    name: "/c.log".into(),
                },
            )
            .unwrap();
            s.flush().unwrap();
        }
        let s = SledStore::open(&path, SyncMode::Off).unwrap();
        assert_eq!(
            s.get(id(7)).unwrap(),
            Some(Entry {
                offset: 1234,
                name: "/c.log".into()
            })
        );
        assert_eq!(s.get(id(1)).unwrap().map(|e| e.offset), Some(u64::MAX));
        assert!(!s.flush_each_update());
    }

    #[test]
    fn sled_store_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tail.db");
        let _a = SledStore::open(&path, SyncMode::Full).unwrap();
        let e = SledStore::open(&path, SyncMode::Full).unwrap_err();
        assert!(e.0.contains("cannot open database"), "{e}");
    }

    #[test]
    fn sync_modes() {
        assert_eq!(SyncMode::parse("Extra"), Some(SyncMode::Full));
        assert_eq!(SyncMode::parse("normal"), Some(SyncMode::Normal));
        assert_eq!(SyncMode::parse("off"), Some(SyncMode::Off));
        assert_eq!(SyncMode::parse("sometimes"), None);
    }

    #[test]
    fn garbage_values_are_ignored() {
        assert_eq!(Entry::decode(b"short"), None);
        assert_eq!(FileId::from_key(b"short"), None);
    }
}
