//! Helpers shared by the integration tests: events that carry an id, and reading ids back.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use weir_event::{EventTime, Events};
use weir_storage::{ChunkId, Store};

/// One event whose body is `{"id": <u64>, "log": "<pad bytes>"}`, the id at a fixed place.
pub fn event(id: u64, pad: usize) -> Vec<u8> {
    let mut body = vec![0x82, 0xa2, b'i', b'd', 0xcf];
    body.extend_from_slice(&id.to_be_bytes());
    body.extend_from_slice(&[0xa3, b'l', b'o', b'g']);
    rmp::encode::write_str(&mut body, &"x".repeat(pad)).expect("write to a Vec");
    let mut out = Vec::new();
    weir_event::event::write_event(&mut out, EventTime::new(1_700_000_000, 0), &[], &body);
    out
}

/// Events with ids `from..to`.
pub fn batch(from: u64, to: u64, pad: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    for id in from..to {
        out.extend_from_slice(&event(id, pad));
    }
    (out, (to - from) as usize)
}

/// The ids of the events in a buffer; panics on a malformed event (tests want to know).
pub fn ids(events: &[u8]) -> Vec<u64> {
    Events::new(events)
        .map(|e| {
            let e = e.expect("well-formed event");
            u64::from_be_bytes(e.body[5..13].try_into().expect("8 bytes"))
        })
        .collect()
}

/// The ids in a stored chunk.
pub fn chunk_ids(store: &Store, id: &ChunkId) -> Vec<u64> {
    ids(&store.read(id).expect("readable chunk").events)
}

/// The path of a chunk's file.
pub fn chunk_path(store: &Store, id: &ChunkId) -> PathBuf {
    store.root().join(id.stream()).join(id.file_name())
}

/// Every regular file under `dir`, recursively, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
