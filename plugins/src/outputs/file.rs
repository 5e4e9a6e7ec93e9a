//! `file`: appends records to a file named after the tag (or `file`), under `path`.
//!
//! Formats as Fluent Bit's out_file: `out_file` (`tag: [time, {json}]`), `plain` (JSON of the
//! record), `csv`, `ltsv` and `template` (`{key}` placeholders, `{time}` for the time).

use super::format::{print_value, write_time_f, write_time_nanos};
use std::io::Write;
use std::path::PathBuf;
use weir_config::{ConfigError, Params};
use weir_core::{
    BoxFuture, Factory, FlushResult, Output, OutputContext, ParamSpec, PluginDescriptor, PluginKind,
};
use weir_event::view::{read_scalar, read_str, MapIter, Scalar};
use weir_event::{Chunk, Events};

static PARAMS: &[ParamSpec] = &[
    ParamSpec::str("path").desc("Directory of the output file (default: the working directory)."),
    ParamSpec::str("file").desc("File name (default: the record's tag)."),
    ParamSpec::str("format").default("out_file").desc("out_file, plain, csv, ltsv or template."),
    ParamSpec::bool("mkdir").default("false").desc("Create the directory (mode 0755) if it does not exist."),
    ParamSpec::str("delimiter").desc("Separator of csv fields (default ',') or ltsv pairs (default tab): a character, 'tab', 'space' or 'comma'."),
    ParamSpec::str("label_delimiter").default(":").desc("Separator of an ltsv label and its value."),
    ParamSpec::bool("csv_column_names").default("false").desc("Write the keys as a first csv line."),
    ParamSpec::str("template").default("{time} {message}").desc("The template format: {key} is replaced by the record's value, {time} by the time."),
];

pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    name: "file",
    kind: PluginKind::Output,
    description: "Append records to files, one per tag or a named one.",
    params: PARAMS,
    factory: Factory::Output(|p, ctx| Ok(Box::new(FileOut::new(p, ctx)?))),
};

#[derive(Debug, Clone, PartialEq)]
enum FileFormat {
    OutFile,
    Plain,
    Csv {
        delimiter: String,
        column_names: bool,
    },
    Ltsv {
        delimiter: String,
        label_delimiter: String,
    },
    Template(Vec<Piece>),
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Time,
    Key(String),
}

struct FileOut {
    dir: Option<PathBuf>,
    file: Option<String>,
    mkdir: bool,
    format: FileFormat,
}

/// Fluent Bit's delimiter names.
fn delimiter(p: &Params, default: &str) -> String {
    match p.str("delimiter") {
        None => default.to_string(),
        Some(d) => match d.to_ascii_lowercase().as_str() {
            "\\t" | "tab" => "\t".into(),
            "space" => " ".into(),
            "comma" => ",".into(),
            _ => d.to_string(),
        },
    }
}

fn parse_template(t: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        match rest[open..].find('}') {
            Some(close) => {
                if open > 0 {
                    pieces.push(Piece::Text(rest[..open].to_string()));
                }
                let key = &rest[open + 1..open + close];
                pieces.push(if key == "time" {
                    Piece::Time
                } else {
                    Piece::Key(key.to_string())
                });
                rest = &rest[open + close + 1..];
            }
            None => break,
        }
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    pieces
}

impl FileOut {
    fn new(p: &Params, ctx: &weir_core::BuildContext) -> Result<Self, ConfigError> {
        let fmt = p.str("format").unwrap_or("out_file");
        let format = match fmt.to_ascii_lowercase().as_str() {
            "out_file" => FileFormat::OutFile,
            "plain" => FileFormat::Plain,
            "csv" => FileFormat::Csv {
                delimiter: delimiter(p, ","),
                column_names: p.bool("csv_column_names").unwrap_or(false),
            },
            "ltsv" => FileFormat::Ltsv {
                delimiter: delimiter(p, "\t"),
                label_delimiter: p.str("label_delimiter").unwrap_or(":").to_string(),
            },
            "template" => FileFormat::Template(parse_template(
                p.str("template").unwrap_or("{time} {message}"),
            )),
            _ => {
                return Err(p.error(
                    "format",
                    format!("expected out_file, plain, csv, ltsv or template; got '{fmt}'"),
                ))
            }
        };
        Ok(Self {
            dir: p
                .str("path")
                .filter(|s| !s.is_empty())
                .map(|s| ctx.resolve_path(s)),
            file: p.str("file").filter(|s| !s.is_empty()).map(str::to_string),
            mkdir: p.bool("mkdir").unwrap_or(false),
            format,
        })
    }

    fn target(&self, tag: &str) -> PathBuf {
        let name = self.file.as_deref().unwrap_or(tag);
        match &self.dir {
            Some(d) => d.join(name),
            None => PathBuf::from(name),
        }
    }

    fn render(&self, chunk: &Chunk, new_file: bool) -> String {
        let mut out = String::with_capacity(chunk.size() * 2);
        for ev in Events::new(&chunk.data) {
            let Ok(ev) = ev else { break };
            match &self.format {
                FileFormat::OutFile => {
                    out.push_str(&chunk.tag);
                    out.push_str(": [");
                    write_time_nanos(ev.time, &mut out);
                    out.push_str(", ");
                    let _ = weir_event::json::write_json(ev.body, &mut out);
                    out.push_str("]\n");
                }
                FileFormat::Plain => {
                    let _ = weir_event::json::write_json(ev.body, &mut out);
                    out.push('\n');
                }
                FileFormat::Csv {
                    delimiter,
                    column_names,
                } => {
                    if *column_names && new_file && out.is_empty() {
                        out.push_str("timestamp");
                        for e in MapIter::new(ev.body).into_iter().flatten().flatten() {
                            out.push_str(delimiter);
                            out.push_str(e.key_str().unwrap_or(""));
                        }
                        out.push('\n');
                    }
                    write_time_f(ev.time, &mut out);
                    for e in MapIter::new(ev.body).into_iter().flatten().flatten() {
                        out.push_str(delimiter);
                        print_value(e.value, &mut out);
                    }
                    out.push('\n');
                }
                FileFormat::Ltsv {
                    delimiter,
                    label_delimiter,
                } => {
                    out.push_str("\"time\"");
                    out.push_str(label_delimiter);
                    write_time_f(ev.time, &mut out);
                    for e in MapIter::new(ev.body).into_iter().flatten().flatten() {
                        out.push_str(delimiter);
                        print_value(e.key, &mut out);
                        out.push_str(label_delimiter);
                        print_value(e.value, &mut out);
                    }
                    out.push('\n');
                }
                FileFormat::Template(pieces) => {
                    for piece in pieces {
                        match piece {
                            Piece::Text(t) => out.push_str(t),
                            Piece::Time => write_time_f(ev.time, &mut out),
                            Piece::Key(k) => {
                                if let Some(v) = weir_event::view::find(ev.body, k) {
                                    match read_scalar(v) {
                                        Scalar::Str(_) => out.push_str(read_str(v).unwrap_or("")),
                                        _ => print_value(v, &mut out),
                                    }
                                }
                            }
                        }
                    }
                    out.push('\n');
                }
            }
        }
        out
    }

    fn write(&self, chunk: &Chunk) -> std::io::Result<()> {
        let path = self.target(&chunk.tag);
        if self.mkdir {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
        }
        let new_file = !path.exists();
        let text = self.render(chunk, new_file);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        f.write_all(text.as_bytes())
    }
}

impl Output for FileOut {
    fn flush<'a>(&'a self, chunk: &'a Chunk, ctx: &'a OutputContext) -> BoxFuture<'a, FlushResult> {
        Box::pin(async move {
            match self.write(chunk) {
                Ok(()) => FlushResult::Ok,
                Err(e) => {
                    weir_core::error!(
                        ctx.component,
                        "error writing to {}: {}",
                        self.target(&chunk.tag).display(),
                        e
                    );
                    FlushResult::Retry
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use std::sync::Arc;
    use weir_event::EventTime;

    fn chunk(bodies: &[&str]) -> Chunk {
        let w = testing::events(bodies, EventTime::new(1_700_000_000, 1));
        Chunk {
            id: 1,
            tag: Arc::from("app.log"),
            signal: weir_event::Signal::Logs,
            data: w.buf,
            records: w.count,
            created: std::time::Instant::now(),
        }
    }

    fn write_with(pairs: &[(&str, &str)], bodies: &[&str]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("sub");
        let mut all: Vec<(&str, &str)> = vec![("path", d.to_str().unwrap()), ("mkdir", "on")];
        all.extend_from_slice(pairs);
        let p = testing::params(&DESCRIPTOR, &all).unwrap();
        let out = FileOut::new(&p, &testing::build_context()).unwrap();
        out.write(&chunk(bodies)).unwrap();
        out.write(&chunk(bodies)).unwrap();
        std::fs::read_to_string(d.join("app.log")).unwrap()
    }

    #[test]
    fn formats() {
        let b = [r#"{"message":"hi","n":2}"#];
        assert_eq!(
            write_with(&[], &b),
            "app.log: [1700000000.000000001, {\"message\":\"hi\",\"n\":2}]\n".repeat(2)
        );
        assert_eq!(
            write_with(&[("format", "plain")], &b),
            "{\"message\":\"hi\",\"n\":2}\n".repeat(2)
        );
        assert_eq!(
            write_with(&[("format", "csv")], &b),
            "1700000000.000000,\"hi\",2\n".repeat(2)
        );
        assert_eq!(
            write_with(&[("format", "csv"), ("csv_column_names", "on")], &b),
            "timestamp,message,n\n1700000000.000000,\"hi\",2\n1700000000.000000,\"hi\",2\n"
        );
        assert_eq!(
            write_with(&[("format", "ltsv")], &b),
            "\"time\":1700000000.000000\t\"message\":\"hi\"\t\"n\":2\n".repeat(2)
        );
        assert_eq!(
            write_with(
                &[
                    ("format", "template"),
                    ("template", "{time} {message} n={n}")
                ],
                &b
            ),
            "1700000000.000000 hi n=2\n".repeat(2)
        );
    }

    #[test]
    fn unknown_format_is_an_error() {
        assert!(testing::output(&DESCRIPTOR, &[("format", "xml")]).is_err());
    }
}
