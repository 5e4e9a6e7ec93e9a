//! The `weir` command: reads a Fluent Bit configuration (or a command-line pipeline), checks
//! it completely, then runs it until SIGTERM/SIGINT or an input asks to stop.
//!
//! Start reading at [`main`]; the command line is in [`cli`], the translation of a command
//! line into the configuration model in [`cli_config`], plugin help in [`plugins_help`],
//! WebAssembly plugins loaded with `-e` and `plugins_file` in [`external`].

#![forbid(unsafe_code)]

mod cli;
mod cli_config;
mod external;
mod plugin_new;
mod plugins_help;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use weir_core::log::{self, Level};

/// The common parsers Fluent Bit users rely on, available unless a configuration defines
/// parsers of the same names.
const BUNDLED_PARSERS: &str = include_str!("../configs/parsers.conf");

fn main() -> ExitCode {
    let cli = match cli::parse(std::env::args_os()) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let mut registry = external::builtin_registry();

    if cli.version {
        println!("Weir v{}", env!("CARGO_PKG_VERSION"));
        println!("Reads Fluent Bit YAML and classic configurations.");
        return ExitCode::SUCCESS;
    }
    if let Some(req) = &cli.plugin_new {
        return plugin_new::command(req);
    }
    if cli.plugins.is_some() || cli.help {
        // Listing and help show the external plugins too: those of -e, and those the
        // configuration's plugins_file names.
        let loaded = match &cli.config {
            Some(_) => load_config(&cli).and_then(|(mut config, dir)| {
                external::load(&cli, &mut config, &dir).map_err(weir_config::ConfigError::new)
            }),
            None => external::load(&cli, &mut weir_config::Config::default(), Path::new("."))
                .map_err(weir_config::ConfigError::new),
        };
        let registered = loaded.and_then(|l| {
            external::register(&mut registry, &l).map_err(weir_config::ConfigError::new)
        });
        if let Err(e) = registered {
            return config_failure(&e);
        }
    }
    if let Some(p) = &cli.plugins {
        return plugins_help::plugins_command(&registry, p);
    }
    if cli.help {
        return match cli.pipeline.last() {
            Some(p) if !p.name.is_empty() => plugins_help::plugin_help(&registry, p),
            _ => {
                println!("{}", cli::command().render_help());
                ExitCode::SUCCESS
            }
        };
    }
    if cli.config.is_none() && cli.pipeline.is_empty() {
        eprintln!("weir: nothing to run: give a configuration with -c FILE, or a pipeline with -i INPUT -o OUTPUT");
        eprintln!("{}", cli::command().render_usage());
        return ExitCode::from(2);
    }

    // Command-line levels apply at once, so configuration errors are logged at that level.
    apply_cli_log_level(&cli);
    let (mut config, config_dir) = match load_config(&cli) {
        Ok(c) => c,
        Err(e) => return config_failure(&e),
    };
    for w in &config.warnings {
        weir_core::warn!("config", "{}", w);
    }
    let external = match external::load(&cli, &mut config, &config_dir)
        .and_then(|l| external::register(&mut registry, &l).map(|()| l))
    {
        Ok(l) => l,
        Err(e) => return config_failure(&weir_config::ConfigError::new(e)),
    };
    let opts = weir_core::BuildOptions {
        config_dir,
        bundled_parsers: Some(BUNDLED_PARSERS),
        metrics: None,
        check_only: cli.dry_run,
    };
    let mut pipeline = match weir_core::build(&config, &registry, &opts) {
        Ok(p) => p,
        Err(e) => return config_failure(&e),
    };
    pipeline.watch_files.extend(external.watch);
    if cli.log_level.is_none() && cli.verbose == 0 && !cli.quiet {
        log::set_level(pipeline.service.log_level);
    }
    if let Some(f) = &pipeline.service.log_file {
        if let Err(e) = log::set_file(f) {
            eprintln!("weir: cannot open log file {}: {e}", f.display());
            return ExitCode::FAILURE;
        }
    }
    if cli.dry_run {
        println!("configuration test is successful");
        return ExitCode::SUCCESS;
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(pipeline.service.workers)
        .thread_name("weir")
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            weir_core::error!("engine", "cannot start the runtime: {}", e);
            return ExitCode::FAILURE;
        }
    };
    // A reload reads the same file again, with the same command-line additions.
    let rebuild: Option<weir_core::Rebuild> = cli.config.is_some().then(|| {
        let cli = cli.clone();
        let rebuild: weir_core::Rebuild = std::sync::Arc::new(move |metrics| {
            let mut registry = external::builtin_registry();
            let (mut config, config_dir) = load_config(&cli).map_err(|e| e.to_string())?;
            for w in &config.warnings {
                weir_core::warn!("config", "{}", w);
            }
            // External plugins are loaded again: an unchanged file costs nothing, a changed
            // one is a new version the running instances move to.
            let external = external::load(&cli, &mut config, &config_dir)?;
            external::register(&mut registry, &external)?;
            let opts = weir_core::BuildOptions {
                config_dir,
                bundled_parsers: Some(BUNDLED_PARSERS),
                metrics: Some(metrics),
                check_only: false,
            };
            let mut pipeline =
                weir_core::build(&config, &registry, &opts).map_err(|e| e.to_string())?;
            pipeline.watch_files.extend(external.watch);
            Ok(pipeline)
        });
        rebuild
    });
    let opts = weir_core::RunOptions {
        rebuild,
        plugins: weir_core::http::PluginList::from_registry(&registry),
    };
    match runtime.block_on(weir_core::run_with(pipeline, opts)) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            weir_core::error!("engine", "{}", e);
            ExitCode::FAILURE
        }
    }
}

fn apply_cli_log_level(cli: &cli::Cli) {
    let level = if cli.quiet {
        Some(Level::Error)
    } else if cli.verbose >= 2 {
        Some(Level::Trace)
    } else if cli.verbose == 1 {
        Some(Level::Debug)
    } else {
        cli.log_level.as_deref().and_then(Level::parse)
    };
    if let Some(l) = level {
        log::set_level(l);
    }
}

fn load_config(cli: &cli::Cli) -> Result<(weir_config::Config, PathBuf), weir_config::ConfigError> {
    let mut config = match &cli.config {
        Some(path) => weir_config::load(path)?,
        None => weir_config::Config::default(),
    };
    let dir = match &cli.config {
        Some(p) => p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        None => PathBuf::from("."),
    };
    cli_config::apply(cli, &mut config)?;
    Ok((config, dir))
}

fn config_failure(e: &weir_config::ConfigError) -> ExitCode {
    weir_core::error!("config", "{}", e);
    ExitCode::FAILURE
}
