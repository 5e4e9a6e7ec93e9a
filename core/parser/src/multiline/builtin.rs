//! Built-in multiline parsers: `docker`, `cri`, `go`, `python`, `java` and `ruby`.
//!
//! - `docker`: Docker's JSON log lines (`{"log":"...","stream":"stdout","time":"..."}`). Docker
//!   splits messages longer than 16 KiB into lines whose `log` does not end in `\n`; those are
//!   joined, per `stream`, until a line that does.
//! - `cri`: CRI-O/containerd lines `<time> <stream> <P|F> <log>`; `P` parts are joined, per
//!   stream, up to the `F` part. Records have `time`, `stream`, `_p` and `log` keys.
//! - `go`, `python`, `java`, `ruby`: stack traces, recognised by the shapes those runtimes
//!   print (a `panic:` and its goroutines; `Traceback (most recent call last):` up to the
//!   exception line; an exception line followed by `at ...` frames, `Caused by:` and
//!   `... N more`; `file.rb:N:in` followed by `from` lines).

use super::{MultilineConfig, MultilineParser, DEFAULT_FLUSH_TIMEOUT};
use crate::parser::{Parser, ParserConfig};
use std::sync::Arc;

/// Names of the built-in multiline parsers.
pub const NAMES: [&str; 6] = ["docker", "cri", "go", "python", "java", "ruby"];

fn rules(list: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    list.iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

fn config(name: &str, kind: &str) -> MultilineConfig {
    MultilineConfig {
        name: name.into(),
        kind: kind.into(),
        flush_timeout: Some(DEFAULT_FLUSH_TIMEOUT),
        ..Default::default()
    }
}

/// Builds the built-in multiline parser `name`.
pub fn get(name: &str) -> Option<MultilineParser> {
    let built = match name {
        "docker" => {
            let mut p = ParserConfig::new("_ml_json_docker", "json");
            p.time_key = Some("time".into());
            p.time_format = Some("%Y-%m-%dT%H:%M:%S.%L".into());
            p.time_keep = true;
            p.time_strict = false;
            let parser = Parser::new(&p).ok()?;
            let mut c = config("docker", "endswith");
            c.match_string = Some("\n".into());
            c.key_content = Some("log".into());
            c.key_group = Some("stream".into());
            MultilineParser::new(&c, Some(Arc::new(parser)))
        }
        "cri" => {
            let mut p = ParserConfig::new("_ml_cri", "regex");
            p.regex = Some(r"^(?<time>.+?) (?<stream>stdout|stderr) (?<_p>F|P) (?<log>.*)$".into());
            p.time_key = Some("time".into());
            p.time_format = Some("%Y-%m-%dT%H:%M:%S.%L%z".into());
            p.time_keep = true;
            p.time_strict = false;
            p.skip_empty_values = false;
            let parser = Parser::new(&p).ok()?;
            let mut c = config("cri", "equal");
            c.match_string = Some("F".into());
            c.key_content = Some("log".into());
            c.key_group = Some("stream".into());
            c.key_pattern = Some("_p".into());
            MultilineParser::new(&c, Some(Arc::new(parser)))
        }
        "go" => {
            let mut c = config("go", "regex");
            c.rules = rules(&[
                ("start_state", r"/\bpanic: /", "go_after_panic"),
                ("start_state", r"/http: panic serving/", "go_goroutine"),
                (
                    "go_after_panic, go_after_signal, go_frame_1",
                    r"/^$/",
                    "go_goroutine",
                ),
                ("go_after_panic", r"/^\[signal /", "go_after_signal"),
                (
                    "go_goroutine",
                    r"/^goroutine \d+ \[[^\]]+\]:$/",
                    "go_frame_1",
                ),
                (
                    "go_frame_1",
                    r"/^(?:[^\s.:]+\.)*[^\s.():]+\(|^created by /",
                    "go_frame_2",
                ),
                ("go_frame_2", r"/^\s/", "go_frame_1"),
            ]);
            MultilineParser::new(&c, None)
        }
        "python" => {
            let mut c = config("python", "regex");
            c.rules = rules(&[
                (
                    "start_state",
                    r"/^Traceback \(most recent call last\):$/",
                    "python",
                ),
                ("python", r"/^[\t ]+File /", "python_code"),
                ("python_code", r"/[^\t ]/", "python"),
                ("python", r"/^(?:[^\s.():]+\.)*[^\s.():]+:/", "start_state"),
            ]);
            MultilineParser::new(&c, None)
        }
        "java" => {
            let mut c = config("java", "regex");
            c.rules = rules(&[
                (
                    "start_state, java_start_exception",
                    r"/(?:Exception|Error|Throwable|V8 errors stack trace)[:\r\n]/",
                    "java_after_exception",
                ),
                (
                    "java_after_exception",
                    r"/^[\t ]*nested exception is:[\t ]*/",
                    "java_start_exception",
                ),
                (
                    "java_after_exception",
                    r"/^[\r\n]*$/",
                    "java_after_exception",
                ),
                (
                    "java_after_exception, java",
                    r"/^[\t ]+(?:eval )?at /",
                    "java",
                ),
                (
                    "java_after_exception, java",
                    r"/^[\t ]+--- End of inner exception stack trace ---$/",
                    "java",
                ),
                (
                    "java_after_exception, java",
                    r"/^--- End of stack trace from previous location where exception was thrown ---$/",
                    "java",
                ),
                (
                    "java_after_exception, java",
                    r"/^[\t ]*(?:Caused by|Suppressed):/",
                    "java_after_exception",
                ),
                (
                    "java_after_exception, java",
                    r"/^[\t ]*... \d+ (?:more|common frames omitted)/",
                    "java",
                ),
            ]);
            MultilineParser::new(&c, None)
        }
        "ruby" => {
            let mut c = config("ruby", "regex");
            c.rules = rules(&[
                (
                    "start_state, ruby_start_exception",
                    r"/^.+:\d+:in\s+.*/",
                    "ruby_after_exception",
                ),
                (
                    "ruby_after_exception, ruby",
                    r"/^\s+from\s+.*:\d+:in\s+.*/",
                    "ruby",
                ),
            ]);
            MultilineParser::new(&c, None)
        }
        _ => return None,
    };
    built.ok()
}
