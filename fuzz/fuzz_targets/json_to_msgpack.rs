//! JSON from outside (log lines, HTTP bodies): encoding it never panics, and what it encodes
//! is valid MessagePack that renders back to JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut out = Vec::new();
    if weir_event::json::from_json(text, &mut out).is_ok() {
        let end = weir_event::event::skip_value(&out, 0).expect("encoder output is valid");
        assert_eq!(end, out.len());
        weir_event::json::to_json_string(&out).expect("renders");
    } else {
        assert!(
            out.is_empty(),
            "a failed encode leaves the buffer as it was"
        );
    }
});
