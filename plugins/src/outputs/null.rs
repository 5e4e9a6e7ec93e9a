//! `null`: accepts every chunk and discards it. Useful for benchmarks and for dropping a tag.

use weir_core::{
    BoxFuture, Factory, FlushResult, Output, OutputContext, ParamSpec, PluginDescriptor, PluginKind,
};
use weir_event::Chunk;

static PARAMS: &[ParamSpec] = &[
    ParamSpec::str("format").desc("Accepted for compatibility; nothing is written."),
    ParamSpec::str("json_date_key").desc("Accepted for compatibility; nothing is written."),
    ParamSpec::str("json_date_format").desc("Accepted for compatibility; nothing is written."),
];

pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    name: "null",
    kind: PluginKind::Output,
    description: "Throw records away.",
    params: PARAMS,
    factory: Factory::Output(|_, _| Ok(Box::new(Null))),
};

struct Null;

impl Output for Null {
    fn flush<'a>(
        &'a self,
        _chunk: &'a Chunk,
        _ctx: &'a OutputContext,
    ) -> BoxFuture<'a, FlushResult> {
        Box::pin(async { FlushResult::Ok })
    }
}
