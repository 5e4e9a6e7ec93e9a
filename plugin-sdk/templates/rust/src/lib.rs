//! {{name}}: a Weir filter plugin.
//!
//! Adds `"lang": "rust"` to every record and drops the records whose `level` is `"debug"`,
//! counting the drops in the metric `dropped_records`. Change `filter` to do what you need.

use weir_plugin_sdk::{self as weir, Batch, Batches, Error, Filter, Info, Param, Plugin};

pub struct {{type_name}} {
    lang: String,
}

impl Plugin for {{type_name}} {
    const INFO: Info = Info::new("{{ident}}")
        .version(env!("CARGO_PKG_VERSION"))
        .description("Adds lang=rust to every record and drops debug records")
        .params(&[Param::string("lang")
            .default("rust")
            .description("Value of the lang field")]);

    fn init() -> Result<Self, Error> {
        weir::info!("{{ident}} starting");
        Ok(Self {
            lang: weir::config::require("lang")?,
        })
    }
}

impl Filter for {{type_name}} {
    fn filter(&mut self, batch: &Batch<'_>, out: &mut Batches) -> Result<(), Error> {
        let mut dropped = 0;
        for event in batch.events() {
            let event = event?;
            if event.get_str("level") == Some("debug") {
                dropped += 1;
                continue;
            }
            out.writer()
                .edit(&event)
                .set("lang", self.lang.as_str())
                .finish()?;
        }
        if dropped > 0 {
            weir::metrics::counter_add("dropped_records", dropped);
        }
        Ok(())
    }
}

weir_plugin_sdk::filter!({{type_name}});

#[cfg(test)]
mod tests {
    use super::*;
    use weir_plugin_sdk::{testing, EventTime, EventWriter};

    #[test]
    fn adds_lang_and_drops_debug_records() {
        let mut input = EventWriter::new();
        input.event(EventTime::new(1, 0)).field("level", "debug").finish();
        input.event(EventTime::new(2, 0)).field("level", "info").finish();
        let out = testing::run_filter::<{{type_name}}>("app", &input).unwrap();
        let events = testing::events(&out[0].1);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].get_str("lang"), Some("rust"));
        assert_eq!(testing::counter("dropped_records"), 1);
    }
}
