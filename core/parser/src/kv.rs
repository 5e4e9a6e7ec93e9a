//! The key/value formats: `logfmt`, `ltsv` and `tskv`.
//!
//! `logfmt` follows the grammar Fluent Bit uses (from brandur.org/logfmt): keys are runs of
//! bytes above space other than `=` and `"`; values are such runs or double-quoted strings
//! with backslash escapes; anything else between pairs is skipped. A key without `=` (a bare
//! key) becomes `true`, as does `key=`; `key=""` is an empty string. With
//! `logfmt_no_bare_keys`, a bare key rejects the whole line.
//!
//! `ltsv` (ltsv.org) is `label:value` fields separated by tabs, labels of `[0-9A-Za-z_.-]`.
//! `tskv` is the same with `=` between label and value and an optional `tskv\t` prefix.
//!
//! Both stop at the first line break.

use crate::parser::KvSink;

/// Which key/value grammar to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvFormat {
    Logfmt { no_bare_keys: bool },
    Ltsv,
    Tskv,
}

/// A value as read from the line.
pub enum KvValue<'a> {
    /// Bytes of the line, used as they are.
    Raw(&'a [u8]),
    /// A quoted logfmt value that had escapes.
    Escaped(&'a [u8]),
    /// A logfmt key without a value.
    Bare,
}

impl KvValue<'_> {
    pub fn is_empty(&self) -> bool {
        match self {
            KvValue::Raw(v) | KvValue::Escaped(v) => v.is_empty(),
            KvValue::Bare => true,
        }
    }
}

/// Reads `input`, handing each pair to `sink`. Returns false when the line must be rejected
/// (a bare key under `logfmt_no_bare_keys`).
pub fn read(format: KvFormat, input: &[u8], sink: &mut dyn KvSink) -> bool {
    match format {
        KvFormat::Logfmt { no_bare_keys } => logfmt(input, no_bare_keys, sink),
        KvFormat::Ltsv => {
            ltsv(input, b':', sink);
            true
        }
        KvFormat::Tskv => {
            let input = input.strip_prefix(b"tskv\t").unwrap_or(input);
            ltsv(input, b'=', sink);
            true
        }
    }
}

#[inline]
fn ident(b: u8) -> bool {
    b > b' ' && b != b'=' && b != b'"'
}

fn logfmt(s: &[u8], no_bare_keys: bool, sink: &mut dyn KvSink) -> bool {
    let end = s.len();
    let mut c = 0;
    while c < end {
        while c < end && !ident(s[c]) {
            if s[c] == b'\n' {
                return true;
            }
            c += 1;
        }
        if c == end {
            break;
        }
        let key_start = c;
        while c < end && ident(s[c]) {
            c += 1;
        }
        let key = &s[key_start..c];
        let mut value = KvValue::Bare;
        if c < end && s[c] == b'=' {
            c += 1;
            value = KvValue::Raw(&[]);
            if c < end {
                if s[c] == b'"' {
                    c += 1;
                    let v_start = c;
                    let mut escaped = false;
                    while c < end {
                        match s[c] {
                            b'\\' => {
                                escaped = true;
                                c += 2;
                            }
                            b'"' => break,
                            _ => c += 1,
                        }
                    }
                    let v_end = c.min(end);
                    let v = &s[v_start..v_end];
                    value = if escaped {
                        KvValue::Escaped(v)
                    } else {
                        KvValue::Raw(v)
                    };
                    if c < end {
                        c += 1; // closing quote
                    }
                    // A quoted empty string is a value, not a bare key.
                    if v.is_empty() {
                        sink.pair(key, KvValue::Raw(b""));
                        continue;
                    }
                } else {
                    let v_start = c;
                    while c < end && ident(s[c]) {
                        c += 1;
                    }
                    value = KvValue::Raw(&s[v_start..c]);
                }
            }
        }
        if let KvValue::Bare = value {
            if no_bare_keys {
                return false;
            }
        }
        // `key=` reads like a bare key: true.
        let value = match value {
            KvValue::Raw([]) => KvValue::Bare,
            other => other,
        };
        sink.pair(key, value);
    }
    true
}

#[inline]
fn label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

#[inline]
fn field_byte(b: u8) -> bool {
    !matches!(b, 0 | b'\t' | b'\n' | b'\r')
}

fn ltsv(s: &[u8], sep: u8, sink: &mut dyn KvSink) {
    let end = s.len();
    let mut c = 0;
    while c < end {
        let l_start = c;
        while c < end && label_byte(s[c]) {
            c += 1;
        }
        let label = &s[l_start..c];
        if c == end || s[c] != sep {
            break;
        }
        c += 1;
        let f_start = c;
        while c < end && field_byte(s[c]) {
            c += 1;
        }
        if !label.is_empty() {
            sink.pair(label, KvValue::Raw(&s[f_start..c]));
        }
        if c == end {
            break;
        }
        if s[c] == b'\t' {
            c += 1;
        }
        if c == end || matches!(s[c], b'\r' | b'\n') {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Vec<(String, String)>);
    impl KvSink for Collect {
        fn pair(&mut self, key: &[u8], value: KvValue<'_>) {
            let v = match value {
                KvValue::Raw(v) => String::from_utf8_lossy(v).into_owned(),
                KvValue::Escaped(v) => format!("esc:{}", String::from_utf8_lossy(v)),
                KvValue::Bare => "<bare>".into(),
            };
            self.0.push((String::from_utf8_lossy(key).into_owned(), v));
        }
    }

    fn run(f: KvFormat, s: &str) -> Option<Vec<(String, String)>> {
        let mut c = Collect(Vec::new());
        read(f, s.as_bytes(), &mut c).then_some(c.0)
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn logfmt_grammar() {
        let f = KvFormat::Logfmt {
            no_bare_keys: false,
        };
        assert_eq!(
            run(
                f,
                r#"key1=val1 key2="val 2" key3 key4= key5="a\"b" key6="""#
            )
            .unwrap(),
            pairs(&[
                ("key1", "val1"),
                ("key2", "val 2"),
                ("key3", "<bare>"),
                ("key4", "<bare>"),
                ("key5", r#"esc:a\"b"#),
                ("key6", "")
            ])
        );
        assert_eq!(run(f, "a=1\nb=2").unwrap(), pairs(&[("a", "1")]));
        assert!(run(KvFormat::Logfmt { no_bare_keys: true }, "a=1 b").is_none());
        assert_eq!(
            run(f, r#"a="unterminated"#).unwrap(),
            pairs(&[("a", "unterminated")])
        );
        assert_eq!(run(f, r#"a="x\"#).unwrap(), pairs(&[("a", "esc:x\\")]));
    }

    #[test]
    fn ltsv_grammar() {
        assert_eq!(
            run(
                KvFormat::Ltsv,
                "host:127.0.0.1\tident:-\treq:GET / HTTP/1.1\tempty:"
            )
            .unwrap(),
            pairs(&[
                ("host", "127.0.0.1"),
                ("ident", "-"),
                ("req", "GET / HTTP/1.1"),
                ("empty", "")
            ])
        );
        assert_eq!(
            run(KvFormat::Ltsv, "a:1\tbad label:2\tc:3").unwrap(),
            pairs(&[("a", "1")])
        );
        assert_eq!(
            run(KvFormat::Tskv, "tskv\ta=1\tb=x y").unwrap(),
            pairs(&[("a", "1"), ("b", "x y")])
        );
    }
}
