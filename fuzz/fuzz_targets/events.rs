//! Encoded events from outside (forward peers, chunk files): walking, viewing and rendering
//! them must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_event::view::{read_scalar, MapIter};
use weir_event::Events;

fuzz_target!(|data: &[u8]| {
    for ev in Events::new(data) {
        let Ok(ev) = ev else { break };
        let _ = weir_event::json::to_json_string(ev.body);
        let _ = weir_event::value::decode(ev.metadata);
        if let Ok(it) = MapIter::new(ev.body) {
            for e in it.flatten() {
                let _ = read_scalar(e.value);
                let _ = e.key_str();
            }
        }
    }
    let _ = weir_event::event::skip_value(data, 0);
    let _ = weir_event::value::decode(data);
});
