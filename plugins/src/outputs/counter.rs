//! `counter`: prints how many records each flush carried and the running total.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use weir_core::{
    BoxFuture, Factory, FlushResult, Output, OutputContext, ParamSpec, PluginDescriptor, PluginKind,
};
use weir_event::{Chunk, EventTime};

pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    name: "counter",
    kind: PluginKind::Output,
    description: "Print how many records each flush carried, and the total.",
    params: &[] as &[ParamSpec],
    factory: Factory::Output(|_, _| {
        Ok(Box::new(Counter {
            total: AtomicU64::new(0),
        }))
    }),
};

struct Counter {
    total: AtomicU64,
}

impl Output for Counter {
    fn flush<'a>(
        &'a self,
        chunk: &'a Chunk,
        _ctx: &'a OutputContext,
    ) -> BoxFuture<'a, FlushResult> {
        Box::pin(async move {
            let n = chunk.records as u64;
            let total = self.total.fetch_add(n, Ordering::Relaxed) + n;
            let now = EventTime::now();
            // Fluent Bit's line: `<time as %f>,<records> (total = <total>)`.
            let line = format!(
                "{}.{:06},{} (total = {})\n",
                now.sec,
                now.nsec / 1000,
                n,
                total
            );
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
            FlushResult::Ok
        })
    }
}
