use super::*;
use crate::registry::ParserRegistry;
use weir_event::json::to_json_string;

struct Harness {
    ml: Multiline,
    t0: Instant,
    out: Vec<(u64, EventTime, String, bool)>,
}

impl Harness {
    fn new(names: &[&str]) -> Self {
        let reg = ParserRegistry::new();
        let parsers = names.iter().map(|n| reg.multiline(n).unwrap()).collect();
        Self::with(parsers)
    }

    fn with(parsers: Vec<Arc<MultilineParser>>) -> Self {
        Self {
            ml: Multiline::new(parsers),
            t0: Instant::now(),
            out: Vec::new(),
        }
    }

    fn feed(&mut self, stream: u64, lines: &[&str]) {
        let out = &mut self.out;
        let mut emit = |e: Emitted<'_>| {
            out.push((
                e.stream_id,
                e.time,
                to_json_string(e.body).unwrap(),
                e.truncated,
            ))
        };
        for l in lines {
            self.ml.feed_line(
                stream,
                l.as_bytes(),
                EventTime::new(100, 0),
                self.t0,
                &mut emit,
            );
        }
    }

    fn flush(&mut self) {
        let out = &mut self.out;
        let mut emit = |e: Emitted<'_>| {
            out.push((
                e.stream_id,
                e.time,
                to_json_string(e.body).unwrap(),
                e.truncated,
            ))
        };
        self.ml.flush_all(&mut emit);
    }

    fn bodies(&self) -> Vec<&str> {
        self.out.iter().map(|o| o.2.as_str()).collect()
    }
}

#[test]
fn docker_joins_partial_lines_per_stream() {
    let mut h = Harness::new(&["docker"]);
    h.feed(
        1,
        &[
            r#"{"log":"complete\n","stream":"stdout","time":"2024-01-15T10:30:45.123456789Z"}"#,
            r#"{"log":"part one, ","stream":"stdout","time":"2024-01-15T10:30:46.000000000Z"}"#,
            r#"{"log":"part two\n","stream":"stdout","time":"2024-01-15T10:30:47.000000000Z"}"#,
        ],
    );
    assert_eq!(
        h.bodies(),
        vec![
            r#"{"log":"complete\n","stream":"stdout","time":"2024-01-15T10:30:45.123456789Z"}"#,
            r#"{"log":"part one, part two\n","stream":"stdout","time":"2024-01-15T10:30:46.000000000Z"}"#,
        ]
    );
    assert_eq!(h.out[0].1, EventTime::new(1_705_314_645, 123_456_789));
    assert_eq!(h.out[1].1.sec, 1_705_314_646);
    // a line that is not docker JSON is a record of its own
    h.out.clear();
    h.feed(1, &["not json"]);
    assert_eq!(h.bodies(), vec![r#"{"log":"not json"}"#]);
}

#[test]
fn cri_joins_partial_parts() {
    let mut h = Harness::new(&["cri"]);
    h.feed(
        7,
        &[
            "2024-01-15T10:30:45.123456789Z stdout F Complete log message",
            "2024-01-15T10:30:46.123456789Z stderr P This is a partial ",
            "2024-01-15T10:30:46.123456790Z stderr P message that spans ",
            "2024-01-15T10:30:46.123456791Z stderr F multiple lines",
        ],
    );
    assert_eq!(
        h.bodies(),
        vec![
            r#"{"time":"2024-01-15T10:30:45.123456789Z","stream":"stdout","_p":"F","log":"Complete log message"}"#,
            r#"{"time":"2024-01-15T10:30:46.123456789Z","stream":"stderr","_p":"P","log":"This is a partial message that spans multiple lines"}"#,
        ]
    );
    assert_eq!(h.out[0].0, 7);
    assert_eq!(h.out[0].1, EventTime::new(1_705_314_645, 123_456_789));
}

#[test]
fn cri_joins_interleaved_streams_separately() {
    let mut h = Harness::new(&["cri"]);
    h.feed(
        3,
        &[
            "2024-01-15T10:30:46.000000001Z stdout P a",
            "2024-01-15T10:30:46.000000002Z stderr F x",
            "2024-01-15T10:30:46.000000003Z stdout F b",
        ],
    );
    assert_eq!(
        h.bodies(),
        vec![
            r#"{"time":"2024-01-15T10:30:46.000000002Z","stream":"stderr","_p":"F","log":"x"}"#,
            r#"{"time":"2024-01-15T10:30:46.000000001Z","stream":"stdout","_p":"P","log":"ab"}"#,
        ]
    );
    assert!(!h.ml.has_pending());
    // A partial line of one stream waits while the other stream's lines go through.
    h.out.clear();
    h.feed(
        3,
        &[
            "2024-01-15T10:30:47.000000001Z stderr P long ",
            "2024-01-15T10:30:47.000000002Z stdout F one",
            "2024-01-15T10:30:47.000000003Z stdout F two",
        ],
    );
    assert_eq!(h.out.len(), 2);
    assert!(h.out[0].2.contains(r#""log":"one""#));
    assert!(h.ml.has_pending());
    h.feed(3, &["2024-01-15T10:30:47.000000004Z stderr F line"]);
    assert!(
        h.out[2].2.contains(r#""log":"long line""#),
        "{:?}",
        h.out[2]
    );
}

#[test]
fn docker_joins_interleaved_streams_separately() {
    let mut h = Harness::new(&["docker"]);
    h.feed(
        1,
        &[
            r#"{"log":"a","stream":"stdout","time":"2024-01-15T10:30:46.000Z"}"#,
            r#"{"log":"x\n","stream":"stderr","time":"2024-01-15T10:30:47.000Z"}"#,
            r#"{"log":"b\n","stream":"stdout","time":"2024-01-15T10:30:48.000Z"}"#,
        ],
    );
    assert_eq!(
        h.bodies(),
        vec![
            r#"{"log":"x\n","stream":"stderr","time":"2024-01-15T10:30:47.000Z"}"#,
            r#"{"log":"ab\n","stream":"stdout","time":"2024-01-15T10:30:46.000Z"}"#,
        ]
    );
}

#[test]
fn python_traceback() {
    let mut h = Harness::new(&["python"]);
    h.feed(
        1,
        &[
            "before",
            "Traceback (most recent call last):",
            "  File \"/app/main.py\", line 10, in <module>",
            "    result = process_data(None)",
            "AttributeError: 'NoneType' object has no attribute 'strip'",
            "after",
        ],
    );
    h.flush();
    assert_eq!(
        h.bodies(),
        vec![
            r#"{"log":"before\n"}"#,
            r#"{"log":"Traceback (most recent call last):\n  File \"/app/main.py\", line 10, in <module>\n    result = process_data(None)\nAttributeError: 'NoneType' object has no attribute 'strip'\n"}"#,
            r#"{"log":"after\n"}"#,
        ]
    );
}

#[test]
fn java_stack_trace() {
    let mut h = Harness::new(&["java"]);
    h.feed(
        1,
        &[
            "java.lang.NullPointerException: Something went wrong",
            "\tat com.example.MyClass.myMethod(MyClass.java:42)",
            "\tat com.example.Main.main(Main.java:10)",
            "Caused by: java.lang.IllegalArgumentException: Invalid input",
            "\tat com.example.Helper.validate(Helper.java:15)",
            "\t... 3 more",
            "next message",
        ],
    );
    h.flush();
    assert_eq!(
        h.bodies(),
        vec![
            r#"{"log":"java.lang.NullPointerException: Something went wrong\n\tat com.example.MyClass.myMethod(MyClass.java:42)\n\tat com.example.Main.main(Main.java:10)\nCaused by: java.lang.IllegalArgumentException: Invalid input\n\tat com.example.Helper.validate(Helper.java:15)\n\t... 3 more\n"}"#,
            r#"{"log":"next message\n"}"#,
        ]
    );
}

#[test]
fn go_panic() {
    let mut h = Harness::new(&["go"]);
    h.feed(
        1,
        &[
            "panic: runtime error: invalid memory address or nil pointer dereference",
            "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x123456]",
            "",
            "goroutine 1 [running]:",
            "main.main()",
            "\t/app/main.go:15 +0x26",
        ],
    );
    assert!(h.out.is_empty(), "still pending: {:?}", h.out);
    h.flush();
    assert_eq!(
        h.bodies(),
        vec![
            r#"{"log":"panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x123456]\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:15 +0x26\n"}"#
        ]
    );
}

#[test]
fn custom_rules_timeout_and_streams() {
    let cfg = MultilineConfig {
        name: "multiline-regex-test".into(),
        kind: "regex".into(),
        flush_timeout: Some(Duration::from_millis(1000)),
        rules: vec![
            (
                "start_state".into(),
                r"/([a-zA-Z]+ \d+ \d+\:\d+\:\d+)(.*)/".into(),
                "cont".into(),
            ),
            ("cont".into(), r"/^\s+at.*/".into(), "cont".into()),
        ],
        ..Default::default()
    };
    let p = Arc::new(MultilineParser::new(&cfg, None).unwrap());
    let mut h = Harness::with(vec![p]);
    h.feed(
        1,
        &[
            "single line...",
            "Dec 14 06:41:08 Exception in thread \"main\"",
            "    at a.b(C.java:22)",
        ],
    );
    h.feed(2, &["Dec 14 06:41:09 other stream"]);
    assert_eq!(h.bodies(), vec![r#"{"log":"single line...\n"}"#]);
    assert_eq!(
        h.ml.next_deadline(),
        Some(h.t0 + Duration::from_millis(1000))
    );
    let mut got = Vec::new();
    let mut emit = |e: Emitted<'_>| got.push((e.stream_id, to_json_string(e.body).unwrap()));
    h.ml.flush_expired(h.t0 + Duration::from_millis(999), &mut emit);
    assert!(h.ml.next_deadline().is_some());
    h.ml.flush_expired(h.t0 + Duration::from_millis(1000), &mut emit);
    assert_eq!(got.len(), 2);
    assert!(!h.ml.has_pending());
    let mut rest = got;
    rest.sort();
    assert_eq!(
        rest,
        vec![
            (1, r#"{"log":"Dec 14 06:41:08 Exception in thread \"main\"\n    at a.b(C.java:22)\n"}"#.to_string()),
            (2, r#"{"log":"Dec 14 06:41:09 other stream\n"}"#.to_string()),
        ]
    );
}

#[test]
fn buffer_limit_truncates() {
    let reg = ParserRegistry::new();
    let mut h = Harness::with(vec![reg.multiline("java").unwrap()]);
    h.ml = Multiline::new(vec![reg.multiline("java").unwrap()]).with_buffer_limit(40);
    h.feed(
        1,
        &[
            "java.lang.Exception: boom",
            "\tat a.very.long.frame.name(File.java:1)",
        ],
    );
    assert_eq!(h.out.len(), 1);
    assert!(h.out[0].3);
    assert_eq!(
        h.out[0].2,
        r#"{"log":"java.lang.Exception: boom\n\tat a.very.lon\n"}"#
    );
}

#[test]
fn several_parsers_are_tried_in_order() {
    let mut h = Harness::new(&["docker", "cri"]);
    h.feed(
        1,
        &[
            "2024-01-15T10:30:45.000000000Z stdout F from cri",
            r#"{"log":"from docker\n","stream":"stdout","time":"2024-01-15T10:30:45.000Z"}"#,
        ],
    );
    assert_eq!(h.out.len(), 2);
    assert!(h.out[0].2.contains("from cri"));
    assert!(h.out[1].2.contains("from docker"));
}

#[test]
fn invalid_definitions() {
    let base = MultilineConfig {
        name: "m".into(),
        kind: "regex".into(),
        ..Default::default()
    };
    assert_eq!(MultilineParser::new(&base, None).unwrap_err().key, "rule");
    let mut c = base.clone();
    c.rules = vec![("cont".into(), "/a/".into(), "cont".into())];
    assert!(MultilineParser::new(&c, None)
        .unwrap_err()
        .message
        .contains("start_state"));
    c.rules = vec![("start_state".into(), "/a/".into(), "typo".into())];
    assert_eq!(MultilineParser::new(&c, None).unwrap_err().rule, Some(0));
    c.rules = vec![("start_state".into(), "(?=a)".into(), "".into())];
    assert_eq!(MultilineParser::new(&c, None).unwrap_err().rule, Some(0));
    let mut c = base.clone();
    c.kind = "endswith".into();
    assert_eq!(
        MultilineParser::new(&c, None).unwrap_err().key,
        "match_string"
    );
    c.kind = "weird".into();
    assert_eq!(MultilineParser::new(&c, None).unwrap_err().key, "type");
}

proptest::proptest! {
    #[test]
    fn never_panics(lines in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..60), 0..20)) {
        let mut h = Harness::new(&["docker", "cri", "go", "python", "java", "ruby"]);
        let out = &mut h.out;
        let mut emit = |e: Emitted<'_>| out.push((e.stream_id, e.time, String::new(), e.truncated));
        for l in &lines {
            h.ml.feed_line(1, l, EventTime::new(1, 0), h.t0, &mut emit);
        }
        h.ml.flush_all(&mut emit);
        proptest::prop_assert!(!h.ml.has_pending());
    }
}
