//! Fluent Bit's plugins file (`plugins_file` in the service section): the plugin files to load.
//!
//! YAML: a top-level `plugins` list of paths. Classic: `[PLUGINS]` sections of `Path` keys.
//! As in Fluent Bit, the format follows the file's extension (`.yaml`/`.yml` is YAML). A
//! relative path in it is relative to the plugins file's directory; when nothing is there,
//! to the working directory.
//!
//! ```text
//! plugins:                  [PLUGINS]
//!   - /opt/weir/redact.wasm     Path /opt/weir/redact.wasm
//! ```

use std::path::{Path, PathBuf};

/// Reads a plugins file and returns the plugin paths in it, in order.
pub fn read(path: &Path) -> Result<Vec<PathBuf>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the plugins file {}: {e}", path.display()))?;
    let yaml = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    let entries = if yaml {
        parse_yaml(&text)
    } else {
        parse_classic(&text)
    }
    .map_err(|e| format!("{}: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    Ok(entries.into_iter().map(|p| resolve(dir, &p)).collect())
}

fn resolve(dir: &Path, p: &str) -> PathBuf {
    let path = PathBuf::from(p);
    if path.is_absolute() {
        return path;
    }
    let beside = dir.join(&path);
    if beside.exists() || !path.exists() {
        beside
    } else {
        path
    }
}

fn parse_yaml(text: &str) -> Result<Vec<String>, String> {
    use yaml_rust2::{Yaml, YamlLoader};
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("invalid YAML: {e}"))?;
    let mut out = Vec::new();
    for doc in &docs {
        let Yaml::Hash(h) = doc else {
            if doc.is_null() {
                continue;
            }
            return Err("expected a mapping with a 'plugins' list".into());
        };
        for (k, v) in h {
            match k.as_str() {
                Some("plugins") => {}
                Some(other) => return Err(format!("unexpected key '{other}': expected 'plugins'")),
                None => return Err("expected a mapping with a 'plugins' list".into()),
            }
            match v {
                Yaml::Array(items) => {
                    for item in items {
                        match item {
                            Yaml::String(s) if !s.trim().is_empty() => {
                                out.push(s.trim().to_string())
                            }
                            _ => return Err("'plugins' entries must be paths".into()),
                        }
                    }
                }
                Yaml::Null => {}
                _ => return Err("'plugins' must be a list of paths".into()),
            }
        }
    }
    Ok(out)
}

fn parse_classic(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut in_plugins = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_plugins = name.trim().eq_ignore_ascii_case("PLUGINS");
            if !in_plugins {
                return Err(format!(
                    "line {}: unexpected section [{name}]: expected [PLUGINS]",
                    i + 1
                ));
            }
            continue;
        }
        if !in_plugins {
            return Err(format!(
                "line {}: expected a [PLUGINS] section first",
                i + 1
            ));
        }
        let (key, value) = line
            .split_once(char::is_whitespace)
            .map(|(k, v)| (k, v.trim()))
            .unwrap_or((line, ""));
        if !key.eq_ignore_ascii_case("path") {
            return Err(format!(
                "line {}: unknown key '{key}': expected Path",
                i + 1
            ));
        }
        if value.is_empty() {
            return Err(format!("line {}: Path without a value", i + 1));
        }
        out.push(value.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_classic() {
        let dir = tempfile::tempdir().unwrap();
        let y = dir.path().join("plugins.yaml");
        std::fs::write(&y, "plugins:\n  - /abs/a.wasm\n  - rel/b.wasm\n").unwrap();
        assert_eq!(
            read(&y).unwrap(),
            vec![PathBuf::from("/abs/a.wasm"), dir.path().join("rel/b.wasm")]
        );
        let c = dir.path().join("plugins.conf");
        std::fs::write(
            &c,
            "# mine\n[PLUGINS]\n    Path /abs/a.wasm\n    path   c.wasm\n",
        )
        .unwrap();
        assert_eq!(
            read(&c).unwrap(),
            vec![PathBuf::from("/abs/a.wasm"), dir.path().join("c.wasm")]
        );
    }

    #[test]
    fn mistakes_are_reported() {
        assert!(parse_yaml("plugin:\n  - a").is_err());
        assert!(parse_yaml("plugins: a").is_err());
        assert!(parse_yaml("plugins:\n  - {a: 1}").is_err());
        assert_eq!(parse_yaml("").unwrap(), Vec::<String>::new());
        assert!(parse_classic("[INPUT]\n Name x").is_err());
        assert!(parse_classic("Path /x").is_err());
        assert!(parse_classic("[PLUGINS]\n Name /x").is_err());
        assert!(parse_classic("[PLUGINS]\n Path").is_err());
    }
}
