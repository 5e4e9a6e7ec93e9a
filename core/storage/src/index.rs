//! The in-memory catalogue of chunks on disk: who is owed what, how many bytes each output's
//! chunks take, and the counters behind the statistics.
//!
//! The catalogue mirrors the files: an entry exists exactly while its chunk file does (from
//! `create` or recovery to the last settlement). Per-output sets and byte counts are kept up to
//! date on every change, so budget checks (`output_bytes`) cost a hash lookup.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use weir_event::Signal;

use crate::format;

/// Identifies a chunk: its stream (input instance) and its file name's creation time and
/// sequence number. Ordered by creation, which is also the order of file names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkId {
    created_ns: u64,
    seq: u32,
    stream: Arc<str>,
}

impl ChunkId {
    pub(crate) fn new(stream: Arc<str>, created_ns: u64, seq: u32) -> Self {
        Self {
            created_ns,
            seq,
            stream,
        }
    }
    /// The stream (input instance name) the chunk belongs to.
    pub fn stream(&self) -> &str {
        &self.stream
    }
    /// Creation time, nanoseconds since the Unix epoch.
    pub fn created_ns(&self) -> u64 {
        self.created_ns
    }
    pub(crate) fn seq(&self) -> u32 {
        self.seq
    }
    /// The chunk's file name inside its stream directory.
    pub fn file_name(&self) -> String {
        format::file_name(self.created_ns, self.seq)
    }
}

impl fmt::Display for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.stream, self.file_name())
    }
}

/// What the store knows about one chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkInfo {
    pub id: ChunkId,
    pub tag: Arc<str>,
    pub signal: Signal,
    pub records: u64,
    /// Size of the chunk file.
    pub bytes: u64,
    /// Every output the chunk was routed to.
    pub outputs: Vec<Arc<str>>,
    /// The outputs that have neither acknowledged it nor given up on it.
    pub owed: Vec<Arc<str>>,
    /// Still being written (a [`crate::ChunkWriter`] holds it): not routable yet.
    pub open: bool,
}

/// Chunk counts of one stream, in Fluent Bit's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub chunks: u64,
    /// Chunks in memory: open ones, those created in this run until marked down, and
    /// recovered ones marked up, with [`crate::Store::set_up`].
    pub up: u64,
    /// Chunks only on disk.
    pub down: u64,
    /// Chunks still being written.
    pub open: u64,
    pub records: u64,
    pub bytes: u64,
}

/// Disk use and delivery counts of one output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputStats {
    /// Chunks the output is still owed.
    pub chunks: u64,
    /// Bytes on disk of those chunks (what `storage.total_limit_size` bounds).
    pub bytes: u64,
    /// Acknowledgements since the store opened.
    pub acked: u64,
    /// Chunks given up (retry limit, drop_oldest) since the store opened.
    pub rejected: u64,
    /// Of those, copied to the dead-letter directory.
    pub dead_lettered: u64,
}

/// Figures for `/api/v1/storage` and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageStats {
    pub streams: BTreeMap<String, StreamStats>,
    pub outputs: BTreeMap<String, OutputStats>,
    /// Chunks on disk.
    pub chunks: u64,
    /// Bytes of chunk files on disk.
    pub bytes: u64,
    /// Damaged chunk files found since the store opened (at recovery or on a read).
    pub damaged: u64,
    /// Damaged originals moved to the quarantine directory.
    pub quarantined: u64,
    /// Records kept from damaged chunks.
    pub salvaged_records: u64,
    /// Records known lost to damage.
    pub lost_records: u64,
    /// Chunks copied to the dead-letter directory.
    pub dead_lettered: u64,
    /// Files under the root that are not Weir's, left alone.
    pub foreign_files: u64,
    /// fsync calls made (`storage.sync full`).
    pub fsyncs: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub damaged: u64,
    pub quarantined: u64,
    pub salvaged_records: u64,
    pub lost_records: u64,
    pub foreign_files: u64,
}

/// One chunk on disk.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub path: PathBuf,
    pub tag: Arc<str>,
    pub signal: Signal,
    pub nonce: u32,
    pub slots_at: u64,
    pub body_start: u64,
    pub outputs: Vec<Arc<str>>,
    pub settled: u64,
    pub generation: u32,
    /// The ack slots carry the seal (body length and records at close).
    pub sealed: bool,
    pub records: u64,
    pub bytes: u64,
    pub open: bool,
    pub up: bool,
    /// Damage found by a read was already counted.
    pub read_damage_counted: bool,
}

impl Entry {
    fn owed_mask(&self) -> u64 {
        format::mask_for(self.outputs.len()) & !self.settled
    }

    fn owed(&self) -> impl Iterator<Item = &Arc<str>> {
        let owed = self.owed_mask();
        self.outputs
            .iter()
            .enumerate()
            .filter(move |(i, _)| owed & (1 << i) != 0)
            .map(|(_, o)| o)
    }

    pub fn info(&self, id: &ChunkId) -> ChunkInfo {
        ChunkInfo {
            id: id.clone(),
            tag: self.tag.clone(),
            signal: self.signal,
            records: self.records,
            bytes: self.bytes,
            outputs: self.outputs.clone(),
            owed: self.owed().cloned().collect(),
            open: self.open,
        }
    }

    pub fn all_settled(&self) -> bool {
        self.owed_mask() == 0
    }
}

#[derive(Debug, Default)]
struct OutputState {
    owed: BTreeSet<ChunkId>,
    bytes: u64,
    acked: u64,
    rejected: u64,
    dead_lettered: u64,
}

/// The catalogue, behind the store's lock.
#[derive(Debug, Default)]
pub(crate) struct Index {
    chunks: BTreeMap<ChunkId, Entry>,
    outputs: HashMap<Arc<str>, OutputState>,
    /// Interned names: streams with a directory, and output names.
    streams: HashSet<Arc<str>>,
    names: HashSet<Arc<str>>,
    last_created: u64,
    seq: u32,
    pub counters: Counters,
}

impl Index {
    /// The interned name of a stream whose directory exists, if it does.
    pub fn known_stream(&self, stream: &str) -> Option<Arc<str>> {
        self.streams.get(stream).cloned()
    }

    pub fn add_stream(&mut self, stream: &str) -> Arc<str> {
        if let Some(s) = self.streams.get(stream) {
            return s.clone();
        }
        let s: Arc<str> = Arc::from(stream);
        self.streams.insert(s.clone());
        s
    }

    pub fn intern(&mut self, name: &str) -> Arc<str> {
        if let Some(s) = self.names.get(name) {
            return s.clone();
        }
        let s: Arc<str> = Arc::from(name);
        self.names.insert(s.clone());
        s
    }

    /// A new id: creation times strictly increase, so names never collide and sort in creation
    /// order even if the clock steps back.
    pub fn allocate(&mut self, stream: Arc<str>, now_ns: u64) -> ChunkId {
        let created = now_ns.max(self.last_created.saturating_add(1));
        self.last_created = created;
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        ChunkId::new(stream, created, seq)
    }

    /// Notes a recovered chunk's creation time so new ones sort after it.
    pub fn saw_created(&mut self, created_ns: u64) {
        self.last_created = self.last_created.max(created_ns);
    }

    pub fn get(&self, id: &ChunkId) -> Option<&Entry> {
        self.chunks.get(id)
    }

    pub fn get_mut(&mut self, id: &ChunkId) -> Option<&mut Entry> {
        self.chunks.get_mut(id)
    }

    pub fn insert(&mut self, id: ChunkId, entry: Entry) {
        for o in entry.owed() {
            let st = self.outputs.entry(o.clone()).or_default();
            st.owed.insert(id.clone());
            st.bytes += entry.bytes;
        }
        self.chunks.insert(id, entry);
    }

    /// An append of `bytes` holding `records` to an open chunk.
    pub fn grow(&mut self, id: &ChunkId, bytes: u64, records: u64) {
        let Some(e) = self.chunks.get_mut(id) else {
            return;
        };
        e.bytes += bytes;
        e.records += records;
        for o in e.owed() {
            if let Some(st) = self.outputs.get_mut(o) {
                st.bytes += bytes;
            }
        }
    }

    /// Marks output bit `bit` of a chunk settled; `reject` tells which counter to bump.
    pub fn settle(&mut self, id: &ChunkId, bit: usize, reject: bool, dead_lettered: bool) {
        let Some(e) = self.chunks.get_mut(id) else {
            return;
        };
        if e.settled & (1 << bit) != 0 {
            return;
        }
        e.settled |= 1 << bit;
        let bytes = e.bytes;
        if let Some(st) = self.outputs.get_mut(&e.outputs[bit]) {
            st.owed.remove(id);
            st.bytes = st.bytes.saturating_sub(bytes);
            if reject {
                st.rejected += 1;
                st.dead_lettered += u64::from(dead_lettered);
            } else {
                st.acked += 1;
            }
        }
    }

    pub fn remove(&mut self, id: &ChunkId) -> Option<Entry> {
        let e = self.chunks.remove(id)?;
        for o in e.owed() {
            if let Some(st) = self.outputs.get_mut(o) {
                st.owed.remove(id);
                st.bytes = st.bytes.saturating_sub(e.bytes);
            }
        }
        Some(e)
    }

    pub fn chunks(&self) -> impl Iterator<Item = (&ChunkId, &Entry)> {
        self.chunks.iter()
    }

    /// Closed chunks still owed to `output`, oldest first.
    pub fn owed_to(&self, output: &str) -> Vec<ChunkId> {
        self.outputs.get(output).map_or_else(Vec::new, |st| {
            st.owed
                .iter()
                .filter(|id| self.chunks.get(*id).is_some_and(|e| !e.open))
                .cloned()
                .collect()
        })
    }

    pub fn output_bytes(&self, output: &str) -> u64 {
        self.outputs.get(output).map_or(0, |st| st.bytes)
    }

    pub fn stats(&self) -> StorageStats {
        let mut s = StorageStats {
            damaged: self.counters.damaged,
            quarantined: self.counters.quarantined,
            salvaged_records: self.counters.salvaged_records,
            lost_records: self.counters.lost_records,
            foreign_files: self.counters.foreign_files,
            ..StorageStats::default()
        };
        for (id, e) in &self.chunks {
            let st = s.streams.entry(id.stream().to_string()).or_default();
            st.chunks += 1;
            if e.open || e.up {
                st.up += 1;
            } else {
                st.down += 1;
            }
            st.open += u64::from(e.open);
            st.records += e.records;
            st.bytes += e.bytes;
            s.chunks += 1;
            s.bytes += e.bytes;
        }
        for (name, o) in &self.outputs {
            s.dead_lettered += o.dead_lettered;
            s.outputs.insert(
                name.to_string(),
                OutputStats {
                    chunks: o.owed.len() as u64,
                    bytes: o.bytes,
                    acked: o.acked,
                    rejected: o.rejected,
                    dead_lettered: o.dead_lettered,
                },
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(outputs: &[&str], bytes: u64) -> Entry {
        Entry {
            path: PathBuf::from("x"),
            tag: Arc::from("t"),
            signal: Signal::Logs,
            nonce: 0,
            slots_at: 0,
            body_start: 0,
            outputs: outputs.iter().map(|o| Arc::from(*o)).collect(),
            settled: 0,
            generation: 1,
            sealed: true,
            records: 0,
            bytes,
            open: false,
            up: false,
            read_damage_counted: false,
        }
    }

    #[test]
    fn ids_increase_even_if_the_clock_steps_back() {
        let mut ix = Index::default();
        let s = ix.add_stream("tail.0");
        let a = ix.allocate(s.clone(), 100);
        let b = ix.allocate(s.clone(), 50);
        let c = ix.allocate(s, 100);
        assert!(a < b && b < c);
        assert!(a.file_name() < b.file_name() && b.file_name() < c.file_name());
    }

    #[test]
    fn per_output_bytes_follow_settlements() {
        let mut ix = Index::default();
        let s = ix.add_stream("s");
        let a = ix.allocate(s.clone(), 1);
        let b = ix.allocate(s, 2);
        ix.insert(a.clone(), entry(&["x", "y"], 100));
        ix.insert(b.clone(), entry(&["y"], 10));
        ix.grow(&b, 5, 1);
        assert_eq!(ix.output_bytes("x"), 100);
        assert_eq!(ix.output_bytes("y"), 115);
        assert_eq!(ix.owed_to("y"), vec![a.clone(), b.clone()]);
        ix.settle(&a, 1, false, false);
        ix.settle(&a, 1, false, false);
        assert_eq!(ix.output_bytes("y"), 15);
        assert_eq!(ix.owed_to("y"), vec![b.clone()]);
        ix.settle(&a, 0, true, true);
        assert!(ix.get(&a).unwrap().all_settled());
        ix.remove(&a);
        ix.remove(&b);
        assert_eq!(ix.output_bytes("y"), 0);
        let st = ix.stats();
        assert_eq!(st.outputs["y"].acked, 1);
        assert_eq!(st.outputs["x"].rejected, 1);
        assert_eq!(st.dead_lettered, 1);
        assert_eq!(st.chunks, 0);
    }
}
