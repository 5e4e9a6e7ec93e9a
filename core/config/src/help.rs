//! Help text and JSON schema generated from parameter tables, so that `weir --help` for a
//! plugin, `weir plugins --json` and the generated docs can never disagree with validation.

use serde_json::{json, Value};

use crate::params::{ParamSpec, ParamType, Support};

/// Aligned columns: key, type, default, description, one parameter per line, tables in order.
///
/// A parameter that is required, may repeat, is deprecated or is not supported yet says so
/// after its description.
pub fn help_text(tables: &[&[ParamSpec]]) -> String {
    let specs: Vec<&ParamSpec> = tables.iter().flat_map(|t| t.iter()).collect();
    let rows: Vec<[String; 4]> = specs
        .iter()
        .map(|s| {
            [
                display_name(s),
                s.ty.as_str().to_owned(),
                s.default.map_or_else(|| "-".to_owned(), str::to_owned),
                describe(s),
            ]
        })
        .collect();
    let header = [
        "KEY".to_owned(),
        "TYPE".to_owned(),
        "DEFAULT".to_owned(),
        "DESCRIPTION".to_owned(),
    ];
    let mut widths = [0usize; 3];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line = format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A plugin's description for tools and docs, in the spirit of Fluent Bit's `-J` output:
///
/// ```json
/// {"name": "tail", "type": "input", "description": "...",
///  "properties": {"options": [{"name": "path", "type": "string", "default": null,
///    "description": "...", "required": true, "multiple": false, "supported": true,
///    "deprecated": false}]}}
/// ```
pub fn json_schema(name: &str, kind: &str, description: &str, tables: &[&[ParamSpec]]) -> Value {
    let options: Vec<Value> = tables
        .iter()
        .flat_map(|t| t.iter())
        .map(|s| {
            json!({
                "name": display_name(s),
                "type": s.ty.as_str(),
                "default": s.default,
                "description": s.description,
                "required": s.required,
                "multiple": s.multiple,
                "supported": s.support != Support::NotYet,
                "deprecated": s.support == Support::Deprecated,
            })
        })
        .collect();
    json!({
        "name": name,
        "type": kind,
        "description": description,
        "properties": { "options": options },
    })
}

fn display_name(spec: &ParamSpec) -> String {
    if spec.ty == ParamType::Prefix {
        format!("{}*", spec.name)
    } else {
        spec.name.to_owned()
    }
}

fn describe(spec: &ParamSpec) -> String {
    let mut notes = Vec::new();
    if spec.required {
        notes.push("required");
    }
    if spec.multiple && spec.ty != ParamType::Prefix {
        notes.push("may repeat");
    }
    match spec.support {
        Support::Supported => {}
        Support::NotYet => notes.push("not supported by Weir yet"),
        Support::Deprecated => notes.push("deprecated"),
    }
    match (spec.description.is_empty(), notes.is_empty()) {
        (_, true) => spec.description.to_owned(),
        (true, false) => format!("({})", notes.join(", ")),
        (false, false) => format!("{} ({})", spec.description, notes.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static TABLE: &[ParamSpec] = &[
        ParamSpec::str("path")
            .required()
            .desc("Pattern of the files to read"),
        ParamSpec::time("refresh_interval")
            .default("60")
            .desc("How often to look for new files"),
        ParamSpec::space_list("add")
            .multiple()
            .desc("Key and value to add"),
        ParamSpec::prefix("rdkafka.").desc("Passed to librdkafka"),
        ParamSpec::str("db.journal_mode")
            .not_yet()
            .desc("SQLite journal mode"),
    ];

    #[test]
    fn help_snapshot() {
        insta::assert_snapshot!(help_text(&[TABLE]));
    }

    #[test]
    fn schema_snapshot() {
        let schema = json_schema("tail", "input", "Read files", &[TABLE]);
        insta::assert_snapshot!(serde_json::to_string_pretty(&schema).unwrap_or_default());
    }
}
