//! Loading real files: both formats to one model, includes, variables, parsers files, error
//! messages (as snapshots, with the temporary directory written as `[dir]`), and the benchmark
//! configurations that ship beside the repository.

use std::fs;
use std::path::{Path, PathBuf};

use weir_config::{
    load_parsers_config, load_parsers_file, load_with_env, parse_str, validate, Config,
    ConfigError, Format, ParamSpec, SectionKind,
};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&path, text).unwrap();
    path
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// A message with the temporary directory replaced, so snapshots do not depend on it.
fn normalized(dir: &Path, message: impl ToString) -> String {
    let mut text = message.to_string();
    if let Ok(canonical) = fs::canonicalize(dir) {
        text = text.replace(&canonical.display().to_string(), "[dir]");
    }
    text.replace(&dir.display().to_string(), "[dir]")
}

type Shape = Vec<(
    SectionKind,
    Vec<(String, String)>,
    Vec<(String, String, String)>,
)>;

/// What both formats must agree on: kinds, keys (lowercase), values and rules, in order.
fn shape(config: &Config) -> Shape {
    config
        .sections()
        .map(|s| {
            (
                s.kind,
                s.properties
                    .iter()
                    .map(|p| (p.key.to_ascii_lowercase(), p.value.clone()))
                    .collect(),
                s.rules
                    .iter()
                    .map(|r| (r.state.clone(), r.regex.clone(), r.next_state.clone()))
                    .collect(),
            )
        })
        .collect()
}

const YAML: &str = r#"
env:
  LOG_DIR: /var/log/app
service:
  flush: 1
  log_level: info
  http_server: on
parsers:
  - name: json
    format: json
    time_key: ts
multiline_parsers:
  - name: java
    type: regex
    flush_timeout: 1000
    rules:
      - state: start_state
        regex: '/^\d{4}-\d{2}/'
        next_state: cont
      - state: cont
        regex: '/^\s+at /'
        next_state: cont
pipeline:
  inputs:
    - name: tail
      tag: app.*
      path: ${LOG_DIR}/*.log
      read_from_head: true
  filters:
    - name: modify
      match: app.*
      add:
        - env prod
        - team edge
    - name: grep
      match: app.*
      exclude: status ^404$
  outputs:
    - name: 'null'
      match: '*'
"#;

const CLASSIC: &str = r#"
@SET LOG_DIR=/var/log/app

[SERVICE]
    Flush        1
    Log_Level    info
    HTTP_Server  On

[PARSER]
    Name      json
    Format    json
    Time_Key  ts

[MULTILINE_PARSER]
    name           java
    type           regex
    flush_timeout  1000
    rule           "start_state"  "/^\d{4}-\d{2}/"  "cont"
    rule           "cont"         "/^\s+at /"       "cont"

[INPUT]
    Name            tail
    Tag             app.*
    Path            ${LOG_DIR}/*.log
    Read_From_Head  true

[FILTER]
    Name   modify
    Match  app.*
    Add    env prod
    Add    team edge

[FILTER]
    Name     grep
    Match    app.*
    Exclude  status ^404$

[OUTPUT]
    Name   null
    Match  *
"#;

#[test]
fn yaml_and_classic_load_to_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = load_with_env(&write(dir.path(), "weir.yaml", YAML), &no_env).unwrap();
    let classic = load_with_env(&write(dir.path(), "weir.conf", CLASSIC), &no_env).unwrap();

    // The classic file says "On" where YAML says "on"; values keep their text, and the
    // parameter tables read both as true.
    let mut classic_shape = shape(&classic);
    for (_, props, _) in &mut classic_shape {
        for (key, value) in props.iter_mut() {
            if key == "http_server" {
                *value = value.to_ascii_lowercase();
            }
        }
    }
    assert_eq!(shape(&yaml), classic_shape);
    assert_eq!(yaml.variables, classic.variables);
    assert!(yaml.warnings.is_empty(), "{:?}", yaml.warnings);
    assert!(classic.warnings.is_empty(), "{:?}", classic.warnings);

    assert_eq!(
        yaml.inputs[0].get("path").unwrap().value,
        "/var/log/app/*.log"
    );
    assert_eq!(yaml.multiline_parsers[0].rules[0].regex, r"^\d{4}-\d{2}");
    assert_eq!(classic.multiline_parsers[0].rules[1].regex, r"^\s+at ");
    assert_eq!(yaml.files, [dir.path().join("weir.yaml")]);
}

#[test]
fn classic_includes_with_globs_are_relative_to_the_including_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let main = write(
        d,
        "weir.conf",
        "[SERVICE]\n    flush 1\n@INCLUDE conf.d/*.conf\n@INCLUDE outputs.conf\n@INCLUDE empty/*.conf\n",
    );
    write(
        d,
        "conf.d/b.conf",
        "[INPUT]\n    name dummy\n    tag b\n@INCLUDE ../shared/vars.conf\n",
    );
    write(
        d,
        "conf.d/a.conf",
        "[INPUT]\n    name dummy\n    tag ${TAG_A}\n",
    );
    write(d, "conf.d/ignored.txt", "not a config\n");
    write(d, "shared/vars.conf", "@SET TAG_A=a\n");
    write(
        d,
        "outputs.conf",
        "[OUTPUT]\n    name stdout\n    match *\n",
    );
    fs::create_dir_all(d.join("empty")).unwrap();

    let config = load_with_env(&main, &no_env).unwrap();
    let tags: Vec<_> = config
        .inputs
        .iter()
        .map(|s| s.get("tag").unwrap().value.as_str())
        .collect();
    assert_eq!(tags, ["a", "b"]);
    assert_eq!(config.outputs.len(), 1);
    assert_eq!(
        config.files,
        [
            main.clone(),
            d.join("conf.d/a.conf"),
            d.join("conf.d/b.conf"),
            d.join("conf.d/../shared/vars.conf"),
            d.join("outputs.conf"),
        ]
    );
    assert_eq!(
        config.inputs[1].location.file.as_ref(),
        d.join("conf.d/b.conf")
    );
    assert_eq!(config.warnings.len(), 1);
    assert_eq!(
        normalized(d, &config.warnings[0]),
        "[dir]/weir.conf:5: include pattern 'empty/*.conf' matches no file"
    );
}

#[test]
fn yaml_includes_and_env() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let main = write(
        d,
        "weir.yaml",
        "includes:\n  - inputs/*.yaml\n  - outputs.yaml\nservice:\n  flush: ${FLUSH}\n  log_level: ${LEVEL}\n",
    );
    write(
        d,
        "inputs/one.yaml",
        "env:\n  FLUSH: 0.5\npipeline:\n  inputs:\n    - name: dummy\n      tag: ${HOSTNAME}\n",
    );
    write(
        d,
        "outputs.yaml",
        "pipeline:\n  outputs:\n    - name: stdout\n      match: '*'\n      format: ${MISSING}\n",
    );
    let env = |name: &str| match name {
        "HOSTNAME" => Some("edge-1".to_owned()),
        "LEVEL" => Some("debug".to_owned()),
        // Variables defined in the configuration win over the process environment.
        "FLUSH" => Some("9".to_owned()),
        _ => None,
    };
    let config = load_with_env(&main, &env).unwrap();
    assert_eq!(config.service.get("flush").unwrap().value, "0.5");
    assert_eq!(config.service.get("log_level").unwrap().value, "debug");
    assert_eq!(config.inputs[0].get("tag").unwrap().value, "edge-1");
    assert_eq!(config.outputs[0].get("format").unwrap().value, "");
    assert_eq!(config.files.len(), 3);
    assert_eq!(
        normalized(d, &config.warnings[0]),
        "[dir]/outputs.yaml:5: key 'format': variable 'MISSING' is not defined; it expands to an empty string"
    );
}

#[test]
fn service_sections_merge_and_later_values_win() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let main = write(
        d,
        "weir.conf",
        "[SERVICE]\n    flush 1\n@INCLUDE more.conf\n",
    );
    write(d, "more.conf", "[SERVICE]\n    flush 5\n    grace 2\n");
    let config = load_with_env(&main, &no_env).unwrap();
    assert_eq!(config.service.location.line, 1);
    assert_eq!(config.service.get("flush").unwrap().value, "5");
    assert_eq!(config.service.get("grace").unwrap().value, "2");
}

#[test]
fn parsers_files_in_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let classic = write(
        d,
        "parsers.conf",
        "[PARSER]\n    Name   apache\n    Format regex\n    Regex  ^(?<host>[^ ]*) .*$\n\n[MULTILINE_PARSER]\n    name ml\n    type regex\n    rule \"start_state\" \"/^\\[/\" \"cont\"\n",
    );
    let (parsers, multiline) = load_parsers_file(&classic, &no_env).unwrap();
    assert_eq!(parsers.len(), 1);
    assert_eq!(
        parsers[0].get("regex").unwrap().value,
        "^(?<host>[^ ]*) .*$"
    );
    assert_eq!(multiline[0].rules[0].regex, "^\\[");

    let yaml = write(
        d,
        "parsers.yaml",
        "parsers:\n  - name: json\n    format: json\nmultiline_parsers:\n  - name: ml\n    type: regex\n    rules:\n      - {state: start_state, regex: '/^\\[/', next_state: cont}\n",
    );
    let (parsers, multiline) = load_parsers_file(&yaml, &no_env).unwrap();
    assert_eq!(parsers[0].name(), Some("json"));
    assert_eq!(multiline[0].rules[0].regex, "^\\[");

    let bad = write(
        d,
        "bad.conf",
        "[PARSER]\n    name a\n[INPUT]\n    name dummy\n",
    );
    assert_eq!(
        normalized(d, load_parsers_config(&bad, &no_env).unwrap_err()),
        "[dir]/bad.conf:3: a parsers file may only define parsers and multiline parsers, not input 'dummy'"
    );
}

#[test]
fn parse_str_reads_relative_includes_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "inc.yaml",
        "pipeline:\n  inputs:\n    - name: dummy\n",
    );
    let config = parse_str(
        "includes: inc.yaml\n",
        &dir.path().join("virtual.yaml"),
        Format::Yaml,
        &no_env,
    )
    .unwrap();
    assert_eq!(config.inputs.len(), 1);
}

/// Loads `files` (the first is the main file) and returns the error, normalized.
fn load_error(files: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<_> = files.iter().map(|(n, t)| write(dir.path(), n, t)).collect();
    let err: ConfigError = load_with_env(&paths[0], &no_env).unwrap_err();
    normalized(dir.path(), err)
}

#[test]
fn error_missing_include() {
    insta::assert_snapshot!(load_error(&[(
        "weir.conf",
        "[SERVICE]\n    flush 1\n@INCLUDE nowhere.conf\n"
    )]));
}

#[test]
fn error_missing_yaml_include() {
    insta::assert_snapshot!(load_error(&[
        ("weir.yaml", "includes:\n  - a.yaml\n  - nowhere.yaml\n"),
        ("a.yaml", "service:\n  flush: 1\n")
    ]));
}

#[test]
fn error_include_loop() {
    insta::assert_snapshot!(load_error(&[
        ("a.conf", "@INCLUDE b.conf\n"),
        ("b.conf", "@INCLUDE a.conf\n"),
    ]));
}

#[test]
fn error_malformed_yaml() {
    insta::assert_snapshot!(load_error(&[(
        "weir.yaml",
        "service:\n  flush: 1\n pipeline:\n  inputs: []\n"
    )]));
}

#[test]
fn error_key_outside_section() {
    insta::assert_snapshot!(load_error(&[(
        "weir.conf",
        "# settings\n    Flush 1\n[SERVICE]\n"
    )]));
}

#[test]
fn error_unknown_yaml_section() {
    insta::assert_snapshot!(load_error(&[("weir.yaml", "pipline:\n  inputs: []\n")]));
}

#[test]
fn error_missing_main_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_with_env(&dir.path().join("absent.yaml"), &no_env).unwrap_err();
    let text = normalized(dir.path(), err);
    assert!(
        text.starts_with("[dir]/absent.yaml: cannot read configuration file: "),
        "{text}"
    );
}

static TAIL: &[ParamSpec] = &[
    ParamSpec::str("tag").desc("Tag"),
    ParamSpec::str("path").required().desc("Files to read"),
    ParamSpec::bool("read_from_head")
        .default("off")
        .desc("Read from the start"),
];
static SERVICE: &[ParamSpec] = &[
    ParamSpec::time("flush").default("1").desc("Flush interval"),
    ParamSpec::str("log_level")
        .default("info")
        .desc("Log level"),
];

/// Validates the first input against `TAIL` and the service against `SERVICE`.
fn validation_error(name: &str, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = load_with_env(&write(dir.path(), name, text), &no_env).unwrap();
    let err = validate(&config.service, &[SERVICE], "service")
        .and_then(|_| {
            let input = &config.inputs[0];
            validate(input, &[TAIL], &input.describe())
        })
        .unwrap_err();
    normalized(dir.path(), err)
}

#[test]
fn error_unknown_key_with_suggestion() {
    insta::assert_snapshot!(validation_error(
        "weir.yaml",
        "pipeline:\n  inputs:\n    - name: tail\n      pth: /var/log/*.log\n"
    ));
}

#[test]
fn error_unknown_key_with_suggestion_classic() {
    insta::assert_snapshot!(validation_error(
        "weir.conf",
        "[INPUT]\n    Name tail\n    Path /x\n    Read_From_Haed on\n"
    ));
}

#[test]
fn error_bad_value() {
    insta::assert_snapshot!(validation_error(
        "weir.yaml",
        "service:\n  log_level: info\n  flush: abc\n"
    ));
}

#[test]
fn error_missing_required_key() {
    insta::assert_snapshot!(validation_error(
        "weir.conf",
        "[SERVICE]\n    flush 1\n\n[INPUT]\n    name tail\n    tag x\n"
    ));
}

/// The benchmark configurations beside the repository load, with every `${BENCH_*}` defined,
/// and their parsers files load too.
#[test]
fn bench_configs_load() {
    let bench =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/configs/fluent-bit");
    if !bench.is_dir() {
        println!("skipped: {} is absent", bench.display());
        return;
    }
    let conf_dir = bench.display().to_string();
    let env = move |name: &str| match name {
        "BENCH_HTTP_PORT" => Some("2020".to_owned()),
        "BENCH_FORWARD_PORT" => Some("24224".to_owned()),
        "BENCH_SINK_PORT" => Some("8080".to_owned()),
        "BENCH_DATA" => Some("/tmp/bench-data".to_owned()),
        "BENCH_WASM" => Some("/tmp/bench/add_field.wasm".to_owned()),
        "BENCH_CONF_DIR" => Some(conf_dir.clone()),
        _ => None,
    };
    let mut entries: Vec<PathBuf> = fs::read_dir(&bench)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    entries.sort();
    let mut loaded = 0;
    for path in entries {
        if path.file_name().is_some_and(|n| n == "parsers.yaml") {
            let (parsers, _) = load_parsers_file(&path, &env).unwrap();
            assert!(parsers.iter().any(|p| p.name() == Some("apache_combined")));
            continue;
        }
        let config =
            load_with_env(&path, &env).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            config.warnings.is_empty(),
            "{}: {:?}",
            path.display(),
            config.warnings
        );
        assert_eq!(config.service.get("http_port").unwrap().value, "2020");
        validate(
            &config.service,
            &[
                SERVICE,
                &[
                    ParamSpec::str("grace").desc("g"),
                    ParamSpec::str("http_server").desc("h"),
                    ParamSpec::str("http_listen").desc("l"),
                    ParamSpec::int("http_port").desc("p"),
                    ParamSpec::str("parsers_file").multiple().desc("p"),
                ],
            ],
            "service",
        )
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!config.inputs.is_empty() && !config.outputs.is_empty());
        assert!(config
            .sections()
            .skip(1)
            .all(|s| s.name().is_some_and(|n| !n.is_empty())));
        if let Some(parsers_file) = config.service.get("parsers_file") {
            let (parsers, _) = load_parsers_file(Path::new(&parsers_file.value), &env).unwrap();
            assert!(parsers.iter().any(|p| p.name() == Some("json")));
        }
        loaded += 1;
    }
    assert!(loaded >= 8, "only {loaded} benchmark configurations found");
}
