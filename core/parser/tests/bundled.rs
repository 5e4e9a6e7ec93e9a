//! The bundled `configs/parsers.conf` loads through the registry and every parser in it reads
//! a sample of the format it is for.

use std::path::Path;
use weir_event::EventTime;
use weir_parser::{ParserRegistry, TimeLookup};

const SAMPLES: &[(&str, &str, &[&str])] = &[
    ("apache", r#"192.168.2.20 - - [29/Jul/2015:10:27:10 -0300] "GET /cgi-bin/try/ HTTP/1.0" 200 3395"#, &["host", "code", "size"]),
    ("apache2", r#"192.168.2.20 - bob [29/Jul/2015:10:27:10 -0300] "GET /a HTTP/1.1" 404 12 "-" "agent \"quoted\"""#, &["user", "agent"]),
    ("apache_error", "[Wed Oct 11 14:32:52 2000] [error] [client 127.0.0.1] client denied by server configuration", &["level", "client", "message"]),
    ("nginx", r#"172.17.0.1 - - [15/Mar/2023:18:24:06 +0000] "GET / HTTP/1.1" 200 615 "-" "curl/7.88.1""#, &["remote", "code", "agent"]),
    ("k8s-nginx-ingress", r#"10.244.0.1 - [10.244.0.1] - - [16/Mar/2019:19:50:51 +0000] "GET /swagger/v3/swagger.json HTTP/2.0" 200 765 "https://api.example.com/index.html" "Mozilla/5.0" 86 0.010 [stage-my-api-80] 10.244.0.232:80 2740 0.008 200 de00d568d2952f165f402328d4519bef"#, &["real_ip", "proxy_upstream_name", "upstream_status"]),
    ("json", r#"{"time":"12/Dec/2023:10:00:00 +0000","key":"value"}"#, &["key"]),
    ("docker", r#"{"log":"hello\\tworld\n","stream":"stdout","time":"2024-01-15T10:30:45.123456789Z"}"#, &["log", "stream", "time"]),
    ("docker-daemon", r#"time="2024-01-15T10:30:45.123456789Z" level=info msg="Loading containers: done.""#, &["level", "msg"]),
    ("syslog-rfc5424", r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] An application event"#, &["pri", "host", "extradata", "message"]),
    ("syslog-rfc3164", "<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed for lonvick on /dev/pts/8", &["pri", "host", "ident", "pid", "message"]),
    ("syslog-rfc3164-local", "<13>Jan  5 13:37:00 cron[1234]: job started", &["pri", "ident", "pid", "message"]),
    ("mongodb", "2014-11-03T18:28:32.450-0500 I NETWORK [initandlisten] waiting for connections on port 27017", &["severity", "component", "context", "message"]),
    ("envoy", r#"[2024-01-15T10:30:45.123Z] "GET /status HTTP/1.1" 200 - 0 17 3 2 "-" "curl/8.5.0" "b1c0a9e2-5d7e-4c4e-9f0e-0a8f5c1e2d3b" "example.com" "10.0.0.5:8080""#, &["method", "code", "upstream_host"]),
    ("cri", "2024-01-15T10:30:45.123456789Z stdout F hello world", &["stream", "logtag", "message"]),
    ("crio", "2024-01-15T10:30:45.123456789Z stderr P part", &["stream", "logtag", "message"]),
    ("kube-custom", "kube.var.log.containers.app-5d8f_default_web-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.log", &["pod_name", "namespace_name", "container_name", "docker_id"]),
    ("logfmt", r#"level=info msg="request done" duration=12ms"#, &["level", "msg", "duration"]),
    ("ltsv", "host:127.0.0.1\treq:GET / HTTP/1.1\tstatus:200", &["host", "req", "status"]),
];

#[test]
fn bundled_parsers_load_and_parse_samples() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/parsers.conf");
    let cfg = weir_config::load_with_env(&path, &|_| None).unwrap_or_else(|e| panic!("{e}"));
    let mut reg = ParserRegistry::new();
    reg.add_sections(&cfg.parsers, &cfg.multiline_parsers)
        .unwrap_or_else(|e| panic!("{e}"));
    let names = reg.names();
    for (name, _, _) in SAMPLES {
        assert!(names.contains(name), "parsers.conf lacks '{name}'");
    }
    assert_eq!(
        names.len(),
        SAMPLES.len(),
        "every bundled parser has a sample: {names:?}"
    );
    let now = Some(EventTime::new(1_781_481_600, 0));
    for (name, line, keys) in SAMPLES {
        let p = reg.get(name).unwrap();
        let mut out = Vec::new();
        let t = p
            .parse_detailed(line.as_bytes(), now, &mut out)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_ne!(t, TimeLookup::Invalid, "{name}: time did not parse");
        for k in *keys {
            assert!(
                weir_event::view::find(&out, k).is_some(),
                "{name}: no key '{k}' in {}",
                weir_event::json::to_json_string(&out).unwrap()
            );
        }
    }
}
