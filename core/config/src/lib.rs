//! Weir's configuration.
//!
//! Weir reads Fluent Bit's two configuration formats, YAML and classic, into one model, and
//! checks each section against the parameter table of the plugin it names. Start reading at
//! [`model`] (what a loaded configuration looks like), then [`load()`] and its siblings below. The
//! formats themselves live in `yaml` and `classic`, includes and `${VAR}` expansion in `load`
//! and [`vars`].
//!
//! Plugins describe their parameters once, in a table of [`ParamSpec`] ([`params`]); that table
//! drives [`validate`] (unknown keys with a suggestion, types, defaults, required keys),
//! [`help_text`] and [`json_schema`] ([`help`]). Value syntaxes (booleans, sizes, durations)
//! are in [`values`].
//!
//! Every error is a [`ConfigError`] that names the file, the line, the section and the key, and
//! says what was expected:
//!
//! ```text
//! /etc/weir/weir.yaml:12: input 'tail': key 'pth': unknown parameter; did you mean 'path'?
//! ```
//!
//! This crate does no I/O beyond reading configuration files, and depends on no other Weir
//! crate.

#![forbid(unsafe_code)]

mod classic;
pub mod error;
pub mod help;
mod load;
pub mod model;
pub mod params;
pub mod values;
pub mod vars;
mod yaml;

use std::path::Path;

pub use error::{suggest, ConfigError, ErrorDetails};
pub use help::{help_text, json_schema};
pub use load::Format;
pub use model::{Config, Location, MultilineRule, Property, Section, SectionKind};
pub use params::{check_table, validate, ParamSpec, ParamType, Params, Support};
pub use values::{parse_bool, parse_double, parse_duration, parse_int, parse_size, split_words};
pub use vars::expand_vars;

use load::Loader;

/// Looks a variable up in the process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Loads a configuration file and everything it includes, with variables from the process
/// environment. The format follows the extension, as in Fluent Bit: `.yaml` and `.yml` are
/// YAML, anything else is the classic format.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with_env(path, &process_env)
}

/// [`load`] with the environment lookup given (tests inject variables this way).
pub fn load_with_env(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut loader = Loader::new(env, false, path);
    loader.load_file(path, None)?;
    Ok(loader.finish())
}

/// Loads configuration text as if it were the file `path` (which names it in messages and
/// anchors relative includes, which are read from disk).
pub fn parse_str(
    text: &str,
    path: &Path,
    format: Format,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut loader = Loader::new(env, false, path);
    loader.load_text(path, text, format, None)?;
    Ok(loader.finish())
}

/// Loads a parsers file (as named by `service.parsers_file`): classic `[PARSER]` and
/// `[MULTILINE_PARSER]` sections, or YAML `parsers:` and `multiline_parsers:`, plus includes and
/// variables. Any other section is an error. Returns the parsers and the multiline parsers.
pub fn load_parsers_file(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Vec<Section>, Vec<Section>), ConfigError> {
    let config = load_parsers_config(path, env)?;
    Ok((config.parsers, config.multiline_parsers))
}

/// [`load_parsers_file`], keeping the rest of what loading found: the files read (to watch
/// them) and the warnings.
pub fn load_parsers_config(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut loader = Loader::new(env, true, path);
    loader.load_file(path, None)?;
    Ok(loader.finish())
}
