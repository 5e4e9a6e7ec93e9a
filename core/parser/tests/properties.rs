//! Properties every parser keeps on arbitrary input: no panic, and on error the caller's
//! buffer is exactly as it was; on success the output is one well-formed map.

use proptest::prelude::*;
use std::sync::OnceLock;
use weir_parser::{Parser, ParserConfig};

fn parsers() -> &'static Vec<Parser> {
    static P: OnceLock<Vec<Parser>> = OnceLock::new();
    P.get_or_init(|| {
        let mut v = Vec::new();
        let mut json = ParserConfig::new("json", "json");
        json.time_key = Some("ts".into());
        json.time_format = Some("%Y-%m-%dT%H:%M:%S.%L%z".into());
        v.push(json.clone());
        json.time_keep = true;
        json.decoders.push((weir_parser::decoder::DecodeKind::Field, "json log try_next".into()));
        json.decoders.push((weir_parser::decoder::DecodeKind::FieldAs, "escaped_utf8 log".into()));
        v.push(json);
        let mut re = ParserConfig::new("re", "regex");
        re.regex = Some(r#"^(?<host>[^ ]*) [^ ]* (?<user>[^ ]*) \[(?<time>[^\]]*)\] "(?<method>\S+)(?: +(?<path>[^\"]*?)(?: +\S*)?)?" (?<code>[^ ]*) (?<size>[^ ]*)"#.into());
        re.time_format = Some("%d/%b/%Y:%H:%M:%S %z".into());
        re.types = Some("code:integer size:hex".into());
        v.push(re);
        let mut lf = ParserConfig::new("lf", "logfmt");
        lf.time_format = Some("%s.%L".into());
        lf.types = Some("a:float b:bool".into());
        v.push(lf);
        let mut lt = ParserConfig::new("lt", "ltsv");
        lt.time_format = Some("%b %e %H:%M:%S".into());
        lt.time_strict = false;
        v.push(lt);
        v.push(ParserConfig::new("ts", "tskv"));
        v.into_iter().map(|c| Parser::new(&c).expect("valid test parser")).collect()
    })
}

fn check(input: &[u8]) -> Result<(), TestCaseError> {
    for p in parsers() {
        let prefix = vec![0xc3, 0x01, 0x02];
        let mut out = prefix.clone();
        match p.parse(input, &mut out) {
            Ok(_) => {
                prop_assert_eq!(&out[..3], &prefix[..]);
                let end = weir_event::event::skip_value(&out, 3)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(end, out.len());
                prop_assert!(
                    matches!(out[3], 0x80..=0x8f | 0xde | 0xdf),
                    "{} wrote a non-map",
                    p.name()
                );
            }
            Err(_) => prop_assert_eq!(&out, &prefix),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        check(&input)?;
    }

    #[test]
    fn json_like_text(input in r#"[{}\[\]":,a-z0-9 .\\u-]{0,120}"#) {
        check(input.as_bytes())?;
    }

    #[test]
    fn key_value_like_text(input in "[a-z=\" \t:\\\\.0-9]{0,120}") {
        check(input.as_bytes())?;
    }
}
