//! A Weir output written with the Rust SDK: appends each record as a line of JSON,
//! `{"time_ns":...,"metadata":{...},"record":{...}}`, to `<path>/<file>`.
//!
//! It opens files with `std::fs`, so it is built for WASI (its `Cargo.toml` asks for it), and
//! Weir must grant it the directory: `wasm.allow_dirs /var/log/weir:rw` with
//! `path /var/log/weir`. Without the grant, opening the file fails and the output asks Weir
//! to retry later.
//!
//! Build: `scripts/build-rust-guest.sh plugin-sdk/examples/rust-output`.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use weir_plugin_sdk::{self as weir, Batch, Error, FlushError, Info, Output, Param, Plugin};

pub struct JsonFile {
    dir: PathBuf,
    file: Option<String>,
}

impl Plugin for JsonFile {
    const INFO: Info = Info::new("rust_output")
        .version(env!("CARGO_PKG_VERSION"))
        .description("Appends records as JSON lines to a file")
        .params(&[
            Param::string("path")
                .required()
                .description("Directory of the file (granted with wasm.allow_dirs DIR:rw)"),
            Param::string("file").description("File name; the tag of the records when unset"),
        ]);

    fn init() -> Result<Self, Error> {
        Ok(Self {
            dir: PathBuf::from(weir::config::require("path")?),
            file: weir::config::get("file").filter(|f| !f.is_empty()),
        })
    }
}

impl Output for JsonFile {
    fn flush(&mut self, batch: &Batch<'_>) -> Result<(), FlushError> {
        // The whole batch is rendered before the file is touched: a malformed batch writes
        // nothing, and the lines reach the file in one write.
        let mut text = String::with_capacity(batch.bytes().len() * 2);
        let mut n = 0;
        for event in batch.events() {
            weir::json::write_event(&event?, &mut text)?;
            text.push('\n');
            n += 1;
        }
        let name = self.file.as_deref().unwrap_or(batch.tag());
        if name.is_empty() || name.contains('/') || name == ".." {
            return Err(FlushError::fatal(format!("'{name}' cannot be a file name")));
        }
        let path = self.dir.join(name);
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| FlushError::retry(format!("{}: {e}", path.display())))?;
        f.write_all(text.as_bytes())
            .map_err(|e| FlushError::retry(format!("{}: {e}", path.display())))?;
        weir::metrics::counter_add("records_written", n);
        Ok(())
    }
}

weir_plugin_sdk::output!(JsonFile);

#[cfg(test)]
mod tests {
    use super::*;
    use weir_plugin_sdk::{testing, EventTime, EventWriter};

    fn temp_dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("weir-rust-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn appends_json_lines_named_after_the_tag() {
        let dir = temp_dir("tag");
        testing::reset();
        testing::set_config("path", dir.to_str().unwrap());
        let mut w = EventWriter::new();
        w.event(EventTime::new(1, 5))
            .field("msg", "a \"quoted\" line")
            .finish();
        w.event(EventTime::new(2, 0))
            .meta("m", true)
            .field("n", 2.5)
            .finish();
        testing::run_output::<JsonFile>("app.log", &w).unwrap();
        testing::run_output::<JsonFile>("app.log", &w).unwrap();
        let text = std::fs::read_to_string(dir.join("app.log")).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[0],
            r#"{"time_ns":1000000005,"metadata":{},"record":{"msg":"a \"quoted\" line"}}"#
        );
        assert_eq!(
            lines[1],
            r#"{"time_ns":2000000000,"metadata":{"m":true},"record":{"n":2.5}}"#
        );
        assert_eq!(testing::counter("records_written"), 4);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_directory_asks_for_a_retry_and_bad_data_does_not() {
        testing::reset();
        testing::set_config("path", "/nonexistent/weir-test");
        testing::set_config("file", "out.jsonl");
        let mut w = EventWriter::new();
        w.event(EventTime::new(1, 0)).field("a", 1).finish();
        assert!(matches!(
            testing::run_output::<JsonFile>("t", &w),
            Err(FlushError::Retry(_))
        ));

        let dir = temp_dir("bad");
        testing::set_config("path", dir.to_str().unwrap());
        let mut o = testing::init::<JsonFile>().unwrap();
        let bad = [0x92, 0x92, 0x01];
        assert!(matches!(
            o.flush(&Batch::new("t", &bad, 1)),
            Err(FlushError::Fatal(_))
        ));
        assert!(!dir.join("out.jsonl").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_path_is_required() {
        testing::reset();
        assert!(testing::init::<JsonFile>().is_err());
    }
}
