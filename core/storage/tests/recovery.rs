//! Recovery at open with damaged, foreign and odd files under the root: start-up always works,
//! good records are kept and owed, the rest is quarantined and counted.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{batch, chunk_ids, files_under};
use weir_storage::scan::layout;
use weir_storage::{ChunkId, Options, Signal, Store};

/// Writes one chunk per entry of `blocks` (each a list of batch sizes) in stream `s`, owed to
/// `a` and `b`, ids numbered from 0; returns their ids.
fn write_chunks(root: &Path, blocks: &[&[u64]]) -> Vec<ChunkId> {
    let (store, _) = Store::open(root, Options::default()).unwrap();
    let mut next = 0;
    let mut out = Vec::new();
    for sizes in blocks {
        let mut w = store.create("s", "tag", Signal::Logs, &["a", "b"]).unwrap();
        for n in *sizes {
            let (b, c) = batch(next, next + n, 30);
            next += n;
            w.append(&b, c).unwrap();
        }
        out.push(w.close().unwrap().id);
    }
    out
}

fn path_of(root: &Path, id: &ChunkId) -> PathBuf {
    root.join(id.stream()).join(id.file_name())
}

fn checked() -> Options {
    Options {
        checksum: true,
        ..Options::default()
    }
}

#[test]
fn foreign_empty_and_truncated_files_do_not_stop_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ids = write_chunks(root, &[&[3], &[4]]);
    fs::write(root.join("README"), "not a chunk").unwrap();
    fs::create_dir_all(root.join("s/sub")).unwrap();
    fs::write(root.join("s/notes.txt"), "hello").unwrap();
    fs::write(root.join("s/00000000000000000001-0000000000.wchk"), b"").unwrap();
    fs::write(
        root.join("s/00000000000000000002-0000000000.wchk"),
        b"\x89WCHK\r",
    )
    .unwrap();
    fs::write(
        root.join("s/00000000000000000003-0000000000.wchk"),
        vec![0xAB; 10_000],
    )
    .unwrap();
    fs::write(root.join(".hidden"), "x").unwrap();
    let (store, report) = Store::open(root, checked()).unwrap();
    assert_eq!(report.chunks.len(), 2);
    assert_eq!(report.chunks[0].id, ids[0]);
    assert_eq!(report.records(), 7);
    // README, .hidden, s/sub, s/notes.txt.
    assert_eq!(report.foreign, 4);
    assert_eq!(report.empty_removed, 1);
    assert_eq!(report.damaged.len(), 2);
    for d in &report.damaged {
        assert!(d.lost_unknown);
        assert!(!d.rewritten);
        let q = d.quarantined.as_ref().unwrap();
        assert!(q.starts_with(root.join("quarantine/s")), "{}", q.display());
        assert!(q.exists());
    }
    assert!(root.join("README").exists() && root.join("s/notes.txt").exists());
    assert_eq!(chunk_ids(&store, &ids[1]), vec![3, 4, 5, 6]);
    let st = store.stats();
    assert_eq!((st.damaged, st.quarantined, st.foreign_files), (2, 2, 4));
    drop(store);
    // A second start finds everything in order.
    let (_s, again) = Store::open(root, checked()).unwrap();
    assert_eq!(again.chunks.len(), 2);
    assert!(again.damaged.is_empty());
}

#[test]
fn a_flipped_body_byte_costs_one_block() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ids = write_chunks(root, &[&[5, 6, 7]]);
    let path = path_of(root, &ids[0]);
    let original = fs::read(&path).unwrap();
    let l = layout(&original).unwrap();
    let mut bytes = original.clone();
    let mid = (l.blocks[1].0.start + l.blocks[1].0.end) / 2;
    bytes[mid as usize] ^= 0x04;
    fs::write(&path, &bytes).unwrap();
    let (store, report) = Store::open(root, checked()).unwrap();
    assert_eq!(report.damaged.len(), 1);
    let d = &report.damaged[0];
    assert_eq!((d.records_salvaged, d.records_lost), (12, 6));
    assert!(!d.lost_unknown);
    assert!(d.rewritten);
    assert!(d.reason.contains("CRC"), "{}", d.reason);
    assert_eq!(fs::read(d.quarantined.as_ref().unwrap()).unwrap(), bytes);
    assert_eq!(
        chunk_ids(&store, &ids[0]),
        (0..5).chain(11..18).collect::<Vec<_>>()
    );
    assert_eq!(report.chunks[0].owed.len(), 2);
    let st = store.stats();
    assert_eq!((st.salvaged_records, st.lost_records), (12, 6));
}

#[test]
fn without_checksum_framing_is_still_checked() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ids = write_chunks(root, &[&[5, 6, 7]]);
    let path = path_of(root, &ids[0]);
    let mut bytes = fs::read(&path).unwrap();
    let l = layout(&bytes).unwrap();
    // A payload byte: not noticed without storage.checksum...
    let payload_at = l.blocks[2].0.end as usize - 2;
    bytes[payload_at] ^= 0x01;
    // ...but a block header byte is.
    bytes[l.blocks[0].0.start as usize + 6] ^= 0x01;
    fs::write(&path, &bytes).unwrap();
    let (store, report) = Store::open(root, Options::default()).unwrap();
    assert_eq!(report.damaged.len(), 1);
    let d = &report.damaged[0];
    // The salvage verifies every CRC, so it drops the payload damage too.
    assert_eq!(d.records_salvaged, 6);
    assert_eq!(d.records_lost, 12);
    assert_eq!(chunk_ids(&store, &ids[0]), (5..11).collect::<Vec<_>>());
}

#[test]
fn a_torn_last_block_is_cut_off_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ids = write_chunks(root, &[&[5, 6]]);
    let path = path_of(root, &ids[0]);
    let len = fs::metadata(&path).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 7)
        .unwrap();
    let (store, report) = Store::open(root, Options::default()).unwrap();
    let d = &report.damaged[0];
    assert_eq!((d.records_salvaged, d.records_lost), (5, 6));
    assert!(d.reason.contains("torn"), "{}", d.reason);
    assert_eq!(chunk_ids(&store, &ids[0]), (0..5).collect::<Vec<_>>());
}

#[test]
fn a_damaged_header_copy_or_ack_slot_costs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ids = write_chunks(root, &[&[2], &[3], &[4]]);
    {
        let (store, _) = Store::open(root, Options::default()).unwrap();
        store.ack(&ids[2], "b").unwrap();
    }
    let damage = |id: &ChunkId, at: fn(&weir_storage::scan::Layout) -> u64| {
        let p = path_of(root, id);
        let mut bytes = fs::read(&p).unwrap();
        let l = layout(&bytes).unwrap();
        bytes[at(&l) as usize] ^= 0xff;
        fs::write(&p, &bytes).unwrap();
    };
    damage(&ids[0], |_| 3); // copy A's magic
    damage(&ids[1], |l| l.header_len + 20); // copy B
    damage(&ids[2], |l| l.slots_at + 9); // slot A: its settled bitmap
    let (store, report) = Store::open(root, checked()).unwrap();
    assert_eq!(report.damaged.len(), 3);
    for d in &report.damaged {
        assert_eq!(d.records_lost, 0);
        assert!(d.rewritten);
    }
    assert_eq!(report.records(), 9);
    assert_eq!(chunk_ids(&store, &ids[0]), vec![0, 1]);
    // The acknowledgement survived in slot B.
    let info = store.info(&ids[2]).unwrap();
    let owed: Vec<&str> = info.owed.iter().map(|o| &**o).collect();
    assert_eq!(owed, ["a"]);
    drop(store);
    let (_s, again) = Store::open(root, checked()).unwrap();
    assert!(again.damaged.is_empty());
    assert_eq!(again.records(), 9);
}

#[test]
fn both_headers_lost_quarantines_or_deletes() {
    for delete in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let ids = write_chunks(root, &[&[2], &[3]]);
        let p = path_of(root, &ids[0]);
        let mut bytes = fs::read(&p).unwrap();
        let l = layout(&bytes).unwrap();
        bytes[1] ^= 1;
        bytes[l.header_len as usize + 1] ^= 1;
        fs::write(&p, &bytes).unwrap();
        let options = Options {
            delete_irrecoverable_chunks: delete,
            ..checked()
        };
        let (_store, report) = Store::open(root, options).unwrap();
        assert_eq!(report.chunks.len(), 1);
        let d = &report.damaged[0];
        assert!(d.lost_unknown && !d.rewritten);
        assert!(d.reason.contains("both header copies"), "{}", d.reason);
        assert!(!p.exists());
        assert_eq!(d.quarantined.is_some(), !delete);
        assert_eq!(root.join("quarantine").exists(), !delete);
    }
}

#[test]
fn salvage_with_delete_irrecoverable_keeps_no_copy() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ids = write_chunks(root, &[&[2, 3]]);
    let p = path_of(root, &ids[0]);
    let mut bytes = fs::read(&p).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    fs::write(&p, &bytes).unwrap();
    let options = Options {
        delete_irrecoverable_chunks: true,
        ..checked()
    };
    let (store, report) = Store::open(root, options).unwrap();
    let d = &report.damaged[0];
    assert!(d.rewritten && d.quarantined.is_none());
    assert_eq!(chunk_ids(&store, &ids[0]), vec![0, 1]);
    assert!(!root.join("quarantine").exists());
    let files: Vec<_> = files_under(root)
        .into_iter()
        .filter(|f| !f.ends_with(weir_storage::LOCK_FILE))
        .collect();
    assert_eq!(files.len(), 1);
}

#[test]
fn leftovers_of_an_interrupted_salvage_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ids = write_chunks(root, &[&[2]]);
    fs::write(
        root.join("s")
            .join(format!(".salvage-{}", ids[0].file_name())),
        b"partial",
    )
    .unwrap();
    let (_s, report) = Store::open(root, Options::default()).unwrap();
    assert_eq!(report.temp_removed, 1);
    assert_eq!(report.chunks.len(), 1);
    assert_eq!(report.foreign, 0);
}

#[test]
fn a_newer_format_version_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ids = write_chunks(root, &[&[2]]);
    let p = path_of(root, &ids[0]);
    let mut bytes = fs::read(&p).unwrap();
    let hlen = layout(&bytes).unwrap().header_len as usize;
    for copy in 0..2 {
        let h = &mut bytes[copy * hlen..(copy + 1) * hlen];
        h[8] = 9;
        let crc = crc32fast::hash(&h[..hlen - 4]);
        h[hlen - 4..].copy_from_slice(&crc.to_le_bytes());
    }
    fs::write(&p, &bytes).unwrap();
    let (_s, report) = Store::open(root, checked()).unwrap();
    assert_eq!(report.unsupported, vec![p.clone()]);
    assert!(report.chunks.is_empty() && report.damaged.is_empty());
    assert_eq!(fs::read(&p).unwrap(), bytes);
}

#[test]
fn chunks_every_output_settled_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ids = write_chunks(root, &[&[2]]);
    // Both slots say both outputs settled, as left by a crash between the last ack's slot
    // write and the unlink (or a failed unlink).
    let p = path_of(root, &ids[0]);
    let mut bytes = fs::read(&p).unwrap();
    let l = layout(&bytes).unwrap();
    let at = l.slots_at as usize;
    let mut acks =
        weir_storage::format::AckState::decode_slot(&bytes[at..], l.header.nonce).unwrap();
    acks.settled = 0b11;
    acks.generation += 1;
    bytes[at..at + weir_storage::format::SLOTS_LEN]
        .copy_from_slice(&acks.encode_slots(l.header.nonce));
    fs::write(&p, &bytes).unwrap();
    let (_s, report) = Store::open(root, Options::default()).unwrap();
    assert_eq!(report.settled_removed, 1);
    assert!(!p.exists());
}

/// Peak memory of recovery and replay over a large backlog. Ignored by default (it writes
/// `WEIR_BACKLOG_MB`, 256 by default, to the target directory):
/// `WEIR_BACKLOG_MB=1024 cargo test -p weir-storage --release --test recovery -- --ignored --nocapture`
#[test]
#[ignore]
fn large_backlog_recovers_in_bounded_memory() {
    fn peak_rss_kb() -> u64 {
        let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
    let mb: u64 = std::env::var("WEIR_BACKLOG_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let root = dir.path();
    let (batch_bytes, n) = batch(0, 120, 230);
    {
        let (store, _) = Store::open(root, Options::default()).unwrap();
        let mut written = 0u64;
        while written < mb << 20 {
            let mut w = store
                .create("tail.0", "t", Signal::Logs, &["a", "b"])
                .unwrap();
            while w.bytes() < 2 << 20 {
                w.append(&batch_bytes, n).unwrap();
            }
            written += w.close().unwrap().bytes;
        }
    }
    let before = peak_rss_kb();
    let start = std::time::Instant::now();
    let (store, report) = Store::open(root, checked()).unwrap();
    let recovered = start.elapsed();
    let mut records = 0;
    for c in &report.chunks {
        records += store.read(&c.id).unwrap().records;
    }
    let replayed = start.elapsed();
    assert_eq!(records, report.records());
    eprintln!(
        "backlog {} MiB in {} chunks: recovery {:?}, recovery and replay {:?}; peak RSS {} MiB before, {} MiB after",
        report.bytes() >> 20,
        report.chunks.len(),
        recovered,
        replayed,
        before / 1024,
        peak_rss_kb() / 1024
    );
}
