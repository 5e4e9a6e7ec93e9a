//! The command line: Fluent Bit's options, plus `weir plugins`.
//!
//! Fluent Bit's quick pipelines depend on the order of options (`-p` applies to the plugin
//! named just before it), which clap's derive API does not keep, so the options are declared
//! with the builder API and put back in order with `ArgMatches::indices_of`.

use clap::{Arg, ArgAction, ArgMatches, Command};
use std::path::PathBuf;

/// What the user asked for.
#[derive(Debug, Default, Clone)]
pub struct Cli {
    pub config: Option<PathBuf>,
    pub pipeline: Vec<CliPlugin>,
    pub flush: Option<String>,
    pub log_file: Option<String>,
    pub log_level: Option<String>,
    pub verbose: u8,
    pub quiet: bool,
    pub dry_run: bool,
    pub parsers_files: Vec<String>,
    pub http: bool,
    pub http_port: Option<String>,
    pub storage_path: Option<String>,
    pub hot_reload: bool,
    pub daemon: bool,
    pub help: bool,
    pub version: bool,
    pub plugins: Option<PluginsCommand>,
    /// `weir plugin new ...`.
    pub plugin_new: Option<crate::plugin_new::NewPlugin>,
    /// `-e FILE`: external plugins to load (WebAssembly components), in order.
    pub plugin_files: Vec<PathBuf>,
}

/// `weir plugins [NAME] [--json]`.
#[derive(Debug, Default, Clone)]
pub struct PluginsCommand {
    pub name: Option<String>,
    pub json: bool,
}

/// A plugin declared on the command line, with its properties in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliPlugin {
    pub kind: CliKind,
    pub name: String,
    pub props: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CliKind {
    Input,
    Filter,
    Output,
}

pub fn command() -> Command {
    Command::new("weir")
        .about("Weir: an edge telemetry collector for logs, metrics and traces, compatible with Fluent Bit")
        .override_usage("weir [-c FILE] [-i INPUT [-p K=V]... [-t TAG]]... [-F FILTER [-p K=V]... -m MATCH]... [-o OUTPUT [-p K=V]... [-m MATCH]]...\n       weir plugins [NAME] [--json] [-c FILE] [-e PLUGIN]...\n       weir plugin new --lang LANG NAME [DIR]\n       weir -i|-F|-o NAME -h")
        .disable_help_flag(true)
        .disable_version_flag(true)
        .args_conflicts_with_subcommands(true)
        .arg(Arg::new("config").short('c').long("config").value_name("FILE").help("Configuration file (.yaml/.yml: YAML, otherwise classic)"))
        .arg(Arg::new("input").short('i').long("input").value_name("INPUT").action(ArgAction::Append).help("Add an input"))
        .arg(Arg::new("filter").short('F').long("filter").value_name("FILTER").action(ArgAction::Append).help("Add a filter"))
        .arg(Arg::new("output").short('o').long("output").value_name("OUTPUT").action(ArgAction::Append).help("Add an output"))
        .arg(Arg::new("prop").short('p').long("prop").value_name("K=V").action(ArgAction::Append).help("Set a property of the last -i, -F or -o"))
        .arg(Arg::new("tag").short('t').long("tag").value_name("TAG").action(ArgAction::Append).help("Tag of the last input (same as -p tag=TAG)"))
        .arg(Arg::new("match").short('m').long("match").value_name("MATCH").action(ArgAction::Append).help("Match of the last filter or output (same as -p match=MATCH; default '*')"))
        .arg(Arg::new("flush").short('f').long("flush").value_name("SECONDS").help("Flush interval in seconds (default 1)"))
        .arg(Arg::new("plugin").short('e').long("plugin").value_name("FILE").action(ArgAction::Append).global(true).help("Load an external plugin (a WebAssembly component); may be given more than once"))
        .arg(Arg::new("parser").short('R').long("parser").value_name("FILE").action(ArgAction::Append).help("A parsers file to load"))
        .arg(Arg::new("log_file").short('l').long("log_file").visible_alias("log-file").value_name("FILE").help("Write logs to FILE"))
        .arg(Arg::new("log_level").long("log-level").visible_alias("log_level").value_name("LEVEL").help("off, error, warn, info, debug or trace"))
        .arg(Arg::new("verbose").short('v').long("verbose").action(ArgAction::Count).help("More logging: -v debug, -vv trace"))
        .arg(Arg::new("quiet").short('q').long("quiet").action(ArgAction::SetTrue).help("Log errors only"))
        .arg(Arg::new("dry_run").short('D').long("dry-run").action(ArgAction::SetTrue).help("Check the configuration and exit"))
        .arg(Arg::new("http").short('H').long("http").action(ArgAction::SetTrue).help("Serve the HTTP monitoring API"))
        .arg(Arg::new("port").short('P').long("port").value_name("PORT").help("Port of the HTTP monitoring API (default 2020)"))
        .arg(Arg::new("storage_path").short('b').long("storage_path").value_name("PATH").help("Directory for filesystem buffering"))
        .arg(Arg::new("hot_reload").short('Y').long("enable-hot-reload").action(ArgAction::SetTrue).help("Allow reloading the configuration while running"))
        .arg(Arg::new("daemon").short('d').long("daemon").action(ArgAction::SetTrue).help("Not supported: run Weir under a supervisor"))
        .arg(Arg::new("help").short('h').long("help").action(ArgAction::SetTrue).help("Print help (with -i, -F or -o: that plugin's parameters)"))
        .arg(Arg::new("version").short('V').long("version").action(ArgAction::SetTrue).help("Print the version"))
        .subcommand(
            Command::new("plugins")
                .about("List plugins, or print one plugin's parameters")
                .arg(Arg::new("name").value_name("NAME").help("A plugin name"))
                .arg(Arg::new("json").long("json").action(ArgAction::SetTrue).help("JSON schema of the parameters"))
                .arg(Arg::new("config").short('c').long("config").value_name("FILE").help("Also list the plugins its service section's plugins_file loads")),
        )
        .subcommand(crate::plugin_new::subcommand())
}

/// Parses arguments (without the program name handling, which clap does).
pub fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let m = command().try_get_matches_from(args)?;
    Ok(from_matches(&m))
}

fn from_matches(m: &ArgMatches) -> Cli {
    let one = |id: &str| m.get_one::<String>(id).cloned();
    let mut cli = Cli {
        config: one("config").map(PathBuf::from),
        flush: one("flush"),
        log_file: one("log_file"),
        log_level: one("log_level"),
        verbose: m.get_count("verbose"),
        quiet: m.get_flag("quiet"),
        dry_run: m.get_flag("dry_run"),
        parsers_files: m
            .get_many::<String>("parser")
            .map(|v| v.cloned().collect())
            .unwrap_or_default(),
        http: m.get_flag("http"),
        http_port: one("port"),
        storage_path: one("storage_path"),
        hot_reload: m.get_flag("hot_reload"),
        daemon: m.get_flag("daemon"),
        help: m.get_flag("help"),
        version: m.get_flag("version"),
        plugin_files: plugin_files(m),
        ..Cli::default()
    };
    if let Some(sub) = m.subcommand_matches("plugins") {
        // `-e` is global: clap propagates it given after `plugins` to the top-level matches.
        if let Some(c) = sub.get_one::<String>("config") {
            cli.config = Some(PathBuf::from(c));
        }
        cli.plugins = Some(PluginsCommand {
            name: sub.get_one::<String>("name").cloned(),
            json: sub.get_flag("json"),
        });
    }
    cli.plugin_new = crate::plugin_new::from_matches(m);
    cli.pipeline = ordered_pipeline(m);
    cli
}

fn plugin_files(m: &ArgMatches) -> Vec<PathBuf> {
    m.get_many::<String>("plugin")
        .map(|v| v.map(PathBuf::from).collect())
        .unwrap_or_default()
}

/// Rebuilds the order of -i/-F/-o/-p/-t/-m from their positions on the command line.
fn ordered_pipeline(m: &ArgMatches) -> Vec<CliPlugin> {
    let mut items: Vec<(usize, &str, String)> = Vec::new();
    for id in ["input", "filter", "output", "prop", "tag", "match"] {
        if let (Some(idx), Some(vals)) = (m.indices_of(id), m.get_many::<String>(id)) {
            items.extend(idx.zip(vals).map(|(i, v)| (i, id, v.clone())));
        }
    }
    items.sort_by_key(|(i, _, _)| *i);
    let mut plugins: Vec<CliPlugin> = Vec::new();
    for (_, id, value) in items {
        let kind = match id {
            "input" => Some(CliKind::Input),
            "filter" => Some(CliKind::Filter),
            "output" => Some(CliKind::Output),
            _ => None,
        };
        if let Some(kind) = kind {
            plugins.push(CliPlugin {
                kind,
                name: value,
                props: Vec::new(),
            });
            continue;
        }
        // A property before any plugin has nothing to apply to; it is reported later with
        // the plugin-less pipeline rather than silently dropped.
        let Some(last) = plugins.last_mut() else {
            plugins.push(CliPlugin {
                kind: CliKind::Input,
                name: String::new(),
                props: vec![(id.to_string(), value)],
            });
            continue;
        };
        match id {
            "prop" => {
                let (k, v) = value.split_once('=').unwrap_or((value.as_str(), ""));
                last.props
                    .push((k.trim().to_string(), v.trim().to_string()));
            }
            other => last.props.push((other.to_string(), value)),
        }
    }
    plugins
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_order_of_plugin_options() {
        let cli = parse([
            "weir",
            "-i",
            "dummy",
            "-p",
            "rate=5",
            "-t",
            "a.b",
            "-F",
            "grep",
            "-p",
            "regex=k v",
            "-m",
            "a.*",
            "-o",
            "stdout",
            "-p",
            "format=json_lines",
            "-f",
            "0.5",
        ])
        .unwrap();
        assert_eq!(cli.flush.as_deref(), Some("0.5"));
        assert_eq!(
            cli.pipeline,
            vec![
                CliPlugin {
                    kind: CliKind::Input,
                    name: "dummy".into(),
                    props: vec![("rate".into(), "5".into()), ("tag".into(), "a.b".into())]
                },
                CliPlugin {
                    kind: CliKind::Filter,
                    name: "grep".into(),
                    props: vec![
                        ("regex".into(), "k v".into()),
                        ("match".into(), "a.*".into())
                    ]
                },
                CliPlugin {
                    kind: CliKind::Output,
                    name: "stdout".into(),
                    props: vec![("format".into(), "json_lines".into())]
                },
            ]
        );
    }

    #[test]
    fn external_plugins() {
        let cli = parse(["weir", "-e", "a.wasm", "--plugin", "b.wasm", "-i", "x"]).unwrap();
        assert_eq!(
            cli.plugin_files,
            vec![PathBuf::from("a.wasm"), PathBuf::from("b.wasm")]
        );
        let cli = parse(["weir", "plugins", "-e", "a.wasm", "-c", "f.yaml", "--json"]).unwrap();
        assert_eq!(cli.plugin_files, vec![PathBuf::from("a.wasm")]);
        assert_eq!(cli.config, Some(PathBuf::from("f.yaml")));
        assert!(cli.plugins.unwrap().json);
    }

    #[test]
    fn plugins_subcommand() {
        let cli = parse(["weir", "plugins", "tail", "--json"]).unwrap();
        let p = cli.plugins.unwrap();
        assert_eq!(p.name.as_deref(), Some("tail"));
        assert!(p.json);
    }
}
