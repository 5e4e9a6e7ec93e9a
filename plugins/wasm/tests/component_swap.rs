//! Hot swap: a new version of a plugin file takes over between two batches, with the state of
//! the old one; a broken version is refused and the old one keeps running.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weir_core::PluginKind;

/// Replaces a file as a deployment should: written aside, renamed into place.
fn replace(path: &Path, with: &Path) {
    let tmp = path.with_extension("new");
    std::fs::copy(with, &tmp).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn a_new_version_takes_over_under_load_losing_nothing() {
    let sb = Sandbox::new();
    let file = sb.copy("filter", "plugin.wasm");
    let src = sb.load(&file);
    let ctx = context("swap.0");
    let f = Arc::new(filter(&src, &ctx, &[]));
    let swapped = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(60);

    let workers: Vec<_> = (0..3)
        .map(|t| {
            let f = f.clone();
            let swapped = swapped.clone();
            std::thread::spawn(move || {
                let mut seqs = Vec::new();
                let mut versions = Vec::new();
                let mut calls = Vec::new();
                let mut after = 0;
                let mut seq = 0u64;
                while after < 20 && Instant::now() < deadline {
                    let recs: Vec<String> = (0..3)
                        .map(|i| format!(r#"{{"t":{t},"seq":{}}}"#, seq + i))
                        .collect();
                    seq += 3;
                    let refs: Vec<&str> = recs.iter().map(String::as_str).collect();
                    let (_, out) = run_filter(&*f, "load", &refs);
                    let v = out[0]["version"].as_u64().unwrap();
                    for r in &out {
                        assert_eq!(r["version"], v, "one batch, one version");
                        seqs.push(r["seq"].as_u64().unwrap());
                    }
                    versions.push(v);
                    calls.push(out[0]["calls"].as_u64().unwrap());
                    if v == 2 {
                        swapped.store(true, Ordering::Relaxed);
                        after += 1;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                (seq, seqs, versions, calls)
            })
        })
        .collect();

    std::thread::sleep(Duration::from_millis(300));
    replace(&file, &guest("filter-v2"));
    let results: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    assert!(swapped.load(Ordering::Relaxed), "version 2 took over");

    let mut all_calls = BTreeSet::new();
    let mut batches = 0;
    for (sent, seqs, versions, calls) in results {
        assert_eq!(
            seqs,
            (0..sent).collect::<Vec<_>>(),
            "every record once, in order"
        );
        assert!(
            versions.windows(2).all(|w| w[0] <= w[1]),
            "never back to version 1"
        );
        assert_eq!(versions.first(), Some(&1));
        batches += calls.len();
        for c in calls {
            assert!(all_calls.insert(c), "batch number {c} seen twice");
        }
    }
    // The batch counter lives in the instance's state: version 2 went on counting where
    // version 1 stopped, and every batch was counted once.
    assert_eq!(all_calls, (1..=batches as u64).collect::<BTreeSet<_>>());
    assert_eq!(counter(&ctx, PluginKind::Filter, "wasm_swaps"), 1);
    assert_eq!(src.versions(), 2);
}

#[test]
fn broken_versions_are_refused_and_the_running_one_stays() {
    let sb = Sandbox::new();
    let file = sb.copy("filter", "plugin.wasm");
    let src = sb.load(&file);
    let ctx = context("stay.0");
    let f = filter(&src, &ctx, &[]);
    let version = || {
        run_filter(&f, "t", &[r#"{"k":1}"#]).1[0]["version"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(version(), 1);

    // Its init fails: the source takes it (it compiles and describes itself), the instance
    // refuses it and keeps version 1.
    replace(&file, &guest("filter-broken-init"));
    assert_eq!(src.update(), Ok(true));
    assert_eq!(version(), 1);
    assert_eq!(counter(&ctx, PluginKind::Filter, "wasm_swaps_refused"), 1);

    // Another plugin under the same file name: refused by the source.
    replace(&file, &guest("filter-renamed"));
    let err = src.update().unwrap_err();
    assert!(err.contains("other_filter"), "{err}");
    assert_eq!(version(), 1);
    assert_eq!(counter(&ctx, PluginKind::Filter, "wasm_swaps_refused"), 2);

    // Not WebAssembly at all.
    std::fs::write(file.with_extension("new"), b"garbage").unwrap();
    std::fs::rename(file.with_extension("new"), &file).unwrap();
    assert!(src.update().is_err());
    assert_eq!(version(), 1);

    // A good version still gets through afterwards.
    replace(&file, &guest("filter-v2"));
    assert_eq!(src.update(), Ok(true));
    assert_eq!(version(), 2);
    assert_eq!(counter(&ctx, PluginKind::Filter, "wasm_swaps"), 1);
    assert_eq!(counter(&ctx, PluginKind::Filter, "wasm_swaps_refused"), 3);
}

#[test]
fn touching_the_file_is_not_a_new_version() {
    let sb = Sandbox::new();
    let file = sb.copy("filter", "plugin.wasm");
    let src = sb.load(&file);
    let ctx = context("touch.0");
    let f = filter(&src, &ctx, &[]);
    replace(&file, &guest("filter"));
    assert_eq!(src.update(), Ok(false));
    run_filter(&f, "t", &[r#"{"k":1}"#]);
    assert_eq!(counter(&ctx, PluginKind::Filter, "wasm_swaps"), 0);
    assert_eq!(src.versions(), 1);
}
