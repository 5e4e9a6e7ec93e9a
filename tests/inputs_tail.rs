//! The tail input end to end through the `weir` binary: files in, `out file` (plain JSON
//! lines) out. Checks what a user relies on: every line once across rotation, truncation and a
//! clean restart with `db`, nothing lost across `kill -9`.

mod common;

use common::*;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

struct Setup {
    _dir: tempfile::TempDir,
    dir: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let t = tempfile::tempdir().expect("tempdir");
        let dir = t.path().canonicalize().expect("canonical");
        std::fs::create_dir_all(dir.join("out")).expect("mkdir");
        Self { _dir: t, dir }
    }

    fn log(&self) -> PathBuf {
        self.dir.join("app.log")
    }

    fn out(&self) -> PathBuf {
        self.dir.join("out/out.log")
    }

    /// Writes a classic configuration with a tail input (extra keys given) and a file output.
    fn config(&self, extra: &[(&str, &str)]) -> PathBuf {
        let mut text = String::from("[SERVICE]\n    flush 0.2\n    grace 5\n    log_level info\n\n[INPUT]\n    name tail\n    tag app\n");
        text.push_str(&format!("    path {}\n", self.log().display()));
        for (k, v) in extra {
            text.push_str(&format!("    {k} {v}\n"));
        }
        text.push_str(&format!(
            "\n[OUTPUT]\n    name file\n    match *\n    path {}\n    file out.log\n    format plain\n",
            self.dir.join("out").display()
        ));
        let p = self.dir.join("weir.conf");
        write(&p, &text);
        p
    }

    fn start(&self, config: &Path) -> Child {
        let mut c = cmd();
        c.arg("-c")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c.spawn().expect("weir starts")
    }

    /// The `log` value of every record written so far.
    fn lines(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.out()).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| v["log"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Waits until the output holds `n` records.
    fn wait_records(&self, n: usize) {
        let got = wait_for(LIMIT, || (self.lines().len() >= n).then_some(()));
        assert!(
            got.is_some(),
            "expected {n} records, got {}",
            self.lines().len()
        );
    }
}

fn append(p: &Path, lines: std::ops::RangeInclusive<usize>) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .expect("open");
    let mut text = String::new();
    for i in lines {
        text.push_str(&format!("line-{i:06}\n"));
    }
    f.write_all(text.as_bytes()).expect("write");
}

fn expected(lines: std::ops::RangeInclusive<usize>) -> Vec<String> {
    lines.map(|i| format!("line-{i:06}")).collect()
}

fn counts(lines: &[String]) -> HashMap<&str, usize> {
    let mut m = HashMap::new();
    for l in lines {
        *m.entry(l.as_str()).or_default() += 1;
    }
    m
}

/// Asserts that `got` holds exactly the lines `want`, each once.
fn assert_exactly_once(got: &[String], want: &[String]) {
    let c = counts(got);
    let twice: Vec<_> = c.iter().filter(|(_, n)| **n > 1).map(|(l, _)| *l).collect();
    assert!(twice.is_empty(), "lines read more than once: {twice:?}");
    let missing: Vec<_> = want
        .iter()
        .filter(|l| !c.contains_key(l.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "lines lost: {} (first {:?})",
        missing.len(),
        missing.first()
    );
    assert_eq!(got.len(), want.len());
}

fn stop(child: Child) -> String {
    signal(&child, "TERM");
    let out = wait_output(child, LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "exit {:?}; stderr:\n{stderr}",
        out.status
    );
    stderr
}

#[test]
fn exit_on_eof_reads_everything_and_exits() {
    let s = Setup::new();
    append(&s.log(), 1..=5000);
    {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(s.log())
            .unwrap();
        f.write_all(b"last line without newline").unwrap();
    }
    let cfg = s.config(&[("read_from_head", "true"), ("exit_on_eof", "true")]);
    let out = wait_output(s.start(&cfg), LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}; stderr:\n{stderr}",
        out.status
    );
    assert!(stderr.contains("ended, stop"), "{stderr}");
    let mut want = expected(1..=5000);
    want.push("last line without newline".into());
    assert_exactly_once(&s.lines(), &want);
}

#[test]
fn clean_restart_with_db_reads_nothing_twice() {
    let s = Setup::new();
    let db = s.dir.join("tail.db");
    let cfg = s.config(&[("read_from_head", "true"), ("db", &db.to_string_lossy())]);
    append(&s.log(), 1..=1000);
    let w = s.start(&cfg);
    s.wait_records(1000);
    stop(w);

    append(&s.log(), 1001..=1500);
    let w = s.start(&cfg);
    s.wait_records(1500);
    // Give a wrong second read the time to show.
    std::thread::sleep(Duration::from_millis(600));
    stop(w);
    assert_exactly_once(&s.lines(), &expected(1..=1500));
}

#[test]
fn kill_9_with_db_loses_nothing() {
    let s = Setup::new();
    let db = s.dir.join("tail.db");
    let cfg = s.config(&[("read_from_head", "true"), ("db", &db.to_string_lossy())]);
    append(&s.log(), 1..=2000);
    let mut w = s.start(&cfg);
    s.wait_records(2000);
    append(&s.log(), 2001..=3000);
    s.wait_records(3000);
    // Everything read so far has been delivered; the process dies without a chance to save.
    w.kill().expect("kill -9");
    let _ = w.wait();

    append(&s.log(), 3001..=4000);
    let w = s.start(&cfg);
    s.wait_records(4000);
    std::thread::sleep(Duration::from_millis(600));
    stop(w);
    let got = s.lines();
    let c = counts(&got);
    let want = expected(1..=4000);
    let missing: Vec<_> = want
        .iter()
        .filter(|l| !c.contains_key(l.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "lines lost across kill -9: {} (first {:?})",
        missing.len(),
        missing.first()
    );
    // Offsets reach the kernel with every batch (the journal beside the database), so the
    // restart resumes exactly where the killed process stopped: no line is read twice.
    for l in &want {
        assert_eq!(c[l.as_str()], 1, "{l} read more than once");
    }
}

#[test]
fn rename_rotation_reads_every_line_once() {
    let s = Setup::new();
    let cfg = s.config(&[
        ("read_from_head", "true"),
        ("rotate_wait", "2"),
        ("refresh_interval", "1"),
    ]);
    append(&s.log(), 1..=100);
    let w = s.start(&cfg);
    s.wait_records(100);

    let rotated = s.dir.join("app.log.1");
    std::fs::rename(s.log(), &rotated).expect("rename");
    append(&rotated, 101..=150); // a late write to the old file
    append(&s.log(), 151..=300);
    s.wait_records(300);
    // Past rotate_wait the old file is closed; the new one goes on.
    std::thread::sleep(Duration::from_secs(3));
    append(&s.log(), 301..=310);
    s.wait_records(310);
    std::thread::sleep(Duration::from_millis(600));
    let stderr = stop(w);
    assert!(stderr.contains("handle rotation()"), "{stderr}");
    assert_exactly_once(&s.lines(), &expected(1..=310));
}

#[test]
fn truncation_reads_the_new_content_once() {
    let s = Setup::new();
    let cfg = s.config(&[("read_from_head", "true")]);
    append(&s.log(), 1..=100);
    let w = s.start(&cfg);
    s.wait_records(100);
    std::fs::OpenOptions::new()
        .write(true)
        .open(s.log())
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&s.log(), 101..=120);
    s.wait_records(120);
    std::thread::sleep(Duration::from_millis(600));
    stop(w);
    assert_exactly_once(&s.lines(), &expected(1..=120));
}

#[test]
fn starts_at_the_end_by_default() {
    let s = Setup::new();
    append(&s.log(), 1..=50);
    let cfg = s.config(&[]);
    let w = s.start(&cfg);
    // The file is followed once the input has started; appends after that are read.
    let started = wait_for(LIMIT, || {
        append(&s.log(), 51..=51);
        std::thread::sleep(Duration::from_millis(200));
        (!s.lines().is_empty()).then_some(())
    });
    assert!(started.is_some());
    stop(w);
    assert!(
        s.lines().iter().all(|l| l == "line-000051"),
        "{:?}",
        s.lines()
    );
}

/// Runs tail over a copy of a sample log from `tests/data/tail` with `extra` keys and
/// `exit_on_eof`; returns the records.
fn run_sample(sample: &str, extra: &str) -> Vec<serde_json::Value> {
    let s = Setup::new();
    std::fs::copy(repo().join("tests/data/tail").join(sample), s.log()).expect("copy sample");
    let text = format!(
        "service:\n  flush: 0.2\nparsers:\n  - name: sample_json\n    format: json\npipeline:\n  inputs:\n    - name: tail\n      path: {}\n      read_from_head: true\n      exit_on_eof: true\n{extra}  outputs:\n    - name: file\n      match: '*'\n      path: {}\n      file: out.log\n      format: plain\n",
        s.log().display(),
        s.dir.join("out").display()
    );
    let cfg = s.dir.join("weir.yaml");
    write(&cfg, &text);
    let out = wait_output(s.start(&cfg), LIMIT);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(s.out())
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON record"))
        .collect()
}

#[test]
fn java_stack_traces_are_joined() {
    let got = run_sample("java.log", "      multiline.parser: java\n");
    let logs: Vec<&str> = got
        .iter()
        .map(|r| r["log"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(logs.len(), 3, "{logs:?}");
    assert!(logs[0].starts_with("2026-01-01 00:00:01 INFO starting service"));
    assert!(logs[1].starts_with("Exception in thread"), "{logs:?}");
    assert!(
        logs[1].contains("Caused by: java.lang.NullPointerException")
            && logs[1].contains("... 2 more")
    );
    assert!(logs[2].starts_with("2026-01-01 00:00:02 INFO request served"));
}

#[test]
fn cri_partial_lines_are_joined() {
    let got = run_sample("cri.log", "      multiline.parser: cri\n");
    let mut logs: Vec<String> = got
        .iter()
        .map(|r| r["log"].as_str().unwrap_or_default().trim_end().to_string())
        .collect();
    logs.sort();
    assert_eq!(
        logs,
        ["a whole line", "an error line", "first part, second part"],
        "{got:?}"
    );
    assert!(got.iter().all(|r| r["stream"].is_string()), "{got:?}");
}

#[test]
fn parser_failures_keep_the_raw_line() {
    let got = run_sample(
        "mixed.log",
        "      parser: sample_json\n      path_key: file\n",
    );
    let file = got[0]["file"].as_str().unwrap_or_default().to_string();
    assert!(file.ends_with("app.log"), "{got:?}");
    assert_eq!(
        got,
        [
            serde_json::json!({"file": file, "log": "plain line"}),
            serde_json::json!({"level": "info", "msg": "json line", "file": file}),
            serde_json::json!({"file": file, "log": ""}),
            serde_json::json!({"file": file, "log": "unterminated last line"}),
        ]
    );
}
