//! Golden tests of the filters: every directory `tests/golden/filters/<filter>/<case>/` holds
//!
//! - `config`: the filter's parameters, one `key value` per line (`#` starts a comment);
//! - `input.jsonl`: the records, one JSON body per line;
//! - `expected.jsonl`: the records that come out, one JSON body per line; or `expected_error`:
//!   text the configuration error must contain;
//! - optionally `parsers.conf` (parsers for the `parser` filter) and `tag` (default `golden`).
//!
//! Filters are built through the plugin registry exactly as the engine builds them. Run with
//! `WEIR_BLESS=1` to rewrite the `expected.jsonl` files after an intended change.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use weir_config::{Location, Section, SectionKind};
use weir_core::service::FILTER_COMMON_PARAMS;
use weir_core::{
    Batch, BuildContext, Factory, FilterContext, FilterOutcome, PluginKind, ServiceConfig,
};
use weir_event::{EventTime, EventWriter, Events};
use weir_parser::ParserRegistry;

fn golden_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/filters")
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

/// The filter section written in `config`, each key at its line.
fn section(filter: &str, path: &Path, text: &str) -> Section {
    let file: Arc<Path> = Arc::from(path);
    let mut s = Section::new(SectionKind::Filter, Location::new(file.clone(), 0));
    s.push("name", filter, Location::new(file.clone(), 0));
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        s.push(k, v.trim(), Location::new(file.clone(), i + 1));
    }
    s
}

fn parsers(case: &Path) -> ParserRegistry {
    let mut reg = ParserRegistry::new();
    let path = case.join("parsers.conf");
    if path.exists() {
        let (p, m) =
            weir_config::load_parsers_file(&path, &|_| None).unwrap_or_else(|e| panic!("{e}"));
        reg.add_sections(&p, &m).unwrap_or_else(|e| panic!("{e}"));
    }
    reg
}

/// Runs one case; returns a description of the mismatch, if any.
fn run_case(filter: &str, case: &Path, bless: bool) -> Option<String> {
    let registry = weir_plugins::registry();
    let Some(d) = registry.find(PluginKind::Filter, filter) else {
        return Some(format!("no filter named '{filter}' in this build"));
    };
    let config_path = case.join("config");
    let config = read(&config_path).unwrap_or_default();
    let s = section(filter, &config_path, &config);
    let ctx = BuildContext::new(
        "golden.0".into(),
        Arc::new(ServiceConfig::default()),
        Arc::new(parsers(case)),
        case.to_path_buf(),
    );
    let built = weir_config::validate(
        &s,
        &[d.params, FILTER_COMMON_PARAMS],
        &format!("filter '{filter}'"),
    )
    .and_then(|p| match &d.factory {
        Factory::Filter(make) => make(&p, &ctx),
        _ => panic!("{filter} is not a filter"),
    });
    if let Some(want) = read(&case.join("expected_error")) {
        return match built {
            Ok(_) => Some(format!(
                "expected the error '{}', but the filter built",
                want.trim()
            )),
            Err(e) if e.to_string().contains(want.trim()) => None,
            Err(e) => Some(format!(
                "expected an error containing '{}', got '{e}'",
                want.trim()
            )),
        };
    }
    let f = match built {
        Ok(f) => f,
        Err(e) => return Some(format!("configuration error: {e}")),
    };

    let input = read(&case.join("input.jsonl")).unwrap_or_default();
    let mut batch = EventWriter::new();
    for line in lines(&input) {
        let mut body = Vec::new();
        weir_event::json::from_json(line, &mut body)
            .unwrap_or_else(|e| panic!("{}: {line}: {e}", case.display()));
        batch.push(EventTime::new(1_700_000_000, 0), &[], &body);
    }
    let tag = read(&case.join("tag"))
        .map(|t| t.trim().to_string())
        .unwrap_or_else(|| "golden".into());
    let mut out = EventWriter::new();
    let fctx = FilterContext {
        input: "dummy.0",
        input_plugin: "dummy",
    };
    let outcome = f.filter(
        Batch {
            tag: &tag,
            data: &batch.buf,
            records: batch.count,
        },
        &mut out,
        &fctx,
    );
    let result = match outcome {
        FilterOutcome::Unchanged => &batch.buf,
        FilterOutcome::Modified => &out.buf,
    };
    let got: Vec<String> = Events::new(result)
        .map(|e| {
            weir_event::json::to_json_string(e.expect("valid output").body).expect("valid body")
        })
        .collect();
    if outcome == FilterOutcome::Modified && got.len() != out.count {
        return Some(format!(
            "the writer counts {} events but holds {}",
            out.count,
            got.len()
        ));
    }

    let expected_path = case.join("expected.jsonl");
    if bless {
        let mut text = got.join("\n");
        text.push('\n');
        std::fs::write(&expected_path, text).unwrap();
        return None;
    }
    let expected = read(&expected_path).unwrap_or_default();
    // Normalise the expected lines through MessagePack, which keeps key order (it matters to
    // nest and modify) while letting the files be formatted freely.
    let want: Vec<String> = lines(&expected)
        .into_iter()
        .map(|l| {
            let mut mp = Vec::new();
            weir_event::json::from_json(l, &mut mp)
                .unwrap_or_else(|e| panic!("{}: {l}: {e}", expected_path.display()));
            weir_event::json::to_json_string(&mp).unwrap()
        })
        .collect();
    (want != got).then(|| {
        format!(
            "expected:\n  {}\ngot:\n  {}",
            want.join("\n  "),
            got.join("\n  ")
        )
    })
}

#[test]
fn filter_golden_files() {
    let bless = std::env::var_os("WEIR_BLESS").is_some();
    let registry = weir_plugins::registry();
    let mut failures = Vec::new();
    let mut ran = 0;
    for filter_dir in sorted_dirs(&golden_root()) {
        let filter = filter_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        if registry.find(PluginKind::Filter, &filter).is_none() {
            // Not in this build (its cargo feature is off).
            continue;
        }
        for case in sorted_dirs(&filter_dir) {
            ran += 1;
            if let Some(why) = run_case(&filter, &case, bless) {
                failures.push(format!(
                    "{}:\n{why}",
                    case.strip_prefix(golden_root()).unwrap_or(&case).display()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} golden cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
