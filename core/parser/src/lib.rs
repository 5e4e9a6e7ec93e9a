//! Weir's parsers: Fluent Bit's `json`, `regex`, `logfmt` and `ltsv` formats, time formats,
//! field types, decoders and multiline parsing.
//!
//! A [`Parser`] turns one line (or one field value) into a record: an encoded MessagePack map
//! written straight into the caller's buffer, plus the record time when the line has one. Start
//! at [`parser`] for the settings and their defaults, then [`registry`] for how parsers are
//! defined from `[PARSER]` and `[MULTILINE_PARSER]` sections, and [`multiline`] for joining
//! lines.
//!
//! The formats live in their own modules: [`json`] (a one-pass JSON to MessagePack reader),
//! [`regex`] (Ruby-syntax patterns on Rust's regex engine), [`kv`] (logfmt, ltsv); [`timefmt`]
//! is Fluent Bit's strptime dialect, [`types`] the `types` conversions and [`decoder`] the
//! field decoders.
//!
//! ```
//! use weir_parser::{Parser, ParserConfig};
//!
//! let mut cfg = ParserConfig::new("json", "json");
//! cfg.time_key = Some("ts".into());
//! cfg.time_format = Some("%Y-%m-%dT%H:%M:%S.%L%z".into());
//! let parser = Parser::new(&cfg).unwrap();
//!
//! let mut out = Vec::new();
//! let time = parser.parse(br#"{"ts":"2026-01-01T00:00:00.004Z","msg":"hi"}"#, &mut out).unwrap();
//! assert_eq!(time.unwrap().sec, 1_767_225_600);
//! assert_eq!(weir_event::json::to_json_string(&out).unwrap(), r#"{"msg":"hi"}"#);
//! ```

#![forbid(unsafe_code)]

pub mod decoder;
pub mod json;
pub mod kv;
pub mod multiline;
pub mod parser;
pub mod regex;
pub mod registry;
pub mod timefmt;
pub mod types;

pub use multiline::{Multiline, MultilineConfig, MultilineParser};
pub use parser::{BuildError, ParseError, Parser, ParserConfig, TimeLookup};
pub use registry::ParserRegistry;
