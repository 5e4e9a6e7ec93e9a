//! `weir plugins [NAME] [--json]` and `weir -i NAME -h`: plugin parameters from their tables.

use crate::cli::{CliKind, CliPlugin, PluginsCommand};
use std::process::ExitCode;
use weir_core::service::{FILTER_COMMON_PARAMS, INPUT_COMMON_PARAMS, OUTPUT_COMMON_PARAMS};
use weir_core::{ParamSpec, PluginDescriptor, PluginKind, Registry};

fn common(kind: PluginKind) -> &'static [ParamSpec] {
    match kind {
        PluginKind::Input => INPUT_COMMON_PARAMS,
        PluginKind::Filter => FILTER_COMMON_PARAMS,
        PluginKind::Output => OUTPUT_COMMON_PARAMS,
    }
}

fn text(d: &PluginDescriptor) -> String {
    format!(
        "{} {}: {}\n\n{}",
        d.kind.as_str(),
        d.name,
        d.description,
        weir_config::help_text(&[d.params, common(d.kind)])
    )
}

fn schema(d: &PluginDescriptor) -> serde_json::Value {
    weir_config::json_schema(
        d.name,
        d.kind.as_str(),
        d.description,
        &[d.params, common(d.kind)],
    )
}

/// `weir -i tail -h`.
pub fn plugin_help(registry: &Registry, p: &CliPlugin) -> ExitCode {
    let kind = match p.kind {
        CliKind::Input => PluginKind::Input,
        CliKind::Filter => PluginKind::Filter,
        CliKind::Output => PluginKind::Output,
    };
    match registry.find(kind, &p.name) {
        Some(d) => {
            print!("{}", text(d));
            ExitCode::SUCCESS
        }
        None => {
            eprintln!(
                "weir: unknown {} plugin '{}'; known: {}",
                kind.as_str(),
                p.name,
                registry.names(kind).join(", ")
            );
            ExitCode::FAILURE
        }
    }
}

/// `weir plugins [NAME] [--json]`.
pub fn plugins_command(registry: &Registry, cmd: &PluginsCommand) -> ExitCode {
    let selected: Vec<&'static PluginDescriptor> = match &cmd.name {
        None => registry.all(),
        Some(n) => registry
            .all()
            .into_iter()
            .filter(|d| d.name.eq_ignore_ascii_case(n))
            .collect(),
    };
    if selected.is_empty() {
        let names: Vec<&str> = registry.all().iter().map(|d| d.name).collect();
        eprintln!(
            "weir: no plugin named '{}'; known: {}",
            cmd.name.as_deref().unwrap_or(""),
            names.join(", ")
        );
        return ExitCode::FAILURE;
    }
    if cmd.json {
        let all: Vec<serde_json::Value> = selected.iter().map(|d| schema(d)).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::Value::Array(all)).unwrap_or_default()
        );
    } else if cmd.name.is_some() {
        for d in selected {
            println!("{}", text(d));
        }
    } else {
        for kind in [PluginKind::Input, PluginKind::Filter, PluginKind::Output] {
            println!("{}s:", kind.as_str());
            for d in selected.iter().filter(|d| d.kind == kind) {
                println!("  {:<20} {}", d.name, d.description);
            }
        }
    }
    ExitCode::SUCCESS
}
