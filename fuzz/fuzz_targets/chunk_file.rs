//! Chunk files are outside bytes once they are on disk (torn writes, bit rot, other programs):
//! checking, mapping and salvaging one must never panic, a salvage must always produce a clean
//! chunk holding exactly the records it counted, and opening a store over the file must work.
#![no_main]

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use weir_storage::scan::{examine, layout, salvage};
use weir_storage::{Options, Store};

/// One scratch root per fuzzing process, reused by every input.
fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| std::env::temp_dir().join(format!("weir-fuzz-chunk-{}", std::process::id())))
}

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    let quick = examine(Cursor::new(data), len, false).expect("reads from memory do not fail");
    let _ = quick.describe();
    let exam = examine(Cursor::new(data), len, true).expect("reads from memory do not fail");
    let _ = exam.describe();
    let _ = layout(data);
    let mut out = Cursor::new(Vec::new());
    if let Some(s) = salvage(Cursor::new(data), &exam, &mut out).expect("writes to memory") {
        let out = out.into_inner();
        assert_eq!(out.len() as u64, s.file_len);
        let again = examine(Cursor::new(&out), out.len() as u64, true).expect("in memory");
        assert!(again.is_clean(), "salvage output not clean: {}", again.describe());
        assert_eq!(again.body.records, s.body.records);
        assert!(layout(&out).is_some());
    }

    // The whole recovery path, files and all: the input as a chunk file in a stream directory.
    // For one input in four only: file system work is slow, and the bytes take the same path.
    if data.len() % 4 != 0 {
        return;
    }
    let root = root();
    let _ = std::fs::remove_dir_all(root);
    let stream = root.join("in.0");
    std::fs::create_dir_all(&stream).expect("scratch directory");
    std::fs::write(stream.join("00000000000000000001-0000000000.wchk"), data).expect("scratch file");
    let options = Options { checksum: data.first().is_some_and(|b| b & 1 == 1), ..Options::default() };
    let (store, report) = Store::open(root, options).expect("recovery never fails on a chunk file");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    for c in &report.chunks {
        let read = store.read(&c.id).expect("recovered chunks are readable");
        assert_eq!(read.records, c.records);
    }
});
