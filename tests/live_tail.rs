//! The live-tail page of `vivo_exporter`, in a real browser: headless Chromium loads `/live`
//! from a running weir and must show its records.
//!
//! Two ways in: `chromium --dump-dom` for what the page shows on load (and a screenshot), and
//! WebDriver through chromedriver for what needs a live page: a record written after the page
//! opened must appear, and typing in the tag filter must hide what it does not match.
//!
//! Chromium and chromedriver are required (`/usr/bin/chromium`, `/usr/bin/chromedriver`, or
//! the `CHROMIUM` and `CHROMEDRIVER` variables): without them these tests fail and say so.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn tool(var: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.exists(),
        "{} is needed for the live-tail tests: install Chromium and chromedriver \
         (Debian: apt-get install chromium chromium-driver) or set {var}",
        path.display()
    );
    path
}

fn chromium() -> PathBuf {
    tool("CHROMIUM", "/usr/bin/chromium")
}

fn chromedriver() -> PathBuf {
    tool("CHROMEDRIVER", "/usr/bin/chromedriver")
}

/// Flags for a quiet, self-contained headless Chromium.
fn chromium_flags(profile: &Path) -> Vec<String> {
    vec![
        "--headless".into(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--hide-scrollbars".into(),
        format!("--user-data-dir={}", profile.display()),
    ]
}

/// A child process killed and reaped when the test ends, even by a panic.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts weir with `inputs` (command-line arguments) and a live-tail exporter on a free port.
fn weir(inputs: &[&str], stdin: Stdio) -> (Guard, u16) {
    let port = free_port();
    let mut c = cmd();
    c.args(inputs)
        .args(["-o", "vivo_exporter", "-p", "host=127.0.0.1", "-p"])
        .arg(format!("port={port}"))
        .args(["-p", "live_tail=on", "-f", "0.05"])
        .stdin(stdin)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = c.spawn().expect("weir starts");
    (Guard(child), port)
}

/// Waits until the logs stream holds every one of `texts`.
fn wait_for_logs(port: u16, texts: &[&str]) {
    let found = wait_for(Duration::from_secs(30), || {
        let (_, body) = http_get(port, "/api/v1/logs")?;
        texts.iter().all(|t| body.contains(t)).then_some(())
    });
    assert!(found.is_some(), "the exporter never held {texts:?}");
}

/// The page's DOM after it has run for a few (virtual) seconds.
fn dump_dom(url: &str, profile: &Path) -> String {
    let out = Command::new(chromium())
        .args(chromium_flags(profile))
        .args(["--virtual-time-budget=5000", "--dump-dom", url])
        .stderr(Stdio::null())
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium --dump-dom failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The opening tags of the table's rows.
fn row_tags(dom: &str) -> Vec<&str> {
    dom.match_indices("<tr data-signal=")
        .filter_map(|(i, _)| dom[i..].find('>').map(|end| &dom[i..i + end]))
        .collect()
}

#[test]
fn the_page_shows_the_records_as_text_and_filters_by_tag() {
    let (_weir, port) = weir(
        &[
            "-i",
            "dummy",
            "-t",
            "app.keep",
            "-p",
            r#"dummy={"message":"kept record","html":"<img src=x onerror=alert(1)>"}"#,
            "-p",
            "rate=20",
            "-i",
            "dummy",
            "-t",
            "other.drop",
            "-p",
            r#"dummy={"message":"filtered record"}"#,
            "-p",
            "rate=20",
        ],
        Stdio::null(),
    );
    wait_for_logs(port, &["kept record", "filtered record"]);
    let profile = tempfile::tempdir().expect("tempdir");

    let dom = dump_dom(&format!("http://127.0.0.1:{port}/live"), profile.path());
    assert!(dom.contains("Weir live tail"), "{dom}");
    assert!(
        dom.contains("kept record"),
        "the record is on the page:\n{dom}"
    );
    assert!(dom.contains("filtered record"));
    // Markup in a record is shown as text, never made into elements.
    assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt;"), "{dom}");
    assert!(!dom.contains("<img"), "a record's markup became an element");
    assert!(row_tags(&dom).iter().all(|t| !t.contains("hidden")));

    // ?tag= fills the filter: the other tag's rows are hidden.
    let dom = dump_dom(
        &format!("http://127.0.0.1:{port}/live?tag=app.*"),
        profile.path(),
    );
    let rows = row_tags(&dom);
    assert!(rows.iter().any(|t| t.contains(r#"data-tag="app.keep""#)));
    for t in &rows {
        let hidden = t.contains("hidden");
        if t.contains(r#"data-tag="other.drop""#) {
            assert!(hidden, "{t}");
        } else {
            assert!(!hidden, "{t}");
        }
    }

    // A screenshot of the page, kept with the build's temporary files.
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("live-tail.png");
    let _ = std::fs::remove_file(&shot);
    let status = Command::new(chromium())
        .args(chromium_flags(profile.path()))
        .args(["--virtual-time-budget=5000", "--window-size=1200,800"])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("http://127.0.0.1:{port}/live"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("chromium runs");
    assert!(status.success(), "chromium --screenshot failed");
    let png = std::fs::read(&shot).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        png.len() > 20_000,
        "a {} byte screenshot is blank",
        png.len()
    );
}

/// A minimal WebDriver client: JSON commands over HTTP/1.1 to chromedriver.
struct WebDriver {
    port: u16,
    session: String,
    _driver: Guard,
    _profile: tempfile::TempDir,
}

impl WebDriver {
    fn start() -> Self {
        let port = free_port();
        let driver = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Guard(driver);
        let ready = wait_for(Duration::from_secs(30), || {
            let v = call(port, "GET", "/status", None)?;
            (v["value"]["ready"] == true).then_some(())
        });
        assert!(ready.is_some(), "chromedriver did not become ready");
        let profile = tempfile::tempdir().expect("tempdir");
        let caps = serde_json::json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium(),
                    "args": chromium_flags(profile.path()),
                }
            }}
        });
        let v = call(port, "POST", "/session", Some(&caps)).expect("chromedriver answers");
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        Self {
            port,
            session,
            _driver: driver,
            _profile: profile,
        }
    }

    fn command(&self, method: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
        let path = format!("/session/{}{path}", self.session);
        let v = call(self.port, method, &path, Some(&body))
            .unwrap_or_else(|| panic!("{method} {path}: no answer"));
        assert!(
            v["value"]["error"].is_null(),
            "{method} {path}: {}",
            v["value"]
        );
        v["value"].clone()
    }

    fn open(&self, url: &str) {
        self.command("POST", "/url", serde_json::json!({ "url": url }));
    }

    fn script(&self, script: &str, args: serde_json::Value) -> serde_json::Value {
        self.command(
            "POST",
            "/execute/sync",
            serde_json::json!({ "script": script, "args": args }),
        )
    }

    /// Visible rows whose text contains `text`.
    fn visible_rows(&self, text: &str) -> u64 {
        self.script(
            "return Array.from(document.querySelectorAll('#rows tr'))\
               .filter(r => !r.hidden && r.textContent.includes(arguments[0])).length;",
            serde_json::json!([text]),
        )
        .as_u64()
        .unwrap_or(0)
    }

    /// Rows (hidden or not) whose text contains `text`.
    fn rows(&self, text: &str) -> u64 {
        self.script(
            "return Array.from(document.querySelectorAll('#rows tr'))\
               .filter(r => r.textContent.includes(arguments[0])).length;",
            serde_json::json!([text]),
        )
        .as_u64()
        .unwrap_or(0)
    }

    /// Types into the element `css` finds, after clearing it.
    fn type_into(&self, css: &str, text: &str) {
        let el = self.command(
            "POST",
            "/element",
            serde_json::json!({ "using": "css selector", "value": css }),
        );
        let id = el
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("no element {css}: {el}"))
            .to_string();
        self.command(
            "POST",
            &format!("/element/{id}/clear"),
            serde_json::json!({}),
        );
        self.command(
            "POST",
            &format!("/element/{id}/value"),
            serde_json::json!({ "text": text }),
        );
    }
}

impl Drop for WebDriver {
    fn drop(&mut self) {
        let _ = call(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
    }
}

/// One WebDriver call; None when chromedriver does not answer (yet).
fn call(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> Option<serde_json::Value> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    // chromedriver keeps the connection open whatever the request says: read by length.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head_end, length) = loop {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())?;
            break (i + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    serde_json::from_slice(&buf[head_end..head_end + length]).ok()
}

#[test]
fn records_appear_as_they_arrive_and_the_filter_follows_typing() {
    let (mut weir, port) = weir(&["-i", "stdin", "-t", "app.stdin"], Stdio::piped());
    let mut stdin = weir.0.stdin.take().expect("stdin is piped");
    writeln!(stdin, r#"{{"message":"before the page"}}"#).expect("write");
    stdin.flush().expect("flush");
    wait_for_logs(port, &["before the page"]);

    let wd = WebDriver::start();
    wd.open(&format!("http://127.0.0.1:{port}/live"));
    let live = wait_for(Duration::from_secs(30), || {
        (wd.visible_rows("before the page") == 1).then_some(())
    });
    assert!(live.is_some(), "the page shows what the stream held");
    assert_eq!(wd.rows("after the page"), 0);

    // Written once the page is open: it must show up without reloading.
    writeln!(stdin, r#"{{"message":"after the page"}}"#).expect("write");
    stdin.flush().expect("flush");
    let arrived = wait_for(Duration::from_secs(30), || {
        (wd.visible_rows("after the page") == 1).then_some(())
    });
    assert!(arrived.is_some(), "a new record appeared on the open page");
    let status = wd.script(
        "return document.getElementById('status').textContent;",
        serde_json::json!([]),
    );
    assert!(
        status.as_str().unwrap_or_default().starts_with("live"),
        "{status}"
    );

    // Typing a filter hides what does not match, at once; a matching one shows it again.
    wd.type_into("#filter", "nothing.matches");
    assert_eq!(wd.visible_rows("after the page"), 0);
    assert_eq!(wd.rows("after the page"), 1, "hidden, not removed");
    wd.type_into("#filter", "app.*");
    assert_eq!(wd.visible_rows("after the page"), 1);
    wd.type_into("#filter", "stdin");
    assert_eq!(wd.visible_rows("before the page"), 1, "any part of the tag");

    // A record arriving while a filter excludes it comes in hidden.
    wd.type_into("#filter", "other.*");
    writeln!(stdin, r#"{{"message":"while filtered"}}"#).expect("write");
    stdin.flush().expect("flush");
    let hidden = wait_for(Duration::from_secs(30), || {
        (wd.rows("while filtered") == 1).then_some(())
    });
    assert!(hidden.is_some());
    assert_eq!(wd.visible_rows("while filtered"), 0);
}
