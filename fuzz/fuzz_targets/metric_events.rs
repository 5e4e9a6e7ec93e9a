//! Metrics events from outside (a peer's chunks, a plugin's output): decoding them and
//! rendering what decodes as Prometheus text and cmetrics JSON must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_event::metric;
use weir_event::Events;

fuzz_target!(|data: &[u8]| {
    let mut samples = Vec::new();
    for ev in Events::new(data) {
        let Ok(ev) = ev else { break };
        if let Ok((time, sample)) = metric::decode(&ev) {
            samples.push((time, sample));
        }
    }
    let mut text = String::new();
    let plain: Vec<metric::Sample> = samples.iter().map(|(_, s)| s.clone()).collect();
    metric::write_prometheus_text(&plain, &mut text);
    let _ = metric::to_cmetrics_json(&samples);
});
