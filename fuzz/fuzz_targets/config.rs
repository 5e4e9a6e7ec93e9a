//! Configuration text in both formats: loading never panics, only returns errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = |_: &str| None;
    let _ = weir_config::parse_str(
        text,
        Path::new("/nonexistent/fuzz.conf"),
        weir_config::Format::Classic,
        &env,
    );
    let _ = weir_config::parse_str(
        text,
        Path::new("/nonexistent/fuzz.yaml"),
        weir_config::Format::Yaml,
        &env,
    );
});
