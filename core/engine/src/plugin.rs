//! The plugin model: one descriptor per plugin, three kinds behind three small traits.
//!
//! A plugin is a value, [`PluginDescriptor`]: its name, kind, description, parameter table and
//! a factory. The table ([`ParamSpec`]) is the only place a parameter is described: it drives
//! validation (an unknown key is an error that suggests the nearest known key), defaults,
//! `weir -i NAME -h` and `weir plugins --json`. The engine never knows which runtime (native,
//! WebAssembly, Lua) runs a plugin: it only sees these traits.

use crate::context::{BuildContext, FilterContext, InputContext, OutputContext};
use std::future::Future;
use std::pin::Pin;
use weir_config::{ConfigError, ParamSpec, Params};
use weir_event::{Chunk, EventWriter};

/// A boxed future, as plugin traits return (they are used as trait objects).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What kind of plugin a descriptor describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginKind {
    Input,
    Filter,
    Output,
}

impl PluginKind {
    /// The word used in messages and metrics (`input`, `filter`, `output`).
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Input => "input",
            PluginKind::Filter => "filter",
            PluginKind::Output => "output",
        }
    }
}

/// Builds a plugin instance of type `T` from its validated parameters.
pub type MakeFn<T> = fn(&Params, &BuildContext) -> Result<Box<T>, ConfigError>;

/// Builds a plugin instance from its validated parameters.
pub enum Factory {
    Input(MakeFn<dyn Input>),
    Filter(MakeFn<dyn Filter>),
    Output(MakeFn<dyn Output>),
}

/// Everything the engine knows about a plugin before it is configured.
pub struct PluginDescriptor {
    /// Fluent Bit's name for the plugin (`tail`, `grep`, `stdout`...).
    pub name: &'static str,
    pub kind: PluginKind,
    pub description: &'static str,
    /// The plugin's own parameters. The keys every plugin of a kind takes (`tag`, `match`,
    /// `retry_limit`...) live in [`crate::common_params`] and are added by the engine.
    pub params: &'static [ParamSpec],
    pub factory: Factory,
}

impl std::fmt::Debug for PluginDescriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginDescriptor")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish()
    }
}

/// An input: produces events until told to stop.
///
/// `run` owns the input for its whole life. It emits batches through
/// [`InputContext::emit`], which runs the filters and appends to chunks, and returns when
/// [`InputContext::cancelled`] fires (or when it has nothing more to produce).
pub trait Input: Send {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxFuture<'static, Result<(), String>>;
}

/// What a filter did to a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOutcome {
    /// The batch passes on unchanged (its bytes are reused as they are).
    Unchanged,
    /// The events written to `out` replace the batch (possibly none: all dropped).
    Modified,
}

/// A batch of encoded events handed to a filter.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    pub tag: &'a str,
    pub data: &'a [u8],
    pub records: usize,
}

/// A filter: runs on the ingest path, before buffering, once per batch.
///
/// Filters are shared by every input whose tag they match, possibly from several threads, so
/// they take `&self`; a filter that keeps state guards it itself.
pub trait Filter: Send + Sync {
    fn filter(
        &self,
        batch: Batch<'_>,
        out: &mut EventWriter,
        ctx: &FilterContext<'_>,
    ) -> FilterOutcome;
}

/// An output's answer to one flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushResult {
    /// Delivered: the chunk is done for this output.
    Ok,
    /// Not delivered but may succeed later: the engine schedules a retry with backoff.
    Retry,
    /// Will never succeed: the chunk is dropped for this output and counted.
    Error,
}

/// An output: delivers chunks. The engine owns retries; an output never sleeps or loops on
/// failure, it answers [`FlushResult::Retry`].
pub trait Output: Send + Sync {
    fn flush<'a>(&'a self, chunk: &'a Chunk, ctx: &'a OutputContext) -> BoxFuture<'a, FlushResult>;

    /// Called once when the engine stops, after the last flush.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// What a factory returns instead of a running instance when the build only checks the
/// configuration (`--dry-run`): an output that listens must not take its port from the Weir
/// that runs the same configuration. It is never flushed; if it were, it would refuse.
pub struct CheckedOnly;

impl Output for CheckedOnly {
    fn flush<'a>(&'a self, _: &'a Chunk, _: &'a OutputContext) -> BoxFuture<'a, FlushResult> {
        Box::pin(async { FlushResult::Error })
    }
}

/// The set of plugins this build of Weir knows.
#[derive(Default)]
pub struct Registry {
    plugins: Vec<&'static PluginDescriptor>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&mut self, d: &'static PluginDescriptor) {
        self.plugins.push(d);
    }

    /// Finds a plugin by kind and name (case-insensitive, as Fluent Bit).
    pub fn find(&self, kind: PluginKind, name: &str) -> Option<&'static PluginDescriptor> {
        self.plugins
            .iter()
            .copied()
            .find(|d| d.kind == kind && d.name.eq_ignore_ascii_case(name))
    }

    /// Plugins of one kind, sorted by name.
    pub fn of_kind(&self, kind: PluginKind) -> Vec<&'static PluginDescriptor> {
        let mut v: Vec<_> = self
            .plugins
            .iter()
            .copied()
            .filter(|d| d.kind == kind)
            .collect();
        v.sort_by_key(|d| d.name);
        v
    }

    /// Every plugin, inputs then filters then outputs, each sorted by name.
    pub fn all(&self) -> Vec<&'static PluginDescriptor> {
        [PluginKind::Input, PluginKind::Filter, PluginKind::Output]
            .into_iter()
            .flat_map(|k| self.of_kind(k))
            .collect()
    }

    /// Names of one kind, for "did you mean" suggestions.
    pub fn names(&self, kind: PluginKind) -> Vec<&'static str> {
        self.of_kind(kind).into_iter().map(|d| d.name).collect()
    }
}
