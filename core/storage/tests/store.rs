//! The store's API end to end: writing, reading, settling, dead letters, budgets, statistics,
//! durability and restarts.

mod common;

use std::time::Duration;

use common::{batch, chunk_ids, chunk_path, files_under};
use weir_storage::{Error, Options, Signal, Store, SyncMode, Ticket};

fn open(dir: &std::path::Path, options: Options) -> Store {
    let (store, report) = Store::open(dir, options).expect("store opens");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    store
}

#[test]
fn write_close_read_ack_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Options::default());
    let mut w = store
        .create("tail.0", "app.log", Signal::Logs, &["es.0", "http.1"])
        .unwrap();
    let (b1, n1) = batch(0, 10, 50);
    let (b2, n2) = batch(10, 25, 50);
    let t1 = w.append(&b1, n1).unwrap();
    let t2 = w.append(&b2, n2).unwrap();
    assert!(t2 > t1);
    assert_eq!(w.records(), 25);
    let id = w.id().clone();
    // Not routable while open.
    assert!(matches!(store.ack(&id, "es.0"), Err(Error::StillOpen(_))));
    assert!(store.output_chunks("es.0").is_empty());
    let info = w.close().unwrap();
    assert_eq!(info.records, 25);
    assert_eq!(&*info.tag, "app.log");
    assert_eq!(info.signal, Signal::Logs);
    assert!(!info.open);
    assert_eq!(info.owed.len(), 2);
    assert_eq!(
        info.bytes,
        std::fs::metadata(chunk_path(&store, &id)).unwrap().len()
    );
    assert_eq!(chunk_ids(&store, &id), (0..25).collect::<Vec<_>>());

    let s = store.ack(&id, "es.0").unwrap();
    assert_eq!((s.remaining, s.deleted), (1, false));
    // Twice is harmless.
    assert_eq!(store.ack(&id, "es.0").unwrap().remaining, 1);
    assert!(matches!(
        store.ack(&id, "nope"),
        Err(Error::UnknownOutput { .. })
    ));
    assert_eq!(store.info(&id).unwrap().owed.len(), 1);
    let s = store.ack(&id, "http.1").unwrap();
    assert!(s.deleted);
    assert!(!chunk_path(&store, &id).exists());
    assert!(store.info(&id).is_none());
    assert!(matches!(store.read(&id), Err(Error::UnknownChunk(_))));
    let st = store.stats();
    assert_eq!(st.chunks, 0);
    assert_eq!(st.outputs["es.0"].acked, 1);
    assert_eq!(st.outputs["http.1"].acked, 1);
}

#[test]
fn acknowledgements_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let store = open(dir.path(), Options::default());
        let mut w = store
            .create("tail.0", "t", Signal::Logs, &["a", "b", "c"])
            .unwrap();
        let (b, n) = batch(0, 5, 10);
        w.append(&b, n).unwrap();
        let id = w.close().unwrap().id;
        store.ack(&id, "b").unwrap();
        id
        // Dropped without any shutdown: a crash of the process.
    };
    let (store, report) = Store::open(dir.path(), Options::default()).unwrap();
    assert_eq!(report.chunks.len(), 1);
    let c = &report.chunks[0];
    assert_eq!(c.id, id);
    let owed: Vec<&str> = c.owed.iter().map(|o| &**o).collect();
    assert_eq!(owed, ["a", "c"]);
    assert_eq!(c.records, 5);
    assert_eq!(store.output_chunks("b"), vec![]);
    assert_eq!(store.output_chunks("a"), vec![id.clone()]);
    assert_eq!(chunk_ids(&store, &id), vec![0, 1, 2, 3, 4]);
    assert!(report.damaged.is_empty());
}

#[test]
fn a_dropped_writer_leaves_a_chunk_that_is_recovered_and_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Options::default());
    let mut w = store.create("in", "t", Signal::Metrics, &["o"]).unwrap();
    let (b, n) = batch(0, 3, 10);
    w.append(&b, n).unwrap();
    let id = w.id().clone();
    drop(w);
    // Routable from now on, unsealed.
    assert_eq!(store.output_chunks("o"), vec![id.clone()]);
    drop(store);
    let (store, report) = Store::open(dir.path(), Options::default()).unwrap();
    assert_eq!(report.chunks.len(), 1);
    assert_eq!(report.chunks[0].signal, Signal::Metrics);
    assert!(report.damaged.is_empty());
    drop(store);
    // Sealed by the first recovery: a second one finds it clean as well.
    let bytes = std::fs::read(dir.path().join("in").join(id.file_name())).unwrap();
    let exam = weir_storage::scan::examine(std::io::Cursor::new(&bytes), bytes.len() as u64, true)
        .unwrap();
    assert!(exam.ack_state().sealed);
    assert!(exam.is_clean());
}

#[test]
fn empty_chunks_are_dropped_at_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Options::default());
    let w = store.create("in", "t", Signal::Logs, &["o"]).unwrap();
    let info = w.close().unwrap();
    assert_eq!(info.records, 0);
    drop(store);
    let (_store, report) = Store::open(dir.path(), Options::default()).unwrap();
    assert!(report.chunks.is_empty());
    assert_eq!(report.empty_removed, 1);
}

#[test]
fn reject_keeps_a_dead_letter_copy() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        keep_rejected: true,
        ..Options::default()
    };
    let store = open(dir.path(), options.clone());
    let mut w = store
        .create("tail.0", "kube.var/log", Signal::Logs, &["es.0", "s3.0"])
        .unwrap();
    let (b, n) = batch(0, 7, 10);
    w.append(&b, n).unwrap();
    let id = w.close().unwrap().id;
    let s = store.reject(&id, "es.0").unwrap();
    let dl = s.dead_letter.expect("copied");
    assert!(dl.starts_with(dir.path().join("rejected")));
    let name = dl.file_name().unwrap().to_str().unwrap().to_string();
    assert!(name.starts_with("kube.var_log_es.0_tail.0_"), "{name}");
    // The dead letter is a chunk file with every record.
    let bytes = std::fs::read(&dl).unwrap();
    let exam = weir_storage::scan::examine(std::io::Cursor::new(&bytes), bytes.len() as u64, true)
        .unwrap();
    assert_eq!(exam.body.records, 7);
    assert!(chunk_path(&store, &id).exists());
    store.ack(&id, "s3.0").unwrap();
    assert!(!chunk_path(&store, &id).exists());
    let st = store.stats();
    assert_eq!(st.dead_lettered, 1);
    assert_eq!(st.outputs["es.0"].rejected, 1);
    assert_eq!(st.outputs["es.0"].dead_lettered, 1);
    drop(store);
    // Recovery leaves the dead-letter directory alone.
    let (_store, report) = Store::open(dir.path(), options).unwrap();
    assert!(report.chunks.is_empty());
    assert_eq!(report.foreign, 0);
    assert!(dl.exists());
}

#[test]
fn reject_without_dead_letter_just_settles() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Options::default());
    let mut w = store.create("in", "t", Signal::Logs, &["o"]).unwrap();
    let (b, n) = batch(0, 2, 10);
    w.append(&b, n).unwrap();
    let id = w.close().unwrap().id;
    let s = store.reject(&id, "o").unwrap();
    assert!(s.deleted && s.dead_letter.is_none());
    assert!(!dir.path().join("rejected").exists());
    assert_eq!(store.stats().outputs["o"].rejected, 1);
}

#[test]
fn per_output_bytes_and_oldest_first_for_drop_oldest() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Options::default());
    let mut ids = Vec::new();
    for i in 0..4u64 {
        let stream = if i % 2 == 0 { "a.0" } else { "b.0" };
        let outputs: &[&str] = if i == 1 { &["x"] } else { &["x", "y"] };
        let mut w = store.create(stream, "t", Signal::Logs, outputs).unwrap();
        let (b, n) = batch(i * 10, i * 10 + 10, 100);
        w.append(&b, n).unwrap();
        ids.push(w.close().unwrap());
    }
    let size = |i: usize| ids[i].bytes;
    assert_eq!(
        store.output_bytes("x"),
        size(0) + size(1) + size(2) + size(3)
    );
    assert_eq!(store.output_bytes("y"), size(0) + size(2) + size(3));
    let order: Vec<_> = ids.iter().map(|c| c.id.clone()).collect();
    assert_eq!(store.output_chunks("x"), order);
    // An open chunk counts towards the budget but is not a drop candidate.
    let mut open_w = store.create("a.0", "t", Signal::Logs, &["x"]).unwrap();
    let (b, n) = batch(100, 110, 100);
    open_w.append(&b, n).unwrap();
    assert_eq!(
        store.output_bytes("x"),
        size(0) + size(1) + size(2) + size(3) + open_w.bytes()
    );
    assert_eq!(store.output_chunks("x"), order);
    // drop_oldest as the engine does it: reject the oldest until under budget.
    let budget = size(2) + size(3) + open_w.bytes();
    while store.output_bytes("x") > budget {
        let oldest = store.output_chunks("x")[0].clone();
        store.reject(&oldest, "x").unwrap();
    }
    assert_eq!(store.output_chunks("x"), order[2..].to_vec());
    // Chunk 1 was only for x: gone. Chunk 0 is still owed to y.
    assert!(store.info(&order[1]).is_none());
    assert_eq!(store.output_chunks("y")[0], order[0]);
    assert_eq!(store.stats().outputs["x"].rejected, 2);
}

#[test]
fn statistics_per_stream() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Options::default());
    let mut w = store.create("tail.0", "t", Signal::Logs, &["o"]).unwrap();
    let (b, n) = batch(0, 4, 10);
    w.append(&b, n).unwrap();
    let closed = w.close().unwrap().id;
    let mut open_w = store.create("tail.0", "t", Signal::Logs, &["o"]).unwrap();
    open_w.append(&b, n).unwrap();
    let st = store.stats();
    let s = &st.streams["tail.0"];
    // Chunks made in this run start up (their writer's caller has the events in memory);
    // the engine marks them down when it lets go of them.
    assert_eq!((s.chunks, s.up, s.down, s.open, s.records), (2, 2, 0, 1, 8));
    assert!(store.set_up(&closed, false));
    let s = &store.stats().streams["tail.0"];
    assert_eq!((s.up, s.down), (1, 1));
    assert_eq!(st.chunks, 2);
    assert_eq!(st.outputs["o"].chunks, 2);
    assert_eq!(st.outputs["o"].bytes, st.bytes);
}

#[test]
fn bad_arguments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Options::default());
    for s in ["", ".", "..", ".hidden", "a/b", "quarantine", "rejected"] {
        assert!(
            matches!(
                store.create(s, "t", Signal::Logs, &["o"]),
                Err(Error::InvalidStream(_))
            ),
            "{s}"
        );
    }
    assert!(matches!(
        store.create("s", "t", Signal::Logs, &[]),
        Err(Error::NoOutputs)
    ));
    assert!(matches!(
        store.create("s", "t", Signal::Logs, &["a", "a"]),
        Err(Error::DuplicateOutput(_))
    ));
    let many: Vec<String> = (0..65).map(|i| format!("o{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert!(matches!(
        store.create("s", "t", Signal::Logs, &many),
        Err(Error::Limit(_))
    ));
    assert!(store.create("s", "t", Signal::Logs, &many[..64]).is_ok());
    // A malformed large batch writes nothing.
    let mut w = store.create("s", "t", Signal::Logs, &["o"]).unwrap();
    let before = w.bytes();
    assert!(matches!(
        w.append(&vec![0xc1; 100_000], 1),
        Err(Error::InvalidEvents(_))
    ));
    assert_eq!(w.bytes(), before);
    assert_eq!(w.append(&[], 0).unwrap(), w.last_ticket());
}

#[test]
fn large_batches_are_split_and_read_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Options::default());
    let mut w = store.create("s", "t", Signal::Logs, &["o"]).unwrap();
    let (b, n) = batch(0, 2000, 250);
    assert!(b.len() > 4 * 64 * 1024);
    w.append(&b, n).unwrap();
    let info = w.close().unwrap();
    assert_eq!(info.records, 2000);
    let data = store.read(&info.id).unwrap();
    assert_eq!(data.events, b);
    assert_eq!(data.records, 2000);
    let bytes = std::fs::read(chunk_path(&store, &info.id)).unwrap();
    let layout = weir_storage::scan::layout(&bytes).unwrap();
    assert!(layout.blocks.len() >= 5);
}

#[test]
fn a_read_leaves_out_damaged_blocks_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(
        dir.path(),
        Options {
            checksum: true,
            ..Options::default()
        },
    );
    let mut w = store.create("s", "t", Signal::Logs, &["o"]).unwrap();
    for i in 0..3 {
        let (b, n) = batch(i * 10, i * 10 + 10, 20);
        w.append(&b, n).unwrap();
    }
    let id = w.close().unwrap().id;
    let path = chunk_path(&store, &id);
    let mut bytes = std::fs::read(&path).unwrap();
    let layout = weir_storage::scan::layout(&bytes).unwrap();
    let at = layout.blocks[1].0.end as usize - 3;
    bytes[at] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let data = store.read(&id).unwrap();
    assert_eq!(
        common::ids(&data.events),
        (0..10).chain(20..30).collect::<Vec<_>>()
    );
    assert_eq!(data.lost_records, 10);
    store.read(&id).unwrap();
    let st = store.stats();
    assert_eq!((st.damaged, st.lost_records), (1, 10));
}

#[test]
fn sync_full_tickets_become_durable() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(
        dir.path(),
        Options {
            sync: SyncMode::Full,
            sync_interval: Duration::from_millis(5),
            ..Options::default()
        },
    );
    assert!(store.is_durable(Ticket::NONE).unwrap());
    let mut w = store.create("s", "t", Signal::Logs, &["o"]).unwrap();
    let mut last = Ticket::NONE;
    for i in 0..20 {
        let (b, n) = batch(i, i + 1, 100);
        last = w.append(&b, n).unwrap();
    }
    store.wait_durable(last).unwrap();
    assert!(store.is_durable(last).unwrap());
    let fsyncs = store.stats().fsyncs;
    assert!(fsyncs >= 1);
    let info = w.close().unwrap();
    store.ack(&info.id, "o").unwrap();
    // The async form needs no runtime: a minimal executor polls it to completion.
    let mut w = store.create("s", "t", Signal::Logs, &["o"]).unwrap();
    let (b, n) = batch(0, 1, 10);
    let t = w.append(&b, n).unwrap();
    block_on(store.durable(t)).unwrap();
}

#[test]
fn sync_normal_tickets_are_durable_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Options::default());
    let mut w = store.create("s", "t", Signal::Logs, &["o"]).unwrap();
    let (b, n) = batch(0, 1, 10);
    let t = w.append(&b, n).unwrap();
    assert!(store.is_durable(t).unwrap());
    assert!(store.wait_durable_timeout(t, Duration::ZERO).unwrap());
    assert_eq!(store.stats().fsyncs, 0);
}

#[test]
fn chunk_names_sort_in_creation_order_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut all = Vec::new();
    for round in 0..3u64 {
        let store = open(dir.path(), Options::default());
        for i in 0..3u64 {
            let mut w = store.create("s", "t", Signal::Logs, &["o"]).unwrap();
            let (b, n) = batch(round * 10 + i, round * 10 + i + 1, 1);
            w.append(&b, n).unwrap();
            all.push(w.close().unwrap().id);
        }
    }
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);
    let names: Vec<_> = files_under(&dir.path().join("s"));
    assert_eq!(names.len(), 9);
    let (store, _) = Store::open(dir.path(), Options::default()).unwrap();
    assert_eq!(store.output_chunks("o"), all);
}

#[test]
fn one_store_per_root() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Options::default());
    assert!(matches!(
        Store::open(dir.path(), Options::default()),
        Err(Error::Locked(_))
    ));
    drop(store);
    let (_again, report) = Store::open(dir.path(), Options::default()).unwrap();
    assert_eq!(report.foreign, 0);
}

#[test]
fn handles_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Store>();
    send_sync::<weir_storage::ChunkWriter>();
    send_sync::<weir_storage::Durable>();
}

#[test]
fn concurrent_writers_and_acks() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(
        dir.path(),
        Options {
            sync: SyncMode::Full,
            sync_interval: Duration::from_millis(2),
            ..Options::default()
        },
    );
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut done = Vec::new();
                for c in 0..5u64 {
                    let stream = format!("in.{t}");
                    let mut w = store
                        .create(&stream, "t", Signal::Logs, &["a", "b"])
                        .unwrap();
                    for i in 0..10u64 {
                        let first = t * 10_000 + c * 100 + i * 10;
                        let (b, n) = batch(first, first + 10, 40);
                        let ticket = w.append(&b, n).unwrap();
                        store.wait_durable(ticket).unwrap();
                    }
                    let info = w.close().unwrap();
                    store.ack(&info.id, "a").unwrap();
                    done.push(info.id);
                }
                done
            })
        })
        .collect();
    let ids: Vec<_> = threads
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(ids.len(), 20);
    assert_eq!(store.output_chunks("a"), vec![]);
    assert_eq!(store.output_chunks("b").len(), 20);
    let mut all: Vec<u64> = ids.iter().flat_map(|id| chunk_ids(&store, id)).collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 2000);
    drop(store);
    let (_s, report) = Store::open(dir.path(), Options::default()).unwrap();
    assert_eq!(report.chunks.len(), 20);
    assert_eq!(report.records(), 2000);
    assert!(report.chunks.iter().all(|c| c.owed.len() == 1));
}

/// Polls a future on this thread until it is ready, parking between wakes.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
