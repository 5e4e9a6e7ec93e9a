//! Turns command-line options into sections of the configuration model, so a command-line
//! pipeline is validated exactly like a file.

use crate::cli::{Cli, CliKind};
use weir_config::{Config, ConfigError, Location, Section, SectionKind};

/// Adds the command line's plugins and service options to `config` (after the file's).
pub fn apply(cli: &Cli, config: &mut Config) -> Result<(), ConfigError> {
    let loc = Location::command_line();
    let mut set = |key: &str, value: &str| config.service.push(key, value, loc.clone());
    if let Some(f) = &cli.flush {
        set("flush", f);
    }
    if let Some(f) = &cli.log_file {
        set("log_file", f);
    }
    if let Some(l) = &cli.log_level {
        set("log_level", l);
    }
    for p in &cli.parsers_files {
        set("parsers_file", p);
    }
    if cli.http {
        set("http_server", "on");
    }
    if let Some(p) = &cli.http_port {
        set("http_port", p);
    }
    if let Some(p) = &cli.storage_path {
        set("storage.path", p);
    }
    if cli.hot_reload {
        set("hot_reload", "on");
    }
    if cli.daemon {
        set("daemon", "on");
    }
    for p in &cli.pipeline {
        if p.name.is_empty() {
            let (k, _) = &p.props[0];
            return Err(ConfigError::at(
                &loc,
                format!(
                    "option -{} comes before any -i, -F or -o it could apply to",
                    short(k)
                ),
            ));
        }
        let kind = match p.kind {
            CliKind::Input => SectionKind::Input,
            CliKind::Filter => SectionKind::Filter,
            CliKind::Output => SectionKind::Output,
        };
        let mut s = Section::new(kind, loc.clone());
        s.push("name", p.name.as_str(), loc.clone());
        for (k, v) in &p.props {
            s.push(k.as_str(), v.as_str(), loc.clone());
        }
        // Command-line filters and outputs without -m take everything, so `weir -i dummy -o
        // stdout` works as in Fluent Bit.
        let has_match = s.get("match").is_some() || s.get("match_regex").is_some();
        match kind {
            SectionKind::Input => config.inputs.push(s),
            SectionKind::Filter | SectionKind::Output => {
                if !has_match {
                    s.push("match", "*", loc.clone());
                }
                if kind == SectionKind::Filter {
                    config.filters.push(s)
                } else {
                    config.outputs.push(s)
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn short(key: &str) -> &str {
    match key {
        "tag" => "t",
        "match" => "m",
        _ => "p",
    }
}
