//! Broken configurations: each error names the file, the line and the key, says what was
//! expected, and the process exits non-zero before starting anything. Snapshots pin the
//! messages, since operators read them.

mod common;

use common::*;
use std::time::Duration;

/// Writes `files` into a temporary directory, runs `weir -c <main>`, and returns the
/// normalized stderr after checking the exit code is non-zero.
fn failing(main: &str, files: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        write(&dir.path().join(name), text);
    }
    let mut c = cmd();
    c.arg("-c").arg(dir.path().join(main));
    let out = run_with_timeout(c, Duration::from_secs(10));
    assert!(
        !out.status.success(),
        "expected failure; stdout {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.stdout.is_empty(),
        "nothing ran: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    normalize_log(&String::from_utf8_lossy(&out.stderr), dir.path())
}

#[test]
fn unknown_key_suggests_the_nearest() {
    let err = failing(
        "weir.yaml",
        &[("weir.yaml", "pipeline:\n  inputs:\n    - name: tail\n      pth: /var/log/x.log\n  outputs:\n    - name: stdout\n      match: '*'\n")],
    );
    insta::assert_snapshot!(err);
}

#[test]
fn bad_value_says_what_was_expected() {
    let err = failing(
        "weir.yaml",
        &[(
            "weir.yaml",
            "service:\n  flush: soon\npipeline:\n  inputs:\n    - name: dummy\n",
        )],
    );
    insta::assert_snapshot!(err);
}

#[test]
fn missing_include_names_the_including_line() {
    let err = failing(
        "weir.conf",
        &[(
            "weir.conf",
            "[SERVICE]\n    flush 1\n\n@INCLUDE inputs.conf\n",
        )],
    );
    insta::assert_snapshot!(err);
}

#[test]
fn malformed_yaml_names_the_line() {
    let err = failing(
        "weir.yaml",
        &[(
            "weir.yaml",
            "pipeline:\n  inputs:\n    - name: dummy\n      tag: [unclosed\n",
        )],
    );
    insta::assert_snapshot!(err);
}

#[test]
fn unknown_plugin_suggests_a_known_one() {
    let err = failing(
        "weir.conf",
        &[("weir.conf", "[INPUT]\n    name tial\n    path /x\n")],
    );
    insta::assert_snapshot!(err);
}

#[test]
fn classic_unknown_key_in_an_included_file() {
    let err = failing(
        "weir.conf",
        &[
            (
                "weir.conf",
                "[SERVICE]\n    flush 1\n@INCLUDE outputs/*.conf\n",
            ),
            (
                "outputs/out.conf",
                "[OUTPUT]\n    name   stdout\n    match  *\n    formt  json\n",
            ),
        ],
    );
    insta::assert_snapshot!(err);
}

#[test]
fn invalid_regex_points_at_its_key() {
    let err = failing(
        "weir.yaml",
        &[("weir.yaml", "pipeline:\n  inputs:\n    - name: dummy\n  filters:\n    - name: grep\n      match: '*'\n      regex: log (unclosed\n")],
    );
    insta::assert_snapshot!(err);
}

#[test]
fn daemon_mode_is_refused_clearly() {
    let err = failing(
        "weir.yaml",
        &[(
            "weir.yaml",
            "service:\n  daemon: on\npipeline:\n  inputs:\n    - name: dummy\n",
        )],
    );
    insta::assert_snapshot!(err);
}
