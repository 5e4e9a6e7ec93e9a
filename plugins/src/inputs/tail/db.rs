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
//! engine, never before, so a crash can only repeat lines, never skip them. sled buffers its
//! writes in the process and writes them out in the background (every half second with
//! `db.sync normal`), so on its own a `kill -9` would forget the last half second of offsets
//! and lines would be read twice. [`SledStore`] therefore also appends every update to a small
//! journal beside the database (`<db>.journal`, like SQLite's `-wal` file) with one `write`
//! and no fsync: the kernel keeps it across the death of the process, as it keeps Fluent
//! Bit's SQLite WAL. On open the journal is replayed into sled, sled is flushed, and the
//! journal is emptied; the same compaction runs every [`COMPACT_EVERY`] updates and at a clean
//! shutdown. `db.sync full` (or `extra`) also flushes sled after every update, for power loss.
//!
//! The offset follows the hand-over to the engine, not the delivery by the outputs: records
//! the engine still holds in memory when the process is killed are lost with it (as in Fluent
//! Bit); only storage that survives the process (`storage.type filesystem`) keeps them.
//!
//! Format: tree `tail.files.v1`; key = device then inode, 8 bytes each, big-endian; value =
//! offset, 8 bytes big-endian, then the file name in UTF-8. Journal records: length (u16),
//! kind (1 put, 2 remove), device, inode, offset (u64 each), name, then a CRC-32 of all that;
//! all big-endian. Replay stops at the first record that is short or fails its checksum (a
//! write torn by a power cut).

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Journal records between two compactions (a compaction is one fsync).
pub const COMPACT_EVERY: u32 = 4096;

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

/// Where the journal of the database at `db` lives: beside it, as SQLite's `-wal` file.
pub fn journal_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".journal");
    PathBuf::from(p)
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

/// Entries in a sled database, with a write-through journal for crash consistency.
#[derive(Debug)]
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    mode: SyncMode,
    journal: Mutex<Journal>,
}

/// The append-only file of updates not yet known to be on disk in sled.
#[derive(Debug)]
struct Journal {
    path: PathBuf,
    file: File,
    records: u32,
}

const PUT: u8 = 1;
const REMOVE: u8 = 2;
/// Length prefix, kind, device, inode, offset.
const RECORD_HEAD: usize = 2 + 1 + 24;

fn encode_record(kind: u8, id: FileId, offset: u64, name: &str) -> Vec<u8> {
    // Names longer than a record can say are cut: the name is informational only.
    let name = &name.as_bytes()[..name.len().min(u16::MAX as usize - RECORD_HEAD - 4)];
    let len = RECORD_HEAD + name.len() + 4;
    let mut r = Vec::with_capacity(len);
    r.extend_from_slice(&(len as u16).to_be_bytes());
    r.push(kind);
    r.extend_from_slice(&id.dev.to_be_bytes());
    r.extend_from_slice(&id.ino.to_be_bytes());
    r.extend_from_slice(&offset.to_be_bytes());
    r.extend_from_slice(name);
    let crc = crc32fast::hash(&r);
    r.extend_from_slice(&crc.to_be_bytes());
    r
}

/// Decodes the journal's records, stopping at the first damaged or incomplete one.
fn decode_records(mut buf: &[u8]) -> Vec<(u8, FileId, Entry)> {
    let mut out = Vec::new();
    while buf.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
        if len < RECORD_HEAD + 4 || buf.len() < len {
            break;
        }
        let (rec, rest) = buf.split_at(len);
        let (body, crc) = rec.split_at(len - 4);
        if crc32fast::hash(body) != u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]) {
            break;
        }
        let num = |at: usize| u64::from_be_bytes(body[at..at + 8].try_into().unwrap_or([0; 8]));
        let id = FileId {
            dev: num(3),
            ino: num(11),
        };
        let entry = Entry {
            offset: num(19),
            name: String::from_utf8_lossy(&body[RECORD_HEAD..]).into_owned(),
        };
        out.push((body[2], id, entry));
        buf = rest;
    }
    out
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
        let journal_path = journal_path(path);
        let jerr =
            |e: std::io::Error| StoreError(format!("journal {}: {e}", journal_path.display()));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&journal_path)
            .map_err(jerr)?;
        let mut pending = Vec::new();
        file.read_to_end(&mut pending).map_err(jerr)?;
        let store = Self {
            db,
            tree,
            mode,
            journal: Mutex::new(Journal {
                path: journal_path.clone(),
                file,
                records: 0,
            }),
        };
        // Updates that reached the journal but perhaps not sled's files: apply them, then
        // make sled durable and start an empty journal.
        for (kind, id, entry) in decode_records(&pending) {
            match kind {
                PUT => store.tree.insert(id.key(), entry.encode()).map(|_| ()),
                _ => store.tree.remove(id.key()).map(|_| ()),
            }
            .map_err(|e| Self::err("replay", e))?;
        }
        store.compact()?;
        Ok(store)
    }

    fn journal(&self) -> std::sync::MutexGuard<'_, Journal> {
        // The journal holds no invariant a panic could break halfway: at worst a record is
        // torn, and replay stops before it.
        self.journal.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one update to the journal, compacting when it has grown.
    fn log(&self, record: &[u8]) -> Result<(), StoreError> {
        let compact = {
            let mut j = self.journal();
            let path = j.path.display().to_string();
            j.file
                .write_all(record)
                .map_err(|e| StoreError(format!("journal {path}: {e}")))?;
            j.records += 1;
            j.records >= COMPACT_EVERY
        };
        if compact {
            self.compact()?;
        }
        Ok(())
    }

    /// Makes sled durable, then empties the journal (everything in it is now in sled).
    fn compact(&self) -> Result<(), StoreError> {
        let mut j = self.journal();
        self.db.flush().map_err(|e| Self::err("flush", e))?;
        let path = j.path.display().to_string();
        j.file
            .set_len(0)
            .map_err(|e| StoreError(format!("journal {path}: {e}")))?;
        j.records = 0;
        Ok(())
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
            .map_err(|e| Self::err("write", e))?;
        self.log(&encode_record(PUT, id, entry.offset, &entry.name))
    }
    fn remove(&self, id: FileId) -> Result<(), StoreError> {
        self.tree
            .remove(id.key())
            .map(|_| ())
            .map_err(|e| Self::err("delete", e))?;
        self.log(&encode_record(REMOVE, id, 0, ""))
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
        self.compact()
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
    fn journal_left_by_a_kill_is_replayed_at_open() {
        // What a kill -9 leaves behind: updates in the journal that sled's files never got.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tail.db");
        let journal = journal_path(&path);
        SledStore::open(&path, SyncMode::Off)
            .unwrap()
            .put(
                id(3),
                &Entry {
                    offset: 1,
                    name: "/c.log".into(),
                },
            )
            .unwrap();
        let mut j = encode_record(PUT, id(1), 10, "/a.log");
        j.extend(encode_record(PUT, id(1), 20, "/a.log"));
        j.extend(encode_record(PUT, id(2), 5, "/b.log"));
        j.extend(encode_record(REMOVE, id(2), 0, ""));
        j.extend(&encode_record(PUT, id(3), 99, "/c.log")[..10]); // torn by a power cut
        std::fs::write(&journal, j).unwrap();

        let s = SledStore::open(&path, SyncMode::Off).unwrap();
        assert_eq!(
            s.get(id(1)).unwrap(),
            Some(Entry {
                offset: 20,
                name: "/a.log".into()
            })
        );
        assert_eq!(s.get(id(2)).unwrap(), None);
        assert_eq!(
            s.get(id(3)).unwrap().map(|e| e.offset),
            Some(1),
            "the torn record is not applied"
        );
        assert_eq!(
            std::fs::metadata(&journal).unwrap().len(),
            0,
            "replayed, made durable, emptied"
        );
    }

    #[test]
    fn every_update_reaches_the_journal_until_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tail.db");
        let s = SledStore::open(&path, SyncMode::Normal).unwrap();
        for off in 1..=3u64 {
            s.put(
                id(1),
                &Entry {
                    offset: off,
                    name: "/a.log".into(),
                },
            )
            .unwrap();
        }
        let recs = decode_records(&std::fs::read(journal_path(&path)).unwrap());
        let offsets: Vec<u64> = recs.iter().map(|r| r.2.offset).collect();
        assert_eq!(offsets, vec![1, 2, 3]);
        s.flush().unwrap();
        assert_eq!(std::fs::metadata(journal_path(&path)).unwrap().len(), 0);
        for n in 0..COMPACT_EVERY {
            s.put(
                id(1),
                &Entry {
                    offset: u64::from(n),
                    name: "/a.log".into(),
                },
            )
            .unwrap();
        }
        assert_eq!(
            std::fs::metadata(journal_path(&path)).unwrap().len(),
            0,
            "compacted by itself"
        );
    }

    #[test]
    fn journal_replay_stops_at_a_torn_record() {
        let mut buf = encode_record(PUT, id(1), 7, "/a.log");
        buf.extend(encode_record(PUT, id(1), 9, "/a.log"));
        let cut = buf.len() - 3;
        let recs = decode_records(&buf[..cut]);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].2.offset, 7);
        let mut flipped = buf.clone();
        flipped[5] ^= 0x40;
        assert!(decode_records(&flipped).is_empty());
        assert_eq!(decode_records(&buf).len(), 2);
        assert!(decode_records(&[0xff]).is_empty());
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
