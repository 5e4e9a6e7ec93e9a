//! Model-based test: random sequences of operations run against the real store in a temporary
//! directory and against a plain in-memory model of what must be true.
//!
//! Operations: create a chunk (owed to a random subset of three outputs), append a batch, close,
//! acknowledge, reject, read, crash (drop everything without any shutdown; every written byte
//! stays, as after a process crash), clean restart, torn write (cut the newest file by a few
//! bytes, then crash) and bit flips anywhere in a chunk file.
//!
//! The model knows each chunk's byte layout from the sizes it appended (not from the store's own
//! reader), so it knows which blocks, header copies and ack slots every flip or cut damaged. After
//! each restart it checks:
//! - every record still owed to an output whose block is intact is present and owed to that
//!   output (and nothing else is in the chunk);
//! - no chunk is owed to an output that settled it (unless both ack slots were destroyed: then
//!   outputs get it again, at least once);
//! - every damaged chunk is reported, with the records kept and lost counted exactly when the
//!   damage left the counts readable;
//! - chunks with nothing left are gone, and nothing else is left behind.
//!
//! Failing cases are saved in `proptest-regressions/model.txt` and replayed first on every run.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, FileFailurePersistence};
use weir_storage::format::{
    BLOCK_HEADER_LEN, BLOCK_TARGET_LEN, HEADER_FIXED_LEN, SLOTS_LEN, SLOT_LEN,
};
use weir_storage::{ChunkId, ChunkWriter, Options, RecoveryReport, Signal, Store, SyncMode};

const OUTPUTS: [&str; 3] = ["out.0", "out.1", "out.2"];
const STREAMS: [&str; 2] = ["in.0", "in.1"];
const TAG: &str = "model.tag";
const PAD: usize = 150;

#[derive(Debug, Clone)]
enum Op {
    Create {
        stream: usize,
        outputs: u8,
    },
    Append {
        writer: Index,
        records: usize,
    },
    Close {
        writer: Index,
    },
    Ack {
        chunk: Index,
        output: Index,
    },
    Reject {
        chunk: Index,
        output: Index,
    },
    Read {
        chunk: Index,
    },
    Crash,
    Restart,
    Torn {
        cut: u64,
    },
    Flip {
        chunk: Index,
        region: Region,
        at: Index,
        bit: u8,
    },
}

/// Where a flip lands: uniform over the file, or aimed at the small parts where a flip is most
/// telling (they are a tiny share of a file's bytes).
#[derive(Debug, Clone, Copy)]
enum Region {
    Anywhere,
    Headers,
    Slots,
    BlockHeaders,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..STREAMS.len(), 1u8..8).prop_map(|(stream, outputs)| Op::Create { stream, outputs }),
        6 => (any::<Index>(), prop_oneof![4 => 1usize..40, 1 => 300usize..800])
            .prop_map(|(writer, records)| Op::Append { writer, records }),
        2 => any::<Index>().prop_map(|writer| Op::Close { writer }),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(chunk, output)| Op::Ack { chunk, output }),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(chunk, output)| Op::Reject { chunk, output }),
        2 => any::<Index>().prop_map(|chunk| Op::Read { chunk }),
        1 => Just(Op::Crash),
        1 => Just(Op::Restart),
        1 => (1u64..=20).prop_map(|cut| Op::Torn { cut }),
        3 => (any::<Index>(), region(), any::<Index>(), 0u8..8)
            .prop_map(|(chunk, region, at, bit)| Op::Flip { chunk, region, at, bit }),
    ]
}

fn region() -> impl Strategy<Value = Region> {
    prop_oneof![
        Just(Region::Anywhere),
        Just(Region::Headers),
        Just(Region::Slots),
        Just(Region::BlockHeaders),
    ]
}

#[derive(Debug, Clone)]
struct Setup {
    full: bool,
    keep_rejected: bool,
    delete_irrecoverable: bool,
}

fn setup() -> impl Strategy<Value = Setup> {
    (prop::bool::weighted(0.2), any::<bool>(), any::<bool>()).prop_map(
        |(full, keep_rejected, delete_irrecoverable)| Setup {
            full,
            keep_rejected,
            delete_irrecoverable,
        },
    )
}

/// One block as the model sees it.
#[derive(Debug, Clone)]
struct MBlock {
    ids: Vec<u64>,
    payload_len: u64,
}

/// One chunk as the model sees it.
#[derive(Debug, Clone)]
struct MChunk {
    id: ChunkId,
    outputs: Vec<usize>,
    settled: BTreeSet<usize>,
    blocks: Vec<MBlock>,
    open: bool,
    /// The ack slots carry a seal (closed cleanly, or recovered).
    sealed: bool,
    /// Bits flipped since the file was last rewritten, as (offset, bit); flipping twice undoes.
    flips: BTreeSet<(u64, u8)>,
    /// Length the file was cut to.
    cut: Option<u64>,
}

impl MChunk {
    fn header_len(&self) -> u64 {
        (HEADER_FIXED_LEN
            + TAG.len()
            + self
                .outputs
                .iter()
                .map(|o| 1 + OUTPUTS[*o].len())
                .sum::<usize>()
            + 4) as u64
    }
    fn slots_at(&self) -> u64 {
        2 * self.header_len()
    }
    fn body_start(&self) -> u64 {
        self.slots_at() + SLOTS_LEN as u64
    }
    /// Byte ranges of the blocks.
    fn block_ranges(&self) -> Vec<std::ops::Range<u64>> {
        let mut at = self.body_start();
        self.blocks
            .iter()
            .map(|b| {
                let r = at..at + BLOCK_HEADER_LEN as u64 + b.payload_len;
                at = r.end;
                r
            })
            .collect()
    }
    fn file_len(&self) -> u64 {
        self.block_ranges()
            .last()
            .map_or(self.body_start(), |r| r.end)
    }
    fn owed(&self) -> BTreeSet<usize> {
        self.outputs
            .iter()
            .copied()
            .filter(|o| !self.settled.contains(o))
            .collect()
    }
    /// Forgets flips in the ack slots: the store rewrote both.
    fn slots_rewritten(&mut self) {
        let slots = self.slots_at()..self.body_start();
        self.flips.retain(|(at, _)| !slots.contains(at));
    }

    /// What damage the flips and the cut did.
    fn damage(&self) -> Damage {
        let hl = self.header_len();
        let slots = self.slots_at();
        let end = self.cut.unwrap_or(u64::MAX);
        let hit = |r: std::ops::Range<u64>| self.flips.iter().any(|(at, _)| r.contains(at));
        let header_bad = [hit(0..hl) || end < hl, hit(hl..2 * hl) || end < 2 * hl];
        let slot_bad = [
            hit(slots..slots + SLOT_LEN as u64) || end < slots + SLOT_LEN as u64,
            hit(slots + SLOT_LEN as u64..self.body_start()) || end < self.body_start(),
        ];
        let blocks = self
            .block_ranges()
            .into_iter()
            .map(|r| {
                let head = r.start..r.start + BLOCK_HEADER_LEN as u64;
                if hit(head.clone()) || end < head.end {
                    BlockDamage::Unknown
                } else if hit(head.end..r.end) || end < r.end {
                    BlockDamage::Counted
                } else {
                    BlockDamage::None
                }
            })
            .collect();
        Damage {
            header_bad,
            slot_bad,
            blocks,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockDamage {
    None,
    /// The block header survived: its record count is known.
    Counted,
    /// The block header is gone.
    Unknown,
}

#[derive(Debug)]
struct Damage {
    header_bad: [bool; 2],
    slot_bad: [bool; 2],
    blocks: Vec<BlockDamage>,
}

impl Damage {
    fn any(&self) -> bool {
        self.header_bad.iter().any(|b| *b)
            || self.slot_bad.iter().any(|b| *b)
            || self.blocks.iter().any(|b| *b != BlockDamage::None)
    }
}

struct World {
    dir: tempfile::TempDir,
    options: Options,
    store: Option<Store>,
    writers: BTreeMap<ChunkId, ChunkWriter>,
    chunks: BTreeMap<ChunkId, MChunk>,
    next_id: u64,
    event_len: u64,
    /// Dead-letter files the store said it wrote. A chunk rejected again by the same output
    /// (its settled slot was damaged, so recovery owed it again) is written to the same
    /// file: a set, not a count.
    dead_letters: std::collections::BTreeSet<PathBuf>,
}

fn event_sizes_split(records: usize, event_len: u64) -> Vec<usize> {
    // The store's rule: one block if the batch fits, else greedy at event boundaries.
    let total = records as u64 * event_len;
    if total <= BLOCK_TARGET_LEN as u64 {
        return vec![records];
    }
    let per = (BLOCK_TARGET_LEN as u64 / event_len).max(1) as usize;
    let mut out = vec![per; records / per];
    if records % per != 0 {
        out.push(records % per);
    }
    out
}

impl World {
    fn new(setup: &Setup) -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = Options {
            sync: if setup.full {
                SyncMode::Full
            } else {
                SyncMode::Normal
            },
            sync_interval: Duration::from_millis(1),
            checksum: true,
            delete_irrecoverable_chunks: setup.delete_irrecoverable,
            keep_rejected: setup.keep_rejected,
            ..Options::default()
        };
        let (store, report) = Store::open(dir.path(), options.clone()).expect("open");
        assert!(report.chunks.is_empty());
        World {
            dir,
            options,
            store: Some(store),
            writers: BTreeMap::new(),
            chunks: BTreeMap::new(),
            next_id: 0,
            event_len: common::event(0, PAD).len() as u64,
            dead_letters: Default::default(),
        }
    }

    fn store(&self) -> &Store {
        self.store
            .as_ref()
            .expect("store is open between operations")
    }

    fn path(&self, id: &ChunkId) -> PathBuf {
        self.dir.path().join(id.stream()).join(id.file_name())
    }

    fn closed(&self) -> Vec<ChunkId> {
        self.chunks
            .values()
            .filter(|c| !c.open)
            .map(|c| c.id.clone())
            .collect()
    }

    fn run(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Create { stream, outputs } => {
                let outs: Vec<usize> = (0..3).filter(|i| outputs & (1 << i) != 0).collect();
                let names: Vec<&str> = outs.iter().map(|o| OUTPUTS[*o]).collect();
                let w = self
                    .store()
                    .create(STREAMS[*stream], TAG, Signal::Logs, &names)
                    .map_err(|e| TestCaseError::fail(format!("create: {e}")))?;
                let id = w.id().clone();
                self.chunks.insert(
                    id.clone(),
                    MChunk {
                        id: id.clone(),
                        outputs: outs,
                        settled: BTreeSet::new(),
                        blocks: vec![],
                        open: true,
                        sealed: false,
                        flips: BTreeSet::new(),
                        cut: None,
                    },
                );
                self.writers.insert(id, w);
            }
            Op::Append { writer, records } => {
                if self.writers.is_empty() {
                    return Ok(());
                }
                let id = self
                    .writers
                    .keys()
                    .nth(writer.index(self.writers.len()))
                    .cloned();
                let Some(id) = id else { return Ok(()) };
                let first = self.next_id;
                self.next_id += *records as u64;
                let (events, n) = common::batch(first, self.next_id, PAD);
                let w = self.writers.get_mut(&id).expect("writer listed");
                let ticket = w
                    .append(&events, n)
                    .map_err(|e| TestCaseError::fail(format!("append: {e}")))?;
                if self.options.sync == SyncMode::Full {
                    self.store()
                        .wait_durable(ticket)
                        .map_err(|e| TestCaseError::fail(format!("durable: {e}")))?;
                }
                let path = self.path(&id);
                let c = self.chunks.get_mut(&id).expect("model chunk");
                let mut next = first;
                for k in event_sizes_split(*records, self.event_len) {
                    c.blocks.push(MBlock {
                        ids: (next..next + k as u64).collect(),
                        payload_len: k as u64 * self.event_len,
                    });
                    next += k as u64;
                }
                let on_disk = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                prop_assert_eq!(on_disk, c.file_len(), "file length after append");
            }
            Op::Close { writer } => {
                if self.writers.is_empty() {
                    return Ok(());
                }
                let id = self
                    .writers
                    .keys()
                    .nth(writer.index(self.writers.len()))
                    .cloned();
                let Some(id) = id else { return Ok(()) };
                let w = self.writers.remove(&id).expect("writer listed");
                let info = w
                    .close()
                    .map_err(|e| TestCaseError::fail(format!("close: {e}")))?;
                let c = self.chunks.get_mut(&id).expect("model chunk");
                prop_assert_eq!(
                    info.records,
                    c.blocks.iter().map(|b| b.ids.len() as u64).sum::<u64>()
                );
                c.open = false;
                c.sealed = true;
                c.slots_rewritten();
            }
            Op::Ack { chunk, output } | Op::Reject { chunk, output } => {
                let reject = matches!(op, Op::Reject { .. });
                let candidates = self.closed();
                if candidates.is_empty() {
                    return Ok(());
                }
                let id = candidates[chunk.index(candidates.len())].clone();
                let c = &self.chunks[&id];
                let owed: Vec<usize> = c.owed().into_iter().collect();
                let o = owed[output.index(owed.len())];
                let result = if reject {
                    self.store().reject(&id, OUTPUTS[o])
                } else {
                    self.store().ack(&id, OUTPUTS[o])
                }
                .map_err(|e| TestCaseError::fail(format!("settle: {e}")))?;
                if reject {
                    prop_assert_eq!(result.dead_letter.is_some(), self.options.keep_rejected);
                    if let Some(path) = result.dead_letter {
                        prop_assert!(path.is_file(), "{}", path.display());
                        self.dead_letters.insert(path);
                    }
                }
                let c = self.chunks.get_mut(&id).expect("model chunk");
                c.settled.insert(o);
                prop_assert_eq!(result.remaining, c.owed().len());
                if c.owed().is_empty() {
                    prop_assert!(result.deleted);
                    prop_assert!(!self.path(&id).exists());
                    self.chunks.remove(&id);
                } else {
                    prop_assert!(!result.deleted);
                    c.slots_rewritten();
                }
            }
            Op::Read { chunk } => {
                let candidates = self.closed();
                if candidates.is_empty() {
                    return Ok(());
                }
                let id = candidates[chunk.index(candidates.len())].clone();
                let data = self
                    .store()
                    .read(&id)
                    .map_err(|e| TestCaseError::fail(format!("read: {e}")))?;
                let c = &self.chunks[&id];
                let damage = c.damage();
                let expect: Vec<u64> = c
                    .blocks
                    .iter()
                    .zip(&damage.blocks)
                    .filter(|(_, d)| **d == BlockDamage::None)
                    .flat_map(|(b, _)| b.ids.iter().copied())
                    .collect();
                prop_assert_eq!(common::ids(&data.events), expect);
                let counted: u64 = c
                    .blocks
                    .iter()
                    .zip(&damage.blocks)
                    .filter(|(_, d)| **d == BlockDamage::Counted)
                    .map(|(b, _)| b.ids.len() as u64)
                    .sum();
                prop_assert_eq!(data.lost_records, counted);
                prop_assert_eq!(
                    data.lost_unknown,
                    damage.blocks.contains(&BlockDamage::Unknown)
                );
            }
            Op::Crash => self.restart(false)?,
            Op::Restart => self.restart(true)?,
            Op::Torn { cut } => {
                let Some(id) = self.chunks.keys().next_back().cloned() else {
                    return Ok(());
                };
                let path = self.path(&id);
                let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                let new_len = len.saturating_sub(*cut);
                fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_len(new_len))
                    .map_err(|e| TestCaseError::fail(format!("truncate: {e}")))?;
                self.chunks.get_mut(&id).expect("model chunk").cut = Some(new_len);
                self.restart(false)?;
            }
            Op::Flip {
                chunk,
                region,
                at,
                bit,
            } => {
                if self.chunks.is_empty() {
                    return Ok(());
                }
                let id = self
                    .chunks
                    .keys()
                    .nth(chunk.index(self.chunks.len()))
                    .cloned();
                let Some(id) = id else { return Ok(()) };
                let path = self.path(&id);
                let mut bytes = fs::read(&path).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let c = self.chunks.get_mut(&id).expect("model chunk");
                prop_assert_eq!(bytes.len() as u64, c.file_len());
                if c.flips.is_empty() {
                    // The store's own reader agrees with the model on an intact file.
                    let l = weir_storage::scan::layout(&bytes).expect("intact layout");
                    let ranges: Vec<_> = l.blocks.iter().map(|(r, _)| r.clone()).collect();
                    prop_assert_eq!(ranges, c.block_ranges());
                }
                let spots: Vec<std::ops::Range<u64>> = match region {
                    Region::Anywhere => std::iter::once(0..bytes.len() as u64).collect(),
                    Region::Headers => std::iter::once(0..c.slots_at()).collect(),
                    Region::Slots => std::iter::once(c.slots_at()..c.body_start()).collect(),
                    Region::BlockHeaders => c
                        .block_ranges()
                        .into_iter()
                        .map(|r| r.start..r.start + BLOCK_HEADER_LEN as u64)
                        .collect(),
                };
                let total: u64 = spots.iter().map(|r| r.end - r.start).sum();
                if total == 0 {
                    return Ok(());
                }
                let mut k = at.index(total as usize) as u64;
                let mut pos = 0;
                for r in &spots {
                    if k < r.end - r.start {
                        pos = r.start + k;
                        break;
                    }
                    k -= r.end - r.start;
                }
                let at = pos as usize;
                bytes[at] ^= 1 << bit;
                fs::write(&path, &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let key = (at as u64, *bit);
                if !c.flips.remove(&key) {
                    c.flips.insert(key);
                }
            }
        }
        Ok(())
    }

    /// Drops everything (closing writers first when `clean`), reopens, and checks recovery
    /// against the model.
    fn restart(&mut self, clean: bool) -> Result<(), TestCaseError> {
        let writers = std::mem::take(&mut self.writers);
        for (id, w) in writers {
            let c = self.chunks.get_mut(&id).expect("model chunk");
            c.open = false;
            if clean {
                w.close()
                    .map_err(|e| TestCaseError::fail(format!("close: {e}")))?;
                c.sealed = true;
                c.slots_rewritten();
            }
        }
        self.store = None;
        let (store, report) = Store::open(self.dir.path(), self.options.clone())
            .map_err(|e| TestCaseError::fail(format!("reopen: {e}")))?;
        self.store = Some(store);
        self.check_recovery(&report)
    }

    fn check_recovery(&mut self, report: &RecoveryReport) -> Result<(), TestCaseError> {
        prop_assert!(report.errors.is_empty(), "{:?}", report.errors);
        prop_assert_eq!(report.foreign, 0);
        let damaged: BTreeMap<&ChunkId, _> = report.damaged.iter().map(|d| (&d.id, d)).collect();
        let recovered: BTreeMap<&ChunkId, _> = report.chunks.iter().map(|c| (&c.id, c)).collect();
        prop_assert_eq!(damaged.len(), report.damaged.len(), "one report per file");
        let mut next_model = BTreeMap::new();
        for (id, c) in std::mem::take(&mut self.chunks) {
            let d = c.damage();
            let header_lost = d.header_bad == [true, true];
            let slots_lost = d.slot_bad == [true, true];
            let intact: Vec<&MBlock> = c
                .blocks
                .iter()
                .zip(&d.blocks)
                .filter(|(_, d)| **d == BlockDamage::None)
                .map(|(b, _)| b)
                .collect();
            let intact_ids: Vec<u64> = intact.iter().flat_map(|b| b.ids.iter().copied()).collect();
            let lost: u64 = c
                .blocks
                .iter()
                .zip(&d.blocks)
                .filter(|(_, d)| **d != BlockDamage::None)
                .map(|(b, _)| b.ids.len() as u64)
                .sum();
            // With both slots gone nothing is known settled: outputs get the chunk again.
            let settled = if slots_lost {
                BTreeSet::new()
            } else {
                c.settled.clone()
            };
            let sealed = c.sealed && !slots_lost;

            if d.any() {
                let Some(r) = damaged.get(&id) else {
                    return Err(TestCaseError::fail(format!(
                        "damaged chunk {id} not reported: {d:?}"
                    )));
                };
                prop_assert_eq!(
                    r.quarantined.is_some(),
                    !self.options.delete_irrecoverable_chunks,
                    "quarantine of {}",
                    id
                );
                if let Some(q) = &r.quarantined {
                    prop_assert!(q.exists());
                }
                if header_lost {
                    prop_assert!(r.lost_unknown && !r.rewritten);
                } else {
                    prop_assert_eq!(r.rewritten, !intact.is_empty(), "rewritten {}", id);
                    if r.rewritten {
                        prop_assert_eq!(r.records_salvaged, intact_ids.len() as u64);
                    }
                    let unknown = d.blocks.contains(&BlockDamage::Unknown);
                    if sealed || !unknown {
                        prop_assert_eq!(r.records_lost, lost, "lost records of {}: {:?}", id, d);
                        prop_assert!(!r.lost_unknown);
                    } else {
                        prop_assert!(r.lost_unknown);
                        prop_assert!(r.records_lost <= lost);
                    }
                }
            } else {
                prop_assert!(
                    !damaged.contains_key(&id),
                    "clean chunk {} reported damaged",
                    id
                );
            }

            let present = !header_lost && !intact.is_empty();
            prop_assert_eq!(
                recovered.contains_key(&id),
                present,
                "presence of {} ({:?})",
                id,
                d
            );
            prop_assert_eq!(self.path(&id).exists(), present);
            if !present {
                continue;
            }
            let info = recovered[&id];
            let owed: BTreeSet<usize> = c
                .outputs
                .iter()
                .copied()
                .filter(|o| !settled.contains(o))
                .collect();
            let real_owed: BTreeSet<usize> = info
                .owed
                .iter()
                .map(|o| {
                    OUTPUTS
                        .iter()
                        .position(|n| *n == &**o)
                        .expect("known output")
                })
                .collect();
            prop_assert_eq!(&real_owed, &owed, "owed outputs of {}", id);
            prop_assert_eq!(info.outputs.len(), c.outputs.len());
            prop_assert_eq!(info.records, intact_ids.len() as u64);
            let data = self
                .store()
                .read(&id)
                .map_err(|e| TestCaseError::fail(format!("read: {e}")))?;
            prop_assert_eq!(common::ids(&data.events), intact_ids.clone());
            prop_assert_eq!(data.lost_records, 0);
            for o in &owed {
                prop_assert!(self.store().output_chunks(OUTPUTS[*o]).contains(&id));
            }
            next_model.insert(
                id.clone(),
                MChunk {
                    blocks: intact.into_iter().cloned().collect(),
                    settled,
                    open: false,
                    sealed: true,
                    flips: BTreeSet::new(),
                    cut: None,
                    ..c
                },
            );
        }
        for id in recovered.keys() {
            prop_assert!(next_model.contains_key(*id), "unexpected chunk {}", id);
        }
        self.chunks = next_model;
        // Nothing else is left in the stream directories (no temporary files, no strays).
        for s in STREAMS {
            let dir = self.dir.path().join(s);
            let files = common::files_under(&dir);
            let expect: Vec<PathBuf> = {
                let mut v: Vec<PathBuf> = self
                    .chunks
                    .keys()
                    .filter(|id| id.stream() == s)
                    .map(|id| self.path(id))
                    .collect();
                v.sort();
                v
            };
            prop_assert_eq!(files, expect);
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), TestCaseError> {
        self.restart(false)?;
        let st = self.store().stats();
        prop_assert_eq!(st.chunks, self.chunks.len() as u64);
        if self.options.keep_rejected {
            let dl = self.dir.path().join("rejected");
            let files: std::collections::BTreeSet<PathBuf> =
                common::files_under(&dl).into_iter().collect();
            prop_assert_eq!(files, self.dead_letters.clone());
        }
        Ok(())
    }
}

fn quarantine_dir(root: &Path) -> PathBuf {
    root.join(weir_storage::QUARANTINE_DIR)
}

proptest! {
    #![proptest_config(Config {
        cases: 128,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            concat!(env!("CARGO_MANIFEST_DIR"), "/proptest-regressions/model.txt"),
        ))),
        ..Config::default()
    })]

    #[test]
    fn store_matches_model(setup in setup(), ops in prop::collection::vec(op(), 1..60)) {
        let mut world = World::new(&setup);
        for op in &ops {
            world.run(op)?;
        }
        world.finish()?;
        if setup.delete_irrecoverable {
            prop_assert!(!quarantine_dir(world.dir.path()).exists());
        }
    }
}
