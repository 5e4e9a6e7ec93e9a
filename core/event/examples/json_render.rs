//! What rendering records as JSON costs: the records of a JSON-lines file, encoded once, are
//! rendered again and again (as the `wasm` filter's json format and JSON outputs do), and the
//! best of several rounds is reported.
//!
//! ```text
//! cargo run --release -p weir-event --example json_render -- LOGS.jsonl
//! ```

use std::io::BufRead;
use std::time::Instant;

fn main() -> Result<(), String> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: json_render LOGS.jsonl")?;
    let file = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
    let mut records = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| e.to_string())?;
        let mut body = Vec::new();
        if weir_event::json::from_json(&line, &mut body).is_ok() {
            records.push(body);
        }
    }
    let mut out = String::new();
    let mut best = f64::INFINITY;
    for _ in 0..7 {
        let t = Instant::now();
        for r in &records {
            out.clear();
            weir_event::json::write_json(r, &mut out).map_err(|e| e.to_string())?;
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{} records: {:.0} ns/record (best of 7 rounds)",
        records.len(),
        best * 1e9 / records.len() as f64
    );
    Ok(())
}
