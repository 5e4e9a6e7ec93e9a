//! `stdout`: prints records, in Fluent Bit's msgpack print form or as JSON.

use super::format::{write_json_events, write_msgpack_print, Format, JsonDate};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use weir_config::Params;
use weir_core::{
    BoxFuture, Factory, FlushResult, Output, OutputContext, ParamSpec, PluginDescriptor, PluginKind,
};
use weir_event::Chunk;

static PARAMS: &[ParamSpec] = &[
    ParamSpec::str("format")
        .default("msgpack")
        .desc("msgpack (human-readable print), json, json_lines or json_stream."),
    ParamSpec::str("json_date_key")
        .default("date")
        .desc("Key of the time in JSON records; false leaves it out."),
    ParamSpec::str("json_date_format")
        .default("double")
        .desc("Time in JSON records: double, epoch, epoch_ms, iso8601 or java_sql_timestamp."),
];

pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    name: "stdout",
    kind: PluginKind::Output,
    description: "Print records to the standard output.",
    params: PARAMS,
    factory: Factory::Output(|p, _| Ok(Box::new(Stdout::new(p)?))),
};

struct Stdout {
    format: Format,
    date: JsonDate,
    /// Record numbering of the msgpack print, continuing across chunks as Fluent Bit does.
    counter: AtomicU64,
}

impl Stdout {
    fn new(p: &Params) -> Result<Self, weir_config::ConfigError> {
        Ok(Self {
            format: Format::from_params(p, "format")?,
            date: JsonDate::from_params(p)?,
            counter: AtomicU64::new(0),
        })
    }

    fn render(&self, chunk: &Chunk) -> String {
        let mut out = String::with_capacity(chunk.size() * 2);
        match self.format {
            Format::Msgpack => {
                let mut n = self
                    .counter
                    .fetch_add(chunk.records as u64, Ordering::Relaxed);
                write_msgpack_print(&chunk.tag, &chunk.data, &mut n, &mut out);
            }
            f => write_json_events(f, &chunk.data, &self.date, &mut out),
        }
        out
    }
}

impl Output for Stdout {
    fn flush<'a>(
        &'a self,
        chunk: &'a Chunk,
        _ctx: &'a OutputContext,
    ) -> BoxFuture<'a, FlushResult> {
        Box::pin(async move {
            let text = self.render(chunk);
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => FlushResult::Ok,
                // A closed pipe will not reopen: retrying would only repeat the failure.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => FlushResult::Error,
                Err(_) => FlushResult::Retry,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn rejects_unknown_format() {
        let err = testing::output(&DESCRIPTOR, &[("format", "xml")])
            .err()
            .expect("error");
        assert!(err.to_string().contains("json_lines"), "{err}");
    }
}
