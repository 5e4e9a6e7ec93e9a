//! Record formats shared by the stdout and file outputs (and the stdout filter).
//!
//! Two families, as in Fluent Bit:
//! - the "msgpack" print, `[0] tag: [[1700000000.000000000, {}], {"k"=>"v"}]`
//!   ([`weir_event::print`]);
//! - JSON (`json`: an array per chunk, `json_lines`: one object per line, `json_stream`:
//!   objects back to back), with the event time added under `json_date_key`.

use std::fmt::Write as _;
use weir_config::{ConfigError, Params};
use weir_event::json::{write_float, write_json, write_json_str};
use weir_event::view::MapIter;
use weir_event::{EventTime, Events};

/// How records are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Msgpack,
    Json,
    JsonLines,
    JsonStream,
}

impl Format {
    /// Reads the `format` parameter.
    pub fn from_params(p: &Params, key: &str) -> Result<Self, ConfigError> {
        let v = p.str(key).unwrap_or("msgpack");
        match v.to_ascii_lowercase().as_str() {
            "msgpack" => Ok(Format::Msgpack),
            "json" => Ok(Format::Json),
            "json_lines" => Ok(Format::JsonLines),
            "json_stream" => Ok(Format::JsonStream),
            _ => Err(p.error(
                key,
                format!("expected msgpack, json, json_lines or json_stream; got '{v}'"),
            )),
        }
    }
}

/// How the event time is written into JSON records (`json_date_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFormat {
    /// Seconds as a float: `1700000000.123456`.
    Double,
    /// Whole seconds.
    Epoch,
    /// Whole milliseconds.
    EpochMs,
    /// `2018-05-30T09:39:52.000681Z`.
    Iso8601,
    /// `2018-05-30 09:39:52.000681`.
    JavaSqlTimestamp,
}

/// Where and how JSON records carry their time.
#[derive(Debug, Clone)]
pub struct JsonDate {
    /// `None` when `json_date_key` is `false`.
    pub key: Option<String>,
    pub format: DateFormat,
}

impl JsonDate {
    /// Reads `json_date_key` and `json_date_format`.
    pub fn from_params(p: &Params) -> Result<Self, ConfigError> {
        let key = p.str("json_date_key").unwrap_or("date");
        let key = match weir_config::parse_bool(key) {
            Some(false) => None,
            _ => Some(key.to_string()),
        };
        let f = p.str("json_date_format").unwrap_or("double");
        let format = match f.to_ascii_lowercase().as_str() {
            "double" => DateFormat::Double,
            "epoch" => DateFormat::Epoch,
            "epoch_ms" => DateFormat::EpochMs,
            "iso8601" => DateFormat::Iso8601,
            "java_sql_timestamp" => DateFormat::JavaSqlTimestamp,
            _ => {
                return Err(p.error(
                    "json_date_format",
                    format!(
                    "expected double, epoch, epoch_ms, iso8601 or java_sql_timestamp; got '{f}'"
                ),
                ))
            }
        };
        Ok(Self { key, format })
    }

    fn write(&self, t: EventTime, out: &mut String) {
        match self.format {
            DateFormat::Double => {
                let _ = write!(out, "{}.{:06}", t.sec, t.nsec / 1000);
            }
            DateFormat::Epoch => {
                let _ = write!(out, "{}", t.sec);
            }
            DateFormat::EpochMs => {
                let _ = write!(out, "{}", t.sec * 1000 + i64::from(t.nsec / 1_000_000));
            }
            DateFormat::Iso8601 | DateFormat::JavaSqlTimestamp => {
                let dt = chrono::DateTime::from_timestamp(t.sec, t.nsec).unwrap_or_default();
                let s = if self.format == DateFormat::Iso8601 {
                    dt.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
                } else {
                    dt.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
                };
                write_json_str(&s, out);
            }
        }
    }
}

/// Appends a chunk's events in Fluent Bit's msgpack print form, numbering from `*counter`
/// (the stdout output numbers across chunks, as Fluent Bit does).
pub fn write_msgpack_print(tag: &str, data: &[u8], counter: &mut u64, out: &mut String) {
    for ev in Events::new(data) {
        let Ok(ev) = ev else { break };
        weir_event::print::write_event_line(*counter, tag, &ev, out);
        *counter += 1;
    }
}

pub use weir_event::print::print_value;

/// Appends one record as a JSON object, with the date key first when configured.
pub fn write_json_record(time: EventTime, body: &[u8], date: &JsonDate, out: &mut String) {
    let Some(key) = &date.key else {
        let _ = write_json(body, out);
        return;
    };
    out.push('{');
    write_json_str(key, out);
    out.push(':');
    date.write(time, out);
    if let Ok(it) = MapIter::new(body) {
        for entry in it {
            let Ok(entry) = entry else { break };
            out.push(',');
            match entry.key_str() {
                Some(k) => write_json_str(k, out),
                None => {
                    let mut k = String::new();
                    let _ = write_json(entry.key, &mut k);
                    write_json_str(&k, out);
                }
            }
            out.push(':');
            let _ = write_json(entry.value, out);
        }
    }
    out.push('}');
}

/// Appends a chunk's events as JSON in the given format (not `Msgpack`).
pub fn write_json_events(format: Format, data: &[u8], date: &JsonDate, out: &mut String) {
    if format == Format::Json {
        out.push('[');
    }
    let mut first = true;
    for ev in Events::new(data) {
        let Ok(ev) = ev else { break };
        if format == Format::Json && !first {
            out.push(',');
        }
        first = false;
        write_json_record(ev.time, ev.body, date, out);
        if format == Format::JsonLines {
            out.push('\n');
        }
    }
    if format == Format::Json {
        out.push_str("]\n");
    }
}

/// Seconds with nanoseconds, `1700000000.000000001`, for the file output's forms.
pub fn write_time_nanos(t: EventTime, out: &mut String) {
    let _ = write!(out, "{}.{:09}", t.sec, t.nsec);
}

/// Seconds as `%f` (six decimals), as Fluent Bit's csv and ltsv forms print them.
pub fn write_time_f(t: EventTime, out: &mut String) {
    let _ = write!(out, "{}.{:06}", t.sec, t.nsec / 1000);
}

/// A float the JSON way, re-exported for outputs.
pub fn float(v: f64, out: &mut String) {
    write_float(v, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(body: &str) -> Vec<u8> {
        crate::testing::events(&[body], EventTime::new(1_700_000_000, 5_000)).buf
    }

    #[test]
    fn msgpack_print_matches_fluent_bit() {
        let mut out = String::new();
        let mut n = 0;
        write_msgpack_print(
            "dummy.0",
            &one(r#"{"message":"dummy","n":1,"f":0.5,"ok":true,"x":null,"a":[1,"b"]}"#),
            &mut n,
            &mut out,
        );
        assert_eq!(
            out,
            "[0] dummy.0: [[1700000000.000005000, {}], {\"message\"=>\"dummy\", \"n\"=>1, \"f\"=>0.500000, \"ok\"=>true, \"x\"=>nil, \"a\"=>[1, \"b\"]}]\n"
        );
        assert_eq!(n, 1);
    }

    #[test]
    fn json_lines_with_dates() {
        let data = one(r#"{"k":"v"}"#);
        for (fmt, expect) in [
            (DateFormat::Double, r#"{"date":1700000000.000005,"k":"v"}"#),
            (DateFormat::Epoch, r#"{"date":1700000000,"k":"v"}"#),
            (DateFormat::EpochMs, r#"{"date":1700000000000,"k":"v"}"#),
            (
                DateFormat::Iso8601,
                r#"{"date":"2023-11-14T22:13:20.000005Z","k":"v"}"#,
            ),
            (
                DateFormat::JavaSqlTimestamp,
                r#"{"date":"2023-11-14 22:13:20.000005","k":"v"}"#,
            ),
        ] {
            let mut out = String::new();
            write_json_events(
                Format::JsonLines,
                &data,
                &JsonDate {
                    key: Some("date".into()),
                    format: fmt,
                },
                &mut out,
            );
            assert_eq!(out, format!("{expect}\n"));
        }
        let mut out = String::new();
        write_json_events(
            Format::Json,
            &data,
            &JsonDate {
                key: None,
                format: DateFormat::Double,
            },
            &mut out,
        );
        assert_eq!(out, "[{\"k\":\"v\"}]\n");
    }
}
