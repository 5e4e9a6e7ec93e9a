//! `weir plugin new`: every language's project is written whole, with the name in place, and
//! builds into a WebAssembly file.
//!
//! The Rust project is built with scripts/build-rust-guest.sh and the SDK of this checkout; C,
//! Zig, Go and AssemblyScript projects with their own build scripts. The toolchains come from
//! scripts/wasm-toolchains.sh (the test script runs it): a missing one fails the test. Python
//! and JavaScript projects take a minute or more each and are built with
//! WEIR_TEST_SLOW_TEMPLATES=1; their sources are the examples tests/wasm_examples.rs builds and
//! runs every time. The filters built run in Weir on a few records.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn weir(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run weir")
}

fn new_project(lang: &str, name: &str, extra: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("proj");
    let mut args = vec!["plugin", "new", "--lang", lang];
    args.extend_from_slice(extra);
    args.push(name);
    args.push("proj");
    let out = weir(&args, tmp.path());
    assert!(
        out.status.success(),
        "weir plugin new --lang {lang}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(name), "{stdout}");
    (tmp, dir)
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Checks the files every project has, and that no placeholder or example name is left.
fn check_common(dir: &Path, lang: &str, sources: &[&str]) {
    assert!(is_executable(&dir.join("build.sh")), "{lang}: build.sh");
    let readme = read(dir, "README.md");
    assert!(readme.contains("# my-plugin"), "{lang}: {readme}");
    assert!(read(dir, ".gitignore").contains("*.wasm"));
    for f in sources.iter().chain(&["README.md", "build.sh"]) {
        let text = read(dir, f);
        assert!(!text.contains("{{"), "{lang}: placeholder left in {f}");
        assert!(
            !text.contains("example_"),
            "{lang}: example name left in {f}"
        );
    }
    for f in sources {
        let text = read(dir, f);
        assert!(
            text.contains("my_plugin") || text.contains("my-plugin"),
            "{lang}: {f} does not name the plugin"
        );
    }
}

/// Which tools a build needs, found on PATH or where scripts/wasm-toolchains.sh puts them.
fn tools_path() -> String {
    let tools =
        std::env::var("WEIR_TOOLS_DIR").unwrap_or_else(|_| "/var/cache/weir-ci/tools".into());
    let path = std::env::var("PATH").unwrap_or_default();
    format!("{tools}/venv/bin:{path}")
}

fn have(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .env("PATH", tools_path())
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Runs a project's build.sh and checks the file it names on its last line.
fn build(dir: &Path, out: &Path, env: &[(&str, String)]) -> PathBuf {
    let mut cmd = Command::new(dir.join("build.sh"));
    cmd.arg(out).current_dir(dir).env("PATH", tools_path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let res = cmd.output().expect("run build.sh");
    assert!(
        res.status.success(),
        "build failed:\n{}\n{}",
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(out.is_file(), "no {}", out.display());
    out.to_path_buf()
}

fn validate(wasm: &Path, component: bool) {
    let res = Command::new("wasm-tools")
        .arg("validate")
        .arg(wasm)
        .env("PATH", tools_path())
        .output()
        .expect("run wasm-tools");
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let bytes = std::fs::read(wasm).unwrap();
    // Bytes 4..8 of the preamble: a component's layer, or a core module's version.
    let layer: &[u8] = if component {
        &[0x0d, 0, 1, 0]
    } else {
        &[1, 0, 0, 0]
    };
    assert_eq!(&bytes[4..8], layer, "{}", wasm.display());
}

fn component_world(wasm: &Path) -> String {
    let res = Command::new("wasm-tools")
        .args(["component", "wit"])
        .arg(wasm)
        .env("PATH", tools_path())
        .output()
        .expect("run wasm-tools");
    String::from_utf8_lossy(&res.stdout).into_owned()
}

/// The test script installs every guest toolchain (scripts/wasm-toolchains.sh): one missing
/// is a failure, never a silent pass.
fn skip_or_fail(what: &str) {
    panic!("{what}: the guest toolchain is missing (scripts/wasm-toolchains.sh installs it)");
}

#[test]
fn rust_project_builds_a_component() {
    let sdk = repo().join("plugin-sdk/rust");
    let (_tmp, dir) = new_project("rust", "my-plugin", &["--sdk", sdk.to_str().unwrap()]);
    check_common(&dir, "rust", &["Cargo.toml", "src/lib.rs"]);
    let toml = read(&dir, "Cargo.toml");
    assert!(toml.contains("name = \"my-plugin\""), "{toml}");
    assert!(
        toml.contains(&format!("path = \"{}\"", sdk.display())),
        "{toml}"
    );
    let lib = read(&dir, "src/lib.rs");
    assert!(lib.contains("pub struct MyPlugin"), "{lib}");
    assert!(lib.contains("filter!(MyPlugin)"), "{lib}");

    let sysroot_src = Command::new("/usr/bin/rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| {
            PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
                .join("lib/rustlib/src/rust/library")
        });
    if !sysroot_src.is_some_and(|p| p.is_dir()) || !have("wasm-tools", &["--version"]) {
        return skip_or_fail("rust project");
    }
    // The shared script (not the project's copy) with a target dir kept between runs: the
    // first build compiles Rust's standard library for wasm32.
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join("target"))
        .join("wasm-guests/plugin-new-rust");
    let wasm = dir.join("my-plugin.wasm");
    let res = Command::new(repo().join("scripts/build-rust-guest.sh"))
        .arg("--target-dir")
        .arg(&target)
        .arg(&dir)
        .env("PATH", tools_path())
        .output()
        .expect("run build-rust-guest.sh");
    assert!(
        res.status.success(),
        "build failed:\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let last = String::from_utf8_lossy(&res.stdout);
    assert_eq!(last.lines().last().map(PathBuf::from), Some(wasm.clone()));
    validate(&wasm, true);
    let world = component_world(&wasm);
    assert!(world.contains("export filter: func"), "{world}");
    assert!(world.contains("export weir:plugin/plugin@0.1.0"), "{world}");
    assert!(!world.contains("wasi:"), "no WASI without --wasi: {world}");
    let filter = [
        "-e".to_string(),
        wasm.display().to_string(),
        "-F".into(),
        "my_plugin".into(),
        "-m".into(),
        "*".into(),
    ];
    runs_in_weir(&filter, "rust", &dir);
}

/// Runs a built filter in Weir: records on standard input, through the filter that `filter`
/// declares (`-e`, `-F` and their options), to standard output as JSON lines; checks that the
/// debug record was dropped and the others got `"lang": lang`.
fn runs_in_weir(filter: &[String], lang: &str, scratch: &Path) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["-i", "stdin", "-t", "app"])
        .args(filter)
        .args(["-o", "stdout", "-m", "*", "-p", "format=json_lines"])
        .env("XDG_STATE_HOME", scratch.join("state"))
        .env("XDG_CACHE_HOME", scratch.join("cache"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run weir");
    {
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, r#"{{"level":"info","msg":"one"}}"#).unwrap();
        writeln!(stdin, r#"{{"level":"debug","msg":"two"}}"#).unwrap();
        writeln!(stdin, r#"{{"msg":"three"}}"#).unwrap();
    }
    // Weir stops at the end of its standard input; a hang is killed rather than waited on.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let msgs: Vec<_> = records.iter().map(|r| r["msg"].clone()).collect();
    assert_eq!(msgs, ["one", "three"], "{lang}: {stdout}");
    assert!(records.iter().all(|r| r["lang"] == lang), "{stdout}");
}

#[test]
fn c_and_zig_projects_carry_the_bindings() {
    for (lang, source) in [("c", "filter.c"), ("zig", "filter.zig")] {
        let (tmp, dir) = new_project(lang, "my-plugin", &[]);
        check_common(&dir, lang, &[source]);
        for b in [
            "weir_filter.h",
            "weir_filter.c",
            "weir_filter_component_type.o",
        ] {
            let ours = std::fs::read(dir.join("bindings").join(b)).unwrap();
            let repo_copy = std::fs::read(repo().join("plugin-sdk/c/filter").join(b)).unwrap();
            assert_eq!(ours, repo_copy, "{lang}: bindings/{b}");
        }
        if !have("python3", &["-c", "import ziglang"]) || !have("wasm-tools", &["--version"]) {
            skip_or_fail(lang);
            continue;
        }
        let wasm = build(&dir, &tmp.path().join(format!("{lang}.wasm")), &[]);
        validate(&wasm, true);
        assert!(component_world(&wasm).contains("export filter: func"));
        let filter = [
            "-e".to_string(),
            wasm.display().to_string(),
            "-F".into(),
            "my_plugin".into(),
            "-m".into(),
            "*".into(),
        ];
        runs_in_weir(&filter, lang, tmp.path());
    }
}

#[test]
fn python_and_javascript_projects_carry_the_wit() {
    let slow = std::env::var_os("WEIR_TEST_SLOW_TEMPLATES").is_some();
    for (lang, source) in [("python", "app.py"), ("javascript", "app.js")] {
        let (tmp, dir) = new_project(lang, "my-plugin", &[]);
        check_common(&dir, lang, &[source]);
        assert_eq!(
            read(&dir, "wit/weir-plugin.wit"),
            read(&repo(), "wit/weir-plugin.wit")
        );
        if lang == "javascript" {
            let pkg: serde_json::Value = serde_json::from_str(&read(&dir, "package.json")).unwrap();
            assert_eq!(pkg["name"], "my-plugin");
            assert!(dir.join("build.mjs").is_file());
        }
        if !slow {
            continue;
        }
        let wasm = build(&dir, &tmp.path().join(format!("{lang}.wasm")), &[]);
        validate(&wasm, true);
        assert!(component_world(&wasm).contains("export filter: func"));
    }
}

#[test]
fn go_and_assemblyscript_projects_build_fluent_bit_modules() {
    let tools =
        std::env::var("WEIR_TOOLS_DIR").unwrap_or_else(|_| "/var/cache/weir-ci/tools".into());
    for (lang, source, function, ready) in [
        ("go", "main.go", "go_filter", have("go", &["version"])),
        (
            "assemblyscript",
            "assembly/index.ts",
            "assemblyscript_filter",
            Path::new(&tools)
                .join("node_modules/assemblyscript/bin/asc.js")
                .is_file(),
        ),
    ] {
        let (tmp, dir) = new_project(lang, "my-plugin", &[]);
        check_common(&dir, lang, &["README.md"]);
        assert!(read(&dir, "README.md").contains(&format!("function_name={function}")));
        assert!(read(&dir, source).contains(function));
        assert!(!read(&dir, source).contains("example_"), "{lang}");
        if lang == "go" {
            assert!(read(&dir, "go.mod").contains("module my_plugin"));
        }
        if !ready || !have("wasm-tools", &["--version"]) {
            skip_or_fail(lang);
            continue;
        }
        // Go's build cache must be writable; keep it beside the test's files.
        let env = [("GOCACHE", tmp.path().join("gocache").display().to_string())];
        let wasm = build(&dir, &tmp.path().join(format!("{lang}.wasm")), &env);
        validate(&wasm, false);
        let wat = Command::new("wasm-tools")
            .arg("print")
            .arg(&wasm)
            .env("PATH", tools_path())
            .output()
            .unwrap();
        let wat = String::from_utf8_lossy(&wat.stdout);
        assert!(wat.contains(&format!("(export \"{function}\"")), "{lang}");
        let filter = [
            "-F".to_string(),
            "wasm".into(),
            "-m".into(),
            "*".into(),
            "-p".into(),
            format!("wasm_path={}", wasm.display()),
            "-p".into(),
            format!("function_name={function}"),
        ];
        runs_in_weir(&filter, lang, tmp.path());
    }
}

#[test]
fn refuses_what_it_cannot_write() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("keep.txt"), "x").unwrap();
    let dir = tmp.path().to_str().unwrap();
    for (args, says) in [
        (
            vec!["plugin", "new", "--lang", "rust", "ok", dir],
            "not empty",
        ),
        (
            vec!["plugin", "new", "--lang", "cobol", "ok"],
            "unknown language",
        ),
        (
            vec!["plugin", "new", "--lang", "c", "Bad Name"],
            "invalid plugin name",
        ),
    ] {
        let out = weir(&args, tmp.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn the_default_directory_is_the_name_and_the_default_sdk_the_installed_one() {
    let tmp = tempfile::tempdir().unwrap();
    let out = weir(&["plugin", "new", "--lang", "rs", "tagger"], tmp.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let toml = read(&tmp.path().join("tagger"), "Cargo.toml");
    assert!(
        toml.contains("path = \"/usr/share/weir/plugin-sdk/rust\""),
        "{toml}"
    );
}
