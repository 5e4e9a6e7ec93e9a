//! `stdout` filter: print every record to standard output and pass the batch on unchanged.
//!
//! Lines look like Fluent Bit's, which prints records with msgpack-c's object printer:
//!
//! ```text
//! [0] dummy.data: [[1750323528.603308000, {}], {"INT"=>"100", "ok"=>true, "n"=>nil}]
//! ```
//!
//! The number counts records within one batch, from 0. The rendering is
//! [`weir_event::print`], shared with the stdout output.

use std::io::Write as _;
use weir_config::{ConfigError, ParamSpec, Params};
use weir_core::{
    Batch, BuildContext, Factory, Filter, FilterContext, FilterOutcome, PluginDescriptor,
    PluginKind,
};
use weir_event::{EventWriter, Events};

/// The `stdout` filter takes no parameters of its own.
pub static PARAMS: &[ParamSpec] = &[];

pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    name: "stdout",
    kind: PluginKind::Filter,
    description: "Print records to the standard output and pass them on.",
    params: PARAMS,
    factory: Factory::Filter(build),
};

/// The built filter.
#[derive(Debug, Default)]
pub struct StdoutFilter;

fn build(_p: &Params, _ctx: &BuildContext) -> Result<Box<dyn Filter>, ConfigError> {
    Ok(Box::new(StdoutFilter))
}

impl Filter for StdoutFilter {
    fn filter(
        &self,
        batch: Batch<'_>,
        _out: &mut EventWriter,
        _ctx: &FilterContext<'_>,
    ) -> FilterOutcome {
        let text = format_batch(batch.tag, batch.data);
        // A closed stdout must not stop the pipeline: printing is this filter's only effect.
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
        FilterOutcome::Unchanged
    }
}

/// The text printed for a batch: one line per event, stopping at a malformed event.
pub fn format_batch(tag: &str, data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len() * 2);
    for (i, ev) in Events::new(data).enumerate() {
        let Ok(ev) = ev else { break };
        weir_event::print::write_event_line(i as u64, tag, &ev, &mut s);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{events, filter, run_filter};
    use weir_event::EventTime;

    #[test]
    fn prints_like_fluent_bit() {
        let batch = events(
            &[
                r#"{"INT":"100","ok":true,"n":null,"f":0.5,"neg":-3,"arr":[1,"x"],"m":{"k":{}}}"#,
                "{}",
            ],
            EventTime::new(1_750_323_528, 603_308_000),
        );
        assert_eq!(
            format_batch("dummy.data", &batch.buf),
            "[0] dummy.data: [[1750323528.603308000, {}], {\"INT\"=>\"100\", \"ok\"=>true, \"n\"=>nil, \"f\"=>0.500000, \"neg\"=>-3, \"arr\"=>[1, \"x\"], \"m\"=>{\"k\"=>{}}}]\n\
             [1] dummy.data: [[1750323528.603308000, {}], {}]\n"
        );
    }

    #[test]
    fn passes_batches_unchanged() {
        let f = filter(&DESCRIPTOR, &[]).unwrap();
        assert_eq!(
            run_filter(&*f, "t", &[r#"{"a":1}"#]).0,
            FilterOutcome::Unchanged
        );
        assert!(filter(&DESCRIPTOR, &[("format", "json")]).is_err());
    }
}
