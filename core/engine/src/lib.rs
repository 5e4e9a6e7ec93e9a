//! Weir's engine.
//!
//! The pipeline is input → parser → filters → chunk → router → output queue → output, as in
//! Fluent Bit. Start reading at [`plugin`] (the three traits and the descriptor every plugin
//! provides), then [`pipeline`] (configuration to validated pipeline, every error up front),
//! then [`engine`] (running it and stopping gracefully). The ingest path, where filters run
//! and chunks fill, is [`ingest`]; delivery and retries are in [`output`] and [`scheduler`].
//!
//! Logging macros (`info!`, `warn!`...) write Fluent Bit-shaped lines; see [`log`].

#![forbid(unsafe_code)]

pub(crate) mod budget;
pub mod cgroup;
pub mod context;
pub mod engine;
pub mod http;
pub(crate) mod ingest;
pub mod log;
pub mod metrics;
pub mod metrics_export;
pub(crate) mod output;
pub(crate) mod pending;
pub mod pipeline;
pub mod plugin;
pub mod reload;
pub mod router;
pub(crate) mod running;
pub mod scheduler;
pub mod service;
pub(crate) mod storage;

pub use context::{BuildContext, Emitter, FilterContext, InputContext, OutputContext};
pub use engine::{run, run_with, Rebuild, RunOptions, RunReport, StartError, StopReason};
pub use pipeline::{build, BuildOptions, Pipeline};
pub use plugin::{
    Batch, BoxFuture, Factory, Filter, FilterOutcome, FlushResult, Input, Output, PluginDescriptor,
    PluginKind, Registry,
};
pub use service::ServiceConfig;

/// Re-exported so plugins name one crate for their parameter tables.
pub use weir_config::{ConfigError, ParamSpec, ParamType, Params};
pub use weir_event as event;
