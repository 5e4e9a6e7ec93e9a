//! Log lines from outside through every parser format (json, regex, logfmt, ltsv, with time
//! keys, types and decoders): never a panic; on error the output buffer is unchanged; on
//! success it holds one valid MessagePack map.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use weir_parser::{Parser, ParserConfig};

fn parsers() -> &'static [Parser] {
    static P: OnceLock<Vec<Parser>> = OnceLock::new();
    P.get_or_init(|| {
        let mut json = ParserConfig::new("json", "json");
        json.time_key = Some("ts".into());
        json.time_format = Some("%Y-%m-%dT%H:%M:%S.%L%z".into());
        json.time_keep = true;
        let mut regex = ParserConfig::new("apache", "regex");
        regex.regex = Some(
            r#"^(?<host>[^ ]*) [^ ]* (?<user>[^ ]*) \[(?<time>[^\]]*)\] "(?<method>\S+)(?: +(?<path>[^ ]*) +\S*)?" (?<code>[^ ]*) (?<size>[^ ]*)$"#
                .into(),
        );
        regex.time_key = Some("time".into());
        regex.time_format = Some("%d/%b/%Y:%H:%M:%S %z".into());
        regex.types = Some("code:integer size:integer".into());
        let mut logfmt = ParserConfig::new("logfmt", "logfmt");
        logfmt.types = Some("n:integer f:float b:bool h:hex".into());
        let ltsv = ParserConfig::new("ltsv", "ltsv");
        [json, regex, logfmt, ltsv].iter().map(|c| Parser::new(c).expect("valid parser")).collect()
    })
}

fuzz_target!(|data: &[u8]| {
    for p in parsers() {
        let mut out = vec![0xc0];
        match p.parse(data, &mut out) {
            Ok(_) => {
                let end = weir_event::event::skip_value(&out, 1).expect("valid MessagePack");
                assert_eq!(end, out.len());
                weir_event::view::MapIter::new(&out[1..]).expect("a map");
            }
            Err(_) => assert_eq!(out, vec![0xc0], "{}: buffer unchanged on error", p.name()),
        }
    }
});
