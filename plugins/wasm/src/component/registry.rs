//! Component plugins as first-class plugins: each becomes a [`PluginDescriptor`] named by its
//! `describe().name`, whose parameter table is its declared parameters plus the host's, so
//! Weir validates, lists and documents it as any native plugin.
//!
//! Descriptors are `&'static` (the engine's registry holds references for the whole process):
//! they are leaked, one per plugin and per version whose description or parameters differ
//! from the last, which is a few per process even with frequent reloads.
//!
//! Factories are plain functions, one per kind: they find the plugin by the section's `name`
//! in the table of loaded plugins. Loading a file again (a reload) finds the plugin there:
//! the same file unchanged costs nothing; a new version goes to the running instances as a
//! hot swap ([`super::source`]).

use super::compiled::{Compiled, Stamp};
use super::filter::WasmFilter;
use super::input::WasmInput;
use super::output::WasmOutput;
use super::params::{self, Declared};
use super::source::{PluginSource, Settings};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use weir_config::{ConfigError, Params};
use weir_core::{
    BuildContext, Factory, Filter, Input, Output, PluginDescriptor, PluginKind, Registry,
};

struct Entry {
    source: Arc<PluginSource>,
    descriptor: &'static PluginDescriptor,
    /// What the descriptor was made from: a version that differs gets a new one.
    made_from: (String, String, Vec<Declared>),
}

fn loaded() -> std::sync::MutexGuard<'static, Vec<Entry>> {
    static LOADED: OnceLock<Mutex<Vec<Entry>>> = OnceLock::new();
    LOADED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn describe_from(c: &Compiled) -> (String, String, Vec<Declared>) {
    (
        c.info.description.clone(),
        c.info.version.clone(),
        c.info.params.clone(),
    )
}

fn leak_descriptor(c: &Compiled) -> &'static PluginDescriptor {
    let kind = c.info.kind;
    let version = if c.info.version.is_empty() {
        String::new()
    } else {
        format!(" {}", c.info.version)
    };
    let description = format!(
        "{} [WebAssembly{version}, {}]",
        if c.info.description.is_empty() {
            "A WebAssembly component plugin."
        } else {
            c.info.description.as_str()
        },
        params::file_name(&c.path)
    );
    Box::leak(Box::new(PluginDescriptor {
        name: params::leak_str(&c.info.name),
        kind,
        description: params::leak_str(&description),
        params: params::leak_table(kind, &c.info.params),
        factory: match kind {
            PluginKind::Input => Factory::Input(make_input),
            PluginKind::Filter => Factory::Filter(make_filter),
            PluginKind::Output => Factory::Output(make_output),
        },
    }))
}

/// Loads component plugin files (from `-e` and plugins files) and returns their descriptors,
/// in order, to add to the registry. Files already loaded are checked for a new version.
pub fn load_plugins(
    paths: &[PathBuf],
    settings: &Settings,
) -> Result<Vec<&'static PluginDescriptor>, String> {
    let mut out: Vec<&'static PluginDescriptor> = Vec::new();
    let mut from: Vec<(PluginKind, String, PathBuf)> = Vec::new();
    for path in paths {
        let path = std::fs::canonicalize(path)
            .map_err(|e| format!("cannot load the plugin {}: {e}", path.display()))?;
        let d = load_one(&path, settings)?;
        if let Some((_, _, other)) = from
            .iter()
            .find(|(k, n, _)| *k == d.kind && n.eq_ignore_ascii_case(d.name))
        {
            if *other == path {
                continue;
            }
            return Err(format!(
                "two plugin files define the {} plugin '{}': {} and {}",
                d.kind.as_str(),
                d.name,
                other.display(),
                path.display()
            ));
        }
        from.push((d.kind, d.name.to_string(), path));
        out.push(d);
    }
    Ok(out)
}

fn load_one(path: &Path, settings: &Settings) -> Result<&'static PluginDescriptor, String> {
    // The same file, unchanged: nothing to do.
    {
        let table = loaded();
        if let Some(e) = table.iter().find(|e| {
            let c = e.source.current();
            c.path == path && c.stamp.is_some() && c.stamp == Stamp::of(path)
        }) {
            e.source.set_settings(settings.clone());
            return Ok(e.descriptor);
        }
    }
    let c = Compiled::load(path, settings.cache_dir.as_deref()).map_err(|e| e.to_string())?;
    let info = &c.info;
    let mut table = loaded();
    if let Some(e) = table
        .iter_mut()
        .find(|e| e.source.kind() == info.kind && e.source.name().eq_ignore_ascii_case(&info.name))
    {
        e.source.set_settings(settings.clone());
        let made_from = describe_from(&c);
        if made_from != e.made_from || e.descriptor.name != c.info.name {
            e.descriptor = leak_descriptor(&c);
            e.made_from = made_from;
        }
        let d = e.descriptor;
        let source = e.source.clone();
        drop(table);
        source.publish(c)?;
        return Ok(d);
    }
    let d = leak_descriptor(&c);
    table.push(Entry {
        made_from: describe_from(&c),
        source: PluginSource::from_compiled(c, settings.clone()),
        descriptor: d,
    });
    Ok(d)
}

/// Adds component plugins to `registry`. A name a built-in plugin of the same kind already
/// has is refused: configurations that name it must keep meaning the built-in.
pub fn add_to_registry(
    registry: &mut Registry,
    descriptors: &[&'static PluginDescriptor],
) -> Result<(), String> {
    for d in descriptors {
        if let Some(existing) = registry.find(d.kind, d.name) {
            if !std::ptr::eq(existing, *d) {
                return Err(format!(
                    "the component plugin '{}' has the name of another {} plugin",
                    d.name,
                    d.kind.as_str()
                ));
            }
            continue;
        }
        registry.register(d);
    }
    Ok(())
}

/// The loaded plugin a section names.
pub fn source_for(kind: PluginKind, p: &Params) -> Result<Arc<PluginSource>, ConfigError> {
    let name = p.str("name").unwrap_or_default();
    loaded()
        .iter()
        .find(|e| e.source.kind() == kind && e.source.name().eq_ignore_ascii_case(name))
        .map(|e| e.source.clone())
        .ok_or_else(|| {
            p.error(
                "name",
                format!("the {} plugin '{name}' is not loaded", kind.as_str()),
            )
        })
}

fn make_filter(p: &Params, ctx: &BuildContext) -> Result<Box<dyn Filter>, ConfigError> {
    Ok(Box::new(WasmFilter::new(
        source_for(PluginKind::Filter, p)?,
        p,
        ctx,
    )?))
}

fn make_input(p: &Params, ctx: &BuildContext) -> Result<Box<dyn Input>, ConfigError> {
    Ok(Box::new(WasmInput::new(
        source_for(PluginKind::Input, p)?,
        p,
        ctx,
    )?))
}

fn make_output(p: &Params, ctx: &BuildContext) -> Result<Box<dyn Output>, ConfigError> {
    Ok(Box::new(WasmOutput::new(
        source_for(PluginKind::Output, p)?,
        p,
        ctx,
    )?))
}
