//! `tail`: follows text files and makes a record of each line, like `tail -f`, with Fluent
//! Bit's parameters and behaviour.
//!
//! How the parts fit:
//! - [`config`]: the parameter table and the validated settings;
//! - [`scan`] and [`glob`]: which files `path` names (`exclude_path`, `ignore_older`);
//! - [`file`]: one followed file: reading blocks, offsets; [`lines`] cuts bytes into lines
//!   and [`record`] encodes them; [`tag`] computes each file's tag;
//! - [`watch`]: inotify or polling; [`rotation`]: renamed, deleted or truncated files;
//! - [`db`]: offsets that survive restarts, keyed by device and inode;
//! - [`tailer`]: the loop that ties them together; [`sink`]: what it needs from the engine;
//! - `file_cache_advise` is in [`advise`].
//!
//! Records are `{"log": line}` (`key` renames `log`), or what `parser` makes of the line; a
//! line the parser rejects is kept as text. `multiline.parser` joins lines into messages. `*`
//! in the tag is replaced by the file's path with `/` turned into `.`.
//!
//! Where Weir differs from Fluent Bit, on purpose:
//! - reads are at least 256 KiB when data is waiting (fewer system calls, bigger batches);
//! - with `exit_on_eof`, Weir stops once every followed file is at its end (Fluent Bit stops
//!   at the first), and a last line without a newline is read too; a rotated file closed after
//!   `rotate_wait` also gives its last line and its pending multiline message;
//! - a stored offset is where the next unread line starts, so a partial line is read whole
//!   after a restart; files replacing rotated ones are followed at once;
//! - a rotated file closed after `rotate_wait` keeps its stored offset while it exists, so a
//!   pattern that also matches rotated names does not read it a second time.

pub mod advise;
pub mod config;
pub mod db;
pub mod file;
pub mod glob;
pub mod lines;
pub mod record;
pub mod rotation;
pub mod scan;
pub mod sink;
pub mod tag;
pub mod tailer;
pub mod watch;

use std::sync::Arc;
use weir_config::{ConfigError, Params};
use weir_core::{
    BoxFuture, BuildContext, Factory, Input, InputContext, PluginDescriptor, PluginKind,
};

pub use config::{TailConfig, PARAMS};

pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    name: "tail",
    kind: PluginKind::Input,
    description: "Read lines from files as they grow, following rotation.",
    params: PARAMS,
    factory: Factory::Input(build),
};

fn build(p: &Params, ctx: &BuildContext) -> Result<Box<dyn Input>, ConfigError> {
    Ok(Box::new(Tail {
        cfg: Arc::new(TailConfig::from_params(p, ctx)?),
    }))
}

/// A configured tail input.
pub struct Tail {
    cfg: Arc<TailConfig>,
}

impl Input for Tail {
    fn run(self: Box<Self>, mut ctx: InputContext) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async move { tailer::run(self.cfg, &mut ctx).await })
    }
}

#[cfg(test)]
mod tests;
