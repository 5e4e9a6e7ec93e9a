//! External plugins: WebAssembly components named by `-e FILE` (Fluent Bit's flag) and by the
//! plugins file of the service section (`plugins_file`).
//!
//! They are loaded before the pipeline is built, and again at each reload (an unchanged file
//! costs nothing; a changed one becomes the version running instances move to). The service
//! keys about them (`plugins_file`, `plugins.state_path`, `plugins.cache_path`) are taken out
//! of the service section here, so the engine's validation of that section never sees them.

use crate::cli::Cli;
use std::path::{Path, PathBuf};
use weir_core::{PluginDescriptor, Registry};

/// The plugins built into this binary: the native ones, and with WebAssembly support,
/// Fluent Bit's `wasm` filter and `exec_wasi` input.
pub fn builtin_registry() -> Registry {
    #[allow(unused_mut)]
    let mut registry = weir_plugins::registry();
    #[cfg(feature = "wasm")]
    weir_wasm::register_builtin(&mut registry);
    registry
}

/// What loading found.
#[derive(Debug, Default)]
pub struct External {
    pub descriptors: Vec<&'static PluginDescriptor>,
    /// The plugins files: a change of one calls for a reload (`hot_reload.watch`).
    pub watch: Vec<PathBuf>,
}

/// Loads the external plugins of `-e` and of `config`'s plugins file.
#[cfg(feature = "wasm")]
pub fn load(
    cli: &Cli,
    config: &mut weir_config::Config,
    config_dir: &Path,
) -> Result<External, String> {
    use weir_wasm::component;
    let sp = component::from_service(&mut config.service, config_dir).map_err(|e| e.to_string())?;
    // Fluent Bit's wasm filter and exec_wasi compile through the same cache.
    weir_wasm::engine::set_cache_dir(sp.settings.cache_dir.clone());
    let mut files = cli.plugin_files.clone();
    files.extend(sp.files);
    let descriptors = if files.is_empty() {
        Vec::new()
    } else {
        component::load_plugins(&files, &sp.settings)?
    };
    Ok(External {
        descriptors,
        watch: sp.plugins_files,
    })
}

/// Without WebAssembly support, `-e` is an error; a `plugins_file` is left for the engine to
/// refuse.
#[cfg(not(feature = "wasm"))]
pub fn load(
    cli: &Cli,
    _config: &mut weir_config::Config,
    _config_dir: &Path,
) -> Result<External, String> {
    match cli.plugin_files.first() {
        Some(f) => Err(format!(
            "cannot load {}: this build of Weir has no WebAssembly plugin support (cargo feature 'wasm')",
            f.display()
        )),
        None => Ok(External::default()),
    }
}

/// Adds loaded plugins to the registry (a name a built-in plugin has is refused).
pub fn register(registry: &mut Registry, loaded: &External) -> Result<(), String> {
    #[cfg(feature = "wasm")]
    return weir_wasm::component::add_to_registry(registry, &loaded.descriptors);
    #[cfg(not(feature = "wasm"))]
    {
        let _ = (registry, loaded);
        Ok(())
    }
}
