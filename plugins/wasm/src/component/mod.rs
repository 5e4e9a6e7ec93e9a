//! Component plugins: inputs, filters and outputs written in any language that builds a
//! WebAssembly component of `wit/weir-plugin.wit` (package `weir:plugin@0.1.0`).
//!
//! Reading order:
//! - [`registry`]: a plugin file becomes a [`weir_core::PluginDescriptor`] named by its
//!   `describe().name`; its parameters are its own plus the host's (`wasm.*`, [`params`]).
//! - [`compiled`]: one version of a file, compiled (or taken from the compile cache), its
//!   world found from its exports, described, with the `InstancePre` instances start from.
//! - [`runner`]: one instance: a `Store` with a memory limit, a time limit per call, what a
//!   trap or a limit does, re-instantiation, and the move to a new version.
//! - [`filter`], [`input`], [`output`]: the engine's three traits over a runner.
//! - [`host`]: the imports (`log`, `config`, state, metrics, `now-ns`, `emit`) and the
//!   store's data; [`grants`]: what WASI lets a plugin reach (nothing unless granted);
//!   [`state`]: key-value state in sled; [`events`]: events in the plugin's format.
//! - [`source`]: a plugin by name, and hot swaps when its file changes.
//! - [`plugins_file`]: Fluent Bit's plugins file.
//!
//! Weir's binary calls [`from_service`] on the configuration's service section, then
//! [`load_plugins`] with the files of `-e` and of the plugins file, then
//! [`add_to_registry`].

pub mod bindings;
pub mod compiled;
pub mod events;
pub mod filter;
pub mod grants;
pub mod host;
pub mod input;
pub mod output;
pub mod params;
pub mod plugins_file;
pub mod registry;
pub mod runner;
pub mod source;
pub mod state;

pub use compiled::{Compiled, Failure};
pub use registry::{add_to_registry, load_plugins};
pub use source::{PluginSource, Settings};

use std::path::{Path, PathBuf};
use weir_config::{ConfigError, Section};

/// Service keys about component plugins, which Weir reads before building the pipeline:
/// Fluent Bit's `plugins_file`, and Weir's `plugins.state_path` and `plugins.cache_path`.
pub const SERVICE_KEYS: &[&str] = &["plugins_file", "plugins.state_path", "plugins.cache_path"];

/// What the service section says about component plugins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServicePlugins {
    /// The plugin files the plugins files list, in order.
    pub files: Vec<PathBuf>,
    /// Files that, when they change, call for a reload (the plugins files themselves).
    pub plugins_files: Vec<PathBuf>,
    pub settings: Settings,
}

/// Takes [`SERVICE_KEYS`] out of `service` (the engine's own validation of the section does
/// not know them) and reads the plugins files they name. A relative `plugins_file` is
/// relative to the configuration's directory, as `parsers_file`; relative
/// `plugins.state_path` and `plugins.cache_path` to the working directory, as other paths.
///
/// `plugins.cache_path` defaults to `$XDG_CACHE_HOME/weir/wasm`, else `/var/cache/weir/wasm`
/// for root, else `~/.cache/weir/wasm`; set it empty to compile at every start.
/// `plugins.state_path` defaults to `<storage.path>/plugin-state` when `storage.path` is set,
/// else to [`state::default_dir`].
pub fn from_service(
    service: &mut Section,
    config_dir: &Path,
) -> Result<ServicePlugins, ConfigError> {
    let mut out = ServicePlugins {
        settings: Settings {
            cache_dir: Some(state::default_cache_dir()),
            state_dir: None,
        },
        ..ServicePlugins::default()
    };
    let mut kept = Vec::with_capacity(service.properties.len());
    for p in std::mem::take(&mut service.properties) {
        let key = p.key.to_ascii_lowercase();
        match key.as_str() {
            "plugins_file" => {
                let v = p.value.trim();
                if v.is_empty() {
                    continue;
                }
                let path = if Path::new(v).is_absolute() {
                    PathBuf::from(v)
                } else {
                    config_dir.join(v)
                };
                let files = plugins_file::read(&path).map_err(|e| {
                    ConfigError::at(&p.location, e)
                        .with_section("service")
                        .with_key(p.key.clone())
                })?;
                out.files.extend(files);
                out.plugins_files.push(path);
            }
            "plugins.state_path" => {
                out.settings.state_dir =
                    Some(PathBuf::from(p.value.trim())).filter(|p| !p.as_os_str().is_empty());
            }
            "plugins.cache_path" => {
                out.settings.cache_dir =
                    Some(PathBuf::from(p.value.trim())).filter(|p| !p.as_os_str().is_empty());
            }
            _ => kept.push(p),
        }
    }
    service.properties = kept;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_config::{Location, SectionKind};

    #[test]
    fn service_keys_are_taken_out() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.conf"), "[PLUGINS]\n Path /x.wasm\n").unwrap();
        let loc = Location::command_line();
        let mut s = Section::new(SectionKind::Service, loc.clone());
        s.push("flush", "1", loc.clone());
        s.push("Plugins_File", "p.conf", loc.clone());
        s.push("plugins.state_path", "/st", loc.clone());
        s.push("plugins.cache_path", "", loc.clone());
        let sp = from_service(&mut s, dir.path()).unwrap();
        assert_eq!(s.properties.len(), 1);
        assert_eq!(sp.files, vec![PathBuf::from("/x.wasm")]);
        assert_eq!(sp.plugins_files, vec![dir.path().join("p.conf")]);
        assert_eq!(sp.settings.state_dir, Some(PathBuf::from("/st")));
        assert_eq!(sp.settings.cache_dir, None);

        let mut s = Section::new(SectionKind::Service, loc.clone());
        s.push("plugins_file", "missing.conf", loc);
        assert!(from_service(&mut s, dir.path()).is_err());
    }
}
