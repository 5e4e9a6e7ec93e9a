//! `/api/v1/storage`: Fluent Bit's shape for the storage layer and each input's buffer, with a
//! `weir` section for what Fluent Bit does not report.

use super::StorageView;

/// Fluent Bit's `/api/v1/storage` shape, plus a `weir` section with what Fluent Bit does not
/// report: bytes on disk per output, damaged, quarantined, salvaged and dead-lettered counts.
pub(crate) fn storage_json(view: &StorageView) -> serde_json::Value {
    use serde_json::{json, Map};
    let stats = view.store.as_ref().map(|s| s.stats()).unwrap_or_default();
    let mut inputs = Map::new();
    let mut mem_chunks = 0u64;
    let view_inputs = view
        .inputs
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    for (name, budget, filesystem) in &view_inputs {
        let stream = stats.streams.get(&**name).cloned().unwrap_or_default();
        let in_memory = budget.chunks();
        if !filesystem {
            mem_chunks += in_memory;
        }
        let (total, up, down) = if *filesystem {
            (stream.chunks, stream.up, stream.down)
        } else {
            (in_memory, in_memory, 0)
        };
        inputs.insert(
            name.to_string(),
            json!({
                "status": {
                    "overlimit": budget.is_over(),
                    "mem_size": human_size(budget.used()),
                    "mem_limit": human_size(budget.limit().unwrap_or(0)),
                },
                "chunks": {
                    "total": total,
                    "up": up,
                    "down": down,
                    "busy": in_memory,
                    "busy_size": human_size(budget.used()),
                },
            }),
        );
    }
    let fs_up: u64 = stats.streams.values().map(|s| s.up).sum();
    let fs_down: u64 = stats.streams.values().map(|s| s.down).sum();
    let mut outputs = Map::new();
    for (name, o) in &stats.outputs {
        outputs.insert(
            name.clone(),
            json!({
                "chunks": o.chunks,
                "bytes_on_disk": o.bytes,
                "acked": o.acked,
                "rejected": o.rejected,
                "dead_lettered": o.dead_lettered,
            }),
        );
    }
    json!({
        "storage_layer": {
            "chunks": {
                "total_chunks": mem_chunks + stats.chunks,
                "mem_chunks": mem_chunks,
                "fs_chunks": stats.chunks,
                "fs_chunks_up": fs_up,
                "fs_chunks_down": fs_down,
            }
        },
        "input_chunks": inputs,
        "weir": {
            "bytes_on_disk": stats.bytes,
            "outputs": outputs,
            "damaged": stats.damaged,
            "quarantined": stats.quarantined,
            "salvaged_records": stats.salvaged_records,
            "lost_records": stats.lost_records,
            "dead_lettered": stats.dead_lettered,
            "foreign_files": stats.foreign_files,
            "fsyncs": stats.fsyncs,
        }
    })
}

/// Sizes as Fluent Bit writes them in `/api/v1/storage`: `512b`, `1.5K`, `2.0M`, `1.1G`.
fn human_size(bytes: u64) -> String {
    const K: f64 = 1024.0;
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes}b")
    } else if b < K * K {
        format!("{:.1}K", b / K)
    } else if b < K * K * K {
        format!("{:.1}M", b / (K * K))
    } else {
        format!("{:.1}G", b / (K * K * K))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_sizes() {
        assert_eq!(super::human_size(0), "0b");
        assert_eq!(super::human_size(1536), "1.5K");
        assert_eq!(super::human_size(5 << 20), "5.0M");
        assert_eq!(super::human_size(3 << 30), "3.0G");
    }
}
