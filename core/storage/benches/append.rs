//! Append throughput: 2 MiB chunks of ~250-byte events in 32 KiB batches, with
//! `storage.sync normal` and `full` (made durable once per chunk, as an input acknowledging a
//! chunk's worth would; not waited for at all; and once per batch, as an input acknowledging
//! every batch to its client would), and
//! reading a chunk back for replay with and without `storage.checksum`.
//!
//! `cargo bench -p weir-storage --bench append`
//!
//! The files go under the target directory, on the disk the build uses (not a tmpfs, where an
//! fsync costs nothing).

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use weir_event::EventTime;
use weir_storage::{Options, Signal, Store, SyncMode};

const CHUNK: usize = 2 * 1024 * 1024;
const BATCH: usize = 32 * 1024;

/// A batch of ~250-byte events filling about 32 KiB, and its record count.
fn batch() -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(BATCH);
    let mut n = 0;
    while out.len() + 260 <= BATCH {
        let mut body = Vec::new();
        rmp::encode::write_map_len(&mut body, 3).expect("Vec");
        rmp::encode::write_str(&mut body, "host").expect("Vec");
        rmp::encode::write_str(&mut body, "edge-node-042").expect("Vec");
        rmp::encode::write_str(&mut body, "seq").expect("Vec");
        rmp::encode::write_uint(&mut body, n as u64).expect("Vec");
        rmp::encode::write_str(&mut body, "log").expect("Vec");
        let filler = 250 - 13 - body.len() - 6;
        rmp::encode::write_str(&mut body, &"x".repeat(filler)).expect("Vec");
        weir_event::event::write_event(&mut out, EventTime::new(1_767_225_600, n), &[], &body);
        n += 1;
    }
    (out, n as usize)
}

fn options(sync: SyncMode) -> Options {
    Options {
        sync,
        ..Options::default()
    }
}

fn bench_append(c: &mut Criterion) {
    let (events, records) = batch();
    let batches = CHUNK / events.len();
    let bytes = (batches * events.len()) as u64;
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("bench directory");
    let mut g = c.benchmark_group("append_2MiB_chunk");
    g.throughput(Throughput::Bytes(bytes));
    g.measurement_time(Duration::from_secs(8));
    // "full" waits for durability once per chunk; "full_no_wait" leaves the fsyncs to the sync
    // thread, as inputs that do not acknowledge their clients would.
    for (name, sync, wait) in [
        ("normal", SyncMode::Normal, true),
        ("full", SyncMode::Full, true),
        ("full_no_wait", SyncMode::Full, false),
    ] {
        let (store, _) = Store::open(tmp.path().join(name), options(sync)).expect("store");
        g.bench_function(BenchmarkId::new("sync", name), |b| {
            b.iter(|| {
                let mut w = store
                    .create("bench.0", "bench", Signal::Logs, &["out.0"])
                    .expect("create");
                let mut t = w.last_ticket();
                for _ in 0..batches {
                    t = w.append(black_box(&events), records).expect("append");
                }
                if wait {
                    store.wait_durable(t).expect("durable");
                }
                let info = w.close().expect("close");
                store.ack(&info.id, "out.0").expect("ack");
            })
        });
    }
    g.finish();

    // Every batch waited for on its own: the sync interval bounds one writer's rate, which is
    // the price of sparing the disk an fsync per batch (concurrent writers share each round).
    let mut g = c.benchmark_group("append_wait_each_batch");
    let per_iter = 8;
    g.throughput(Throughput::Bytes((per_iter * events.len()) as u64));
    g.sample_size(10);
    for interval_ms in [5u64, 25] {
        let root = tmp.path().join(format!("each-{interval_ms}"));
        let opts = Options {
            sync_interval: Duration::from_millis(interval_ms),
            ..options(SyncMode::Full)
        };
        let (store, _) = Store::open(root, opts).expect("store");
        g.bench_function(BenchmarkId::new("full_interval_ms", interval_ms), |b| {
            b.iter(|| {
                let mut w = store
                    .create("bench.0", "bench", Signal::Logs, &["out.0"])
                    .expect("create");
                for _ in 0..per_iter {
                    let t = w.append(black_box(&events), records).expect("append");
                    store.wait_durable(t).expect("durable");
                }
                let info = w.close().expect("close");
                store.ack(&info.id, "out.0").expect("ack");
            })
        });
    }
    g.finish();
}

fn bench_read(c: &mut Criterion) {
    let (events, records) = batch();
    let batches = CHUNK / events.len();
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("bench directory");
    let mut g = c.benchmark_group("read_2MiB_chunk");
    g.throughput(Throughput::Bytes((batches * events.len()) as u64));
    for checksum in [false, true] {
        let root = tmp.path().join(format!("read-{checksum}"));
        let (store, _) = Store::open(
            &root,
            Options {
                checksum,
                ..Options::default()
            },
        )
        .expect("store");
        let mut w = store
            .create("bench.0", "bench", Signal::Logs, &["out.0"])
            .expect("create");
        for _ in 0..batches {
            w.append(&events, records).expect("append");
        }
        let id = w.close().expect("close").id;
        g.bench_function(BenchmarkId::new("checksum", checksum), |b| {
            b.iter(|| black_box(store.read(&id).expect("read").records))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_append, bench_read);
criterion_main!(benches);
