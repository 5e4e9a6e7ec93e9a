//! Golden tests: every directory under `tests/golden/<parser>/` holds `input.log` (one line per
//! record) and `expected.jsonl` (one line per input line: the record time and body, or the
//! error). Parsers come from the bundled `configs/parsers.conf` and from
//! `tests/golden/parsers.conf` (test-only definitions).
//!
//! Times without a year resolve against 2026-06-15, so the files do not depend on the clock.
//! Run with `WEIR_BLESS=1` to rewrite the expected files after an intended change.

use std::path::{Path, PathBuf};
use weir_event::EventTime;
use weir_parser::{ParserRegistry, TimeLookup};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

pub fn load_registry(files: &[PathBuf]) -> ParserRegistry {
    let mut reg = ParserRegistry::new();
    for f in files {
        let cfg = weir_config::load_with_env(f, &|_| None)
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        reg.add_sections(&cfg.parsers, &cfg.multiline_parsers)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    reg
}

fn render(reg: &ParserRegistry, parser: &str, line: &str) -> String {
    let p = reg
        .get(parser)
        .unwrap_or_else(|| panic!("no parser '{parser}'"));
    let now = EventTime::new(1_781_481_600, 0); // 2026-06-15T00:00:00Z
    let mut out = Vec::new();
    match p.parse_detailed(line.as_bytes(), Some(now), &mut out) {
        Ok(t) => {
            let time = match t {
                TimeLookup::Found(t) => format!("\"{}.{:09}\"", t.sec, t.nsec),
                TimeLookup::Missing => "null".into(),
                TimeLookup::Invalid => "\"invalid\"".into(),
            };
            format!(
                "{{\"time\":{time},\"record\":{}}}",
                weir_event::json::to_json_string(&out).unwrap()
            )
        }
        Err(e) => {
            assert!(out.is_empty(), "output left behind on error");
            format!("{{\"error\":{:?}}}", e.to_string())
        }
    }
}

#[test]
fn golden_files() {
    let base = root();
    let reg = load_registry(&[
        base.join("../../configs/parsers.conf"),
        base.join("tests/golden/parsers.conf"),
    ]);
    let bless = std::env::var_os("WEIR_BLESS").is_some();
    let mut dirs: Vec<_> = std::fs::read_dir(base.join("tests/golden"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty());
    let mut failures = Vec::new();
    for dir in &dirs {
        let parser = dir.file_name().unwrap().to_string_lossy().into_owned();
        let input = std::fs::read_to_string(dir.join("input.log")).unwrap();
        let got: String = input
            .lines()
            .map(|l| render(&reg, &parser, l) + "\n")
            .collect();
        let expected_path = dir.join("expected.jsonl");
        if bless {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected {
            failures.push(format!("{parser}:\n--- expected\n{expected}--- got\n{got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches (WEIR_BLESS=1 to update):\n{}",
        failures.join("\n")
    );
}
