//! The whole tail input against real files in temporary directories, with a recording sink
//! and tokio's paused clock (timers such as `refresh_interval` and `rotate_wait` pass as soon as
//! the input is idle; the tests only wait for conditions, never for a duration).

use super::config::{TailConfig, PARAMS};
use super::db::{FileId, OffsetStore, SledStore, SyncMode};
use super::sink::test_sink::{Recorded, TestSink};
use super::{tailer, DESCRIPTOR};
use crate::testing;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use weir_parser::{Parser, ParserConfig, ParserRegistry};

fn config_with(pairs: &[(&str, &str)], parsers: ParserRegistry) -> Result<TailConfig, String> {
    let p = testing::params(&DESCRIPTOR, pairs).map_err(|e| e.to_string())?;
    TailConfig::from_params(&p, &testing::build_context_with(parsers)).map_err(|e| e.to_string())
}

fn config(pairs: &[(&str, &str)]) -> TailConfig {
    config_with(pairs, ParserRegistry::new()).unwrap()
}

struct Running {
    rec: Recorded,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), String>>,
}

impl Running {
    /// Stops the input and waits for it to return.
    async fn stop(self) -> Recorded {
        let _ = self.stop.send(true);
        self.task.await.expect("tail task").expect("tail ran");
        self.rec
    }
}

fn start(cfg: TailConfig, tag: &str) -> Running {
    let (mut sink, stop) = TestSink::new(tag);
    let rec = sink.rec.clone();
    let cfg = Arc::new(cfg);
    let task = tokio::spawn(async move { tailer::run(cfg, &mut sink).await });
    Running { rec, stop, task }
}

/// Waits (in paused time) until `cond` holds, failing after a generous virtual minute.
async fn wait_for(rec: &Recorded, what: &str, cond: impl Fn(&Recorded) -> bool) {
    for _ in 0..6000 {
        if cond(rec) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("waited in vain for {what}; records: {:?}", rec.bodies());
}

/// Lets the input run for a while of virtual time.
async fn idle(d: Duration) {
    tokio::time::sleep(d).await;
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn append(p: &Path, data: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .unwrap();
    f.write_all(data).unwrap();
}

fn logs(rec: &Recorded) -> Vec<String> {
    rec.field("log")
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

struct Dir {
    _t: tempfile::TempDir,
    path: PathBuf,
}

impl Dir {
    fn new() -> Self {
        let t = tempfile::tempdir().unwrap();
        // The canonical path, so names match what /proc reports after a rotation.
        let path = t.path().canonicalize().unwrap();
        Self { _t: t, path }
    }
    fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
    fn pattern(&self, p: &str) -> String {
        path_str(&self.path.join(p))
    }
}

#[test]
fn table_is_well_formed() {
    weir_config::check_table(PARAMS).unwrap();
}

#[test]
fn configuration_errors_are_clear() {
    let err = |pairs: &[(&str, &str)]| {
        config_with(pairs, ParserRegistry::new())
            .err()
            .unwrap_or_default()
    };
    assert!(err(&[]).contains("missing required parameter 'path'"));
    assert!(err(&[("path", "/x"), ("docker_mode", "on")]).contains("not supported by Weir yet"));
    assert!(err(&[("path", "/x"), ("parser_1", "p")]).contains("not supported by Weir yet"));
    assert!(err(&[("path", "/x"), ("multiline", "on")]).contains("not supported by Weir yet"));
    assert!(err(&[("path", "/x"), ("parser", "nope")]).contains("parser 'nope' is not registered"));
    assert!(err(&[("path", "/x"), ("multiline.parser", "java, nope")])
        .contains("multiline parser 'nope' is not registered"));
    assert!(err(&[("path", "/x"), ("db.sync", "sometimes")])
        .contains("expected extra, full, normal or off"));
    assert!(err(&[("path", "/x"), ("db.journal_mode", "fast")]).contains("expected WAL"));
    assert!(err(&[("path", "/x"), ("tag_regex", "(")]).contains("invalid regular expression"));
    assert!(err(&[
        ("path", "/x"),
        ("buffer_chunk_size", "64k"),
        ("buffer_max_size", "32k")
    ])
    .contains("buffer_max_size"));
    assert!(err(&[("path", "/x/[")]).contains("invalid pattern"));
    assert!(err(&[("path", "/x"), ("refresh_interval", "0")]).contains("positive"));
    assert!(err(&[("path", "/x"), ("pth", "/y")]).contains("did you mean 'path'"));
    // Accepted SQLite settings and the multiline/parser combination.
    assert!(config_with(
        &[
            ("path", "/x"),
            ("db.locking", "true"),
            ("db.journal_mode", "delete")
        ],
        ParserRegistry::new()
    )
    .is_ok());
    let c = config(&[
        ("path", "/x"),
        ("multiline.parser", "docker,cri"),
        ("multiline.parser", "go"),
    ]);
    assert_eq!(c.multiline.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn reads_whole_files_and_exits_at_eof() {
    let d = Dir::new();
    std::fs::write(d.file("a.log"), b"one\ntwo\r\nthree").unwrap();
    std::fs::write(d.file("b.log"), b"x\n").unwrap();
    std::fs::write(d.file("c.gz"), b"zipped\n").unwrap();
    let cfg = config(&[
        (
            "path",
            &format!("{},{}", d.pattern("*.log"), d.pattern("*.gz")),
        ),
        ("exclude_path", "*.gz"),
        ("read_from_head", "true"),
        ("exit_on_eof", "true"),
    ]);
    let r = start(cfg, "t");
    r.task.await.unwrap().unwrap();
    assert!(r.rec.exit_requested());
    // Complete lines first; unterminated last lines when every file is at its end.
    assert_eq!(logs(&r.rec), ["one", "two", "x", "three"]);
    assert_eq!(r.rec.count("files_opened"), 2);
}

#[tokio::test(start_paused = true)]
async fn starts_at_the_end_without_read_from_head() {
    let d = Dir::new();
    let f = d.file("a.log");
    std::fs::write(&f, b"old 1\nold 2\n").unwrap();
    let r = start(config(&[("path", &path_str(&f))]), "t");
    wait_for(&r.rec, "the file to be opened", |r| {
        r.count("files_opened") == 1
    })
    .await;
    append(&f, b"new\n");
    wait_for(&r.rec, "the new line", |r| r.records() == 1).await;
    let rec = r.stop().await;
    assert_eq!(logs(&rec), ["new"]);
}

#[tokio::test(start_paused = true)]
async fn partial_line_waits_for_its_end() {
    let d = Dir::new();
    let f = d.file("a.log");
    std::fs::write(&f, b"a\npar").unwrap();
    let r = start(
        config(&[("path", &path_str(&f)), ("read_from_head", "on")]),
        "t",
    );
    wait_for(&r.rec, "the first line", |r| r.records() == 1).await;
    idle(Duration::from_secs(10)).await;
    assert_eq!(r.rec.records(), 1, "a partial line is not a record");
    append(&f, b"tial\n");
    wait_for(&r.rec, "the completed line", |r| r.records() == 2).await;
    let rec = r.stop().await;
    assert_eq!(logs(&rec), ["a", "partial"]);
}

#[tokio::test(start_paused = true)]
async fn parser_keys_and_rejected_lines() {
    let d = Dir::new();
    let f = d.file("a.log");
    std::fs::write(&f, b"{\"k\":\"v\"}\nnot json\n").unwrap();
    let mut reg = ParserRegistry::new();
    reg.insert(Parser::new(&ParserConfig::new("json", "json")).unwrap());
    let cfg = config_with(
        &[
            ("path", &path_str(&f)),
            ("read_from_head", "true"),
            ("exit_on_eof", "true"),
            ("parser", "json"),
            ("path_key", "file"),
            ("offset_key", "off"),
            ("key", "msg"),
        ],
        reg,
    )
    .unwrap();
    let r = start(cfg, "t");
    r.task.await.unwrap().unwrap();
    let p = path_str(&f);
    assert_eq!(
        r.rec.bodies(),
        [
            format!(r#"{{"k":"v","file":"{p}","off":0}}"#),
            format!(r#"{{"file":"{p}","off":10,"msg":"not json"}}"#)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn star_in_tag_becomes_the_path() {
    let d = Dir::new();
    let f = d.file("app.log");
    std::fs::write(&f, b"l\n").unwrap();
    let cfg = config(&[
        ("path", &path_str(&f)),
        ("read_from_head", "true"),
        ("exit_on_eof", "true"),
    ]);
    let r = start(cfg, "kube.*");
    r.task.await.unwrap().unwrap();
    let mut expected = format!(
        "kube.{}",
        path_str(&f).trim_start_matches('/').replace('/', ".")
    );
    while expected.contains("..") {
        expected = expected.replace("..", ".");
    }
    assert_eq!(r.rec.tagged(), [(expected, r#"{"log":"l"}"#.to_string())]);
}

#[tokio::test(start_paused = true)]
async fn rename_rotation_loses_nothing_and_reads_nothing_twice() {
    let d = Dir::new();
    let f = d.file("app.log");
    std::fs::write(&f, b"1\n2\n3\n").unwrap();
    let r = start(
        config(&[
            ("path", &path_str(&f)),
            ("read_from_head", "true"),
            ("rotate_wait", "5"),
        ]),
        "t",
    );
    wait_for(&r.rec, "the first lines", |r| r.records() == 3).await;

    std::fs::rename(&f, d.file("app.log.1")).unwrap();
    // The writer still has the old file open: a late line goes there.
    append(&d.file("app.log.1"), b"4\n");
    append(&f, b"5\n6\n");
    wait_for(&r.rec, "lines of both files", |r| r.records() == 6).await;
    assert_eq!(r.rec.count("files_rotated"), 1);

    // After rotate_wait the old file is closed; the new one goes on.
    wait_for(&r.rec, "the rotated file to be closed", |r| {
        r.count("files_closed") == 1
    })
    .await;
    append(&f, b"7\n");
    wait_for(&r.rec, "a line after the purge", |r| r.records() == 7).await;
    idle(Duration::from_secs(30)).await;
    let rec = r.stop().await;
    assert_eq!(sorted(logs(&rec)), ["1", "2", "3", "4", "5", "6", "7"]);
    assert_eq!(rec.count("files_opened"), 2);
}

#[tokio::test(start_paused = true)]
async fn rotated_names_matching_the_pattern_are_not_read_again() {
    let d = Dir::new();
    let f = d.file("app.log");
    std::fs::write(&f, b"a\nb\n").unwrap();
    let cfg = config(&[
        ("path", &d.pattern("app.log*")),
        ("read_from_head", "true"),
        ("rotate_wait", "1"),
        ("refresh_interval", "1"),
    ]);
    let r = start(cfg, "t");
    wait_for(&r.rec, "the first lines", |r| r.records() == 2).await;
    std::fs::rename(&f, d.file("app.log.1")).unwrap();
    append(&f, b"c\n");
    wait_for(&r.rec, "the new file", |r| r.records() == 3).await;
    wait_for(&r.rec, "the rotated file to be closed", |r| {
        r.count("files_closed") == 1
    })
    .await;
    // Scans now find app.log.1 again: it resumes at its end.
    wait_for(&r.rec, "app.log.1 to be found again", |r| {
        r.count("files_opened") == 3
    })
    .await;
    append(&d.file("app.log.1"), b"late\n");
    wait_for(&r.rec, "the late line", |r| r.records() == 4).await;
    idle(Duration::from_secs(10)).await;
    let rec = r.stop().await;
    assert_eq!(sorted(logs(&rec)), ["a", "b", "c", "late"]);
}

#[tokio::test(start_paused = true)]
async fn truncation_restarts_from_the_beginning() {
    let d = Dir::new();
    let f = d.file("app.log");
    std::fs::write(&f, b"aaaa\nbbbb\n").unwrap();
    let r = start(
        config(&[("path", &path_str(&f)), ("read_from_head", "true")]),
        "t",
    );
    wait_for(&r.rec, "the first lines", |r| r.records() == 2).await;
    // copytruncate: same file, emptied, then written again.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&f)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&f, b"c\n");
    wait_for(&r.rec, "the line after truncation", |r| r.records() == 3).await;
    idle(Duration::from_secs(10)).await;
    let rec = r.stop().await;
    assert_eq!(logs(&rec), ["aaaa", "bbbb", "c"]);
    assert_eq!(rec.count("files_rotated"), 0);
}

#[tokio::test(start_paused = true)]
async fn db_keeps_offsets_across_restarts() {
    let d = Dir::new();
    let f = d.file("app.log");
    let db = d.file("tail.db");
    std::fs::write(&f, b"1\n2\n3\npart").unwrap();
    let pairs = [
        ("path", path_str(&f)),
        ("db", path_str(&db)),
        ("read_from_head", "true".into()),
    ];
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let r = start(config(&pairs), "t");
    wait_for(&r.rec, "the first run's lines", |r| r.records() == 3).await;
    let first = r.stop().await;
    assert_eq!(logs(&first), ["1", "2", "3"]);
    {
        let store = SledStore::open(&db, SyncMode::Normal).unwrap();
        let id = FileId::of(&std::fs::metadata(&f).unwrap());
        let e = store.get(id).unwrap().expect("an entry for the file");
        assert_eq!(e.offset, 6, "the offset stops before the partial line");
        assert_eq!(e.name, path_str(&f));
    }

    append(&f, b"ial\n4\n");
    let r = start(config(&pairs), "t");
    wait_for(&r.rec, "the second run's lines", |r| r.records() == 2).await;
    idle(Duration::from_secs(10)).await;
    let second = r.stop().await;
    assert_eq!(
        logs(&second),
        ["partial", "4"],
        "nothing read twice, nothing lost"
    );
}

#[tokio::test(start_paused = true)]
async fn stored_offset_past_the_end_reads_from_the_start() {
    let d = Dir::new();
    let f = d.file("app.log");
    let db = d.file("tail.db");
    std::fs::write(&f, b"1\n2\n3\n").unwrap();
    {
        let store = SledStore::open(&db, SyncMode::Normal).unwrap();
        let id = FileId::of(&std::fs::metadata(&f).unwrap());
        store
            .put(
                id,
                &super::db::Entry {
                    offset: 1000,
                    name: path_str(&f),
                },
            )
            .unwrap();
        store.flush().unwrap();
    }
    let cfg = config(&[
        ("path", &path_str(&f)),
        ("db", &path_str(&db)),
        ("exit_on_eof", "true"),
    ]);
    let r = start(cfg, "t");
    r.task.await.unwrap().unwrap();
    assert_eq!(logs(&r.rec), ["1", "2", "3"]);
}

#[tokio::test(start_paused = true)]
async fn long_lines_are_skipped_or_stop_the_file() {
    let d = Dir::new();
    let f = d.file("app.log");
    let long = "x".repeat(40);
    std::fs::write(&f, format!("short\n{long}\nafter\n")).unwrap();
    let base = [
        ("path", path_str(&f)),
        ("read_from_head", "true".into()),
        ("buffer_chunk_size", "16".into()),
        ("buffer_max_size", "16".into()),
    ];
    let mut pairs: Vec<(&str, &str)> = base.iter().map(|(k, v)| (*k, v.as_str())).collect();

    pairs.push(("skip_long_lines", "on"));
    pairs.push(("exit_on_eof", "on"));
    let r = start(config(&pairs), "t");
    r.task.await.unwrap().unwrap();
    assert_eq!(logs(&r.rec), ["short", "after"]);

    pairs.truncate(base.len());
    pairs.push(("truncate_long_lines", "on"));
    pairs.push(("exit_on_eof", "on"));
    let r = start(config(&pairs), "t");
    r.task.await.unwrap().unwrap();
    assert_eq!(logs(&r.rec), ["short", "x".repeat(16).as_str(), "after"]);

    pairs.truncate(base.len());
    let r = start(config(&pairs), "t");
    wait_for(&r.rec, "the file to be dropped", |r| {
        r.count("files_closed") == 1
    })
    .await;
    let rec = r.stop().await;
    assert_eq!(logs(&rec), ["short"]);
}

#[tokio::test(start_paused = true)]
async fn empty_lines_are_records_unless_skipped() {
    let d = Dir::new();
    let f = d.file("app.log");
    std::fs::write(&f, b"a\n\n\r\nb\n").unwrap();
    for (skip, expected) in [("off", vec!["a", "", "", "b"]), ("on", vec!["a", "b"])] {
        let cfg = config(&[
            ("path", &path_str(&f)),
            ("read_from_head", "on"),
            ("exit_on_eof", "on"),
            ("skip_empty_lines", skip),
        ]);
        let r = start(cfg, "t");
        r.task.await.unwrap().unwrap();
        assert_eq!(logs(&r.rec), expected);
    }
}

#[tokio::test(start_paused = true)]
async fn multiline_joins_a_traceback() {
    let d = Dir::new();
    let f = d.file("app.log");
    std::fs::write(
        &f,
        b"Traceback (most recent call last):\n  File \"app.py\", line 1, in <module>\n    main()\nValueError: bad\nnext message\n",
    )
    .unwrap();
    let cfg = config(&[
        ("path", &path_str(&f)),
        ("read_from_head", "on"),
        ("exit_on_eof", "on"),
        ("multiline.parser", "python"),
    ]);
    let r = start(cfg, "t");
    r.task.await.unwrap().unwrap();
    let got = logs(&r.rec);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].starts_with("Traceback") && got[0].contains("ValueError: bad"),
        "{got:?}"
    );
    assert_eq!(got[1].trim_end(), "next message");
}

#[tokio::test(start_paused = true)]
async fn multiline_message_is_flushed_after_its_timeout() {
    let d = Dir::new();
    let f = d.file("app.log");
    std::fs::write(
        &f,
        b"Traceback (most recent call last):\n  File \"app.py\", line 1\nValueError: bad\n",
    )
    .unwrap();
    let cfg = config(&[
        ("path", &path_str(&f)),
        ("read_from_head", "on"),
        ("multiline.parser", "python"),
    ]);
    let r = start(cfg, "t");
    wait_for(&r.rec, "the flushed message", |r| r.records() == 1).await;
    let rec = r.stop().await;
    assert!(logs(&rec)[0].contains("ValueError: bad"));
}

#[tokio::test(start_paused = true)]
async fn polling_sees_appends() {
    let d = Dir::new();
    let f = d.file("app.log");
    std::fs::write(&f, b"").unwrap();
    let r = start(
        config(&[("path", &path_str(&f)), ("inotify_watcher", "false")]),
        "t",
    );
    wait_for(&r.rec, "the file to be opened", |r| {
        r.count("files_opened") == 1
    })
    .await;
    append(&f, b"polled\n");
    wait_for(&r.rec, "the appended line", |r| r.records() == 1).await;
    let rec = r.stop().await;
    assert_eq!(logs(&rec), ["polled"]);
}

#[tokio::test(start_paused = true)]
async fn new_files_are_found_by_the_refresh_and_read_from_the_start() {
    let d = Dir::new();
    let cfg = config(&[("path", &d.pattern("*.log")), ("refresh_interval", "1")]);
    let r = start(cfg, "t");
    idle(Duration::from_secs(2)).await;
    std::fs::write(d.file("late.log"), b"first\nsecond\n").unwrap();
    wait_for(&r.rec, "the new file's lines", |r| r.records() == 2).await;
    let rec = r.stop().await;
    assert_eq!(logs(&rec), ["first", "second"]);
}

#[tokio::test(start_paused = true)]
async fn deleted_files_are_closed() {
    let d = Dir::new();
    let f = d.file("app.log");
    std::fs::write(&f, b"x\n").unwrap();
    let r = start(
        config(&[("path", &path_str(&f)), ("read_from_head", "on")]),
        "t",
    );
    wait_for(&r.rec, "the line", |r| r.records() == 1).await;
    std::fs::remove_file(&f).unwrap();
    wait_for(&r.rec, "the file to be closed", |r| {
        r.count("files_closed") == 1
    })
    .await;
    let rec = r.stop().await;
    assert_eq!(logs(&rec), ["x"]);
}

#[tokio::test(start_paused = true)]
async fn big_files_are_read_in_big_batches() {
    let d = Dir::new();
    let f = d.file("big.log");
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&format!(
            "{{\"n\":{i},\"msg\":\"some text to make the line longer\"}}\n"
        ));
    }
    std::fs::write(&f, &text).unwrap();
    let cfg = config(&[
        ("path", &path_str(&f)),
        ("read_from_head", "on"),
        ("exit_on_eof", "on"),
    ]);
    let r = start(cfg, "t");
    r.task.await.unwrap().unwrap();
    assert_eq!(r.rec.records(), 20_000);
    assert!(
        r.rec.batches() <= text.len() / super::config::READ_BLOCK + 1,
        "one batch per block read"
    );
    let got = logs(&r.rec);
    assert_eq!(
        got[19_999],
        r#"{"n":19999,"msg":"some text to make the line longer"}"#
    );
}
