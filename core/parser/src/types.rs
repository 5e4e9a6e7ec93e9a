//! `types`: converting parsed string values (`key:integer key2:bool ...`).
//!
//! Applies to the `regex`, `logfmt` and `ltsv` formats, as in Fluent Bit. Conversions follow
//! the C functions Fluent Bit uses, so values convert the same way: `integer` reads a leading
//! integer like `atoll` (`"12abc"` is 12, `"abc"` is 0), `float` like `atof`, `hex` like
//! `strtoull(.., 16)`, and `bool` takes values starting with `true` or `false` (any case). A
//! `bool` that is neither stays a string, as Fluent Bit does after its warning.

use weir_event::value as mp;

/// The type a field converts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    String,
    Integer,
    Bool,
    Float,
    Hex,
}

/// Why a `types` value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TypesError(pub String);

/// The parsed `types` parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Types {
    entries: Vec<(Box<[u8]>, FieldType)>,
}

impl Types {
    /// Parses `key:type key2:type2 ...`. Unknown type names are an error (Fluent Bit silently
    /// keeps such fields as strings, which hides typos).
    pub fn parse(s: &str) -> Result<Self, TypesError> {
        let mut entries = Vec::new();
        for item in s.split_ascii_whitespace() {
            let Some((key, ty)) = item.split_once(':') else {
                return Err(TypesError(format!("'{item}' is not of the form key:type")));
            };
            let ty = match ty.to_ascii_lowercase().as_str() {
                "string" => FieldType::String,
                "integer" => FieldType::Integer,
                "bool" => FieldType::Bool,
                "float" => FieldType::Float,
                "hex" => FieldType::Hex,
                other => {
                    return Err(TypesError(format!(
                        "unknown type '{other}' for key '{key}': expected string, integer, bool, float or hex"
                    )))
                }
            };
            entries.push((key.as_bytes().into(), ty));
        }
        Ok(Self { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The type configured for `key`, if any.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<FieldType> {
        self.entries
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, t)| *t)
    }

    /// Writes `value` converted to the type configured for `key` (a string if none).
    #[inline]
    pub fn write_value(&self, key: &[u8], value: &[u8], out: &mut Vec<u8>) {
        match self.get(key) {
            None | Some(FieldType::String) => mp::write_str_bytes(out, value),
            Some(t) => write_typed(t, value, out),
        }
    }
}

/// Writes `value` converted to `t`.
pub fn write_typed(t: FieldType, value: &[u8], out: &mut Vec<u8>) {
    match t {
        FieldType::String => mp::write_str_bytes(out, value),
        FieldType::Integer => mp::write_int(out, atoll(value)),
        FieldType::Float => mp::write_f64(out, atof(value)),
        FieldType::Hex => mp::write_uint(out, strtoull_hex(value)),
        FieldType::Bool => {
            if value.len() >= 4 && value[..4].eq_ignore_ascii_case(b"true") {
                mp::write_bool(out, true);
            } else if value.len() >= 5 && value[..5].eq_ignore_ascii_case(b"false") {
                mp::write_bool(out, false);
            } else {
                mp::write_str_bytes(out, value);
            }
        }
    }
}

fn skip_ws(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .count();
    &s[n..]
}

/// `atoll`: leading whitespace, optional sign, digits; saturates on overflow.
pub fn atoll(s: &[u8]) -> i64 {
    let s = skip_ws(s);
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut v: i64 = 0;
    for &b in digits.iter().take_while(|b| b.is_ascii_digit()) {
        let d = i64::from(b - b'0');
        v = match v.checked_mul(10).and_then(|v| {
            if neg {
                v.checked_sub(d)
            } else {
                v.checked_add(d)
            }
        }) {
            Some(v) => v,
            None => return if neg { i64::MIN } else { i64::MAX },
        };
    }
    v
}

/// `atof`: the longest prefix that reads as a number, else 0.
pub fn atof(s: &[u8]) -> f64 {
    let s = skip_ws(s);
    let mut end = 0;
    let n = s.len();
    if end < n && matches!(s[end], b'+' | b'-') {
        end += 1;
    }
    let int_start = end;
    while end < n && s[end].is_ascii_digit() {
        end += 1;
    }
    let mut digits = end - int_start;
    if end < n && s[end] == b'.' {
        end += 1;
        let f = end;
        while end < n && s[end].is_ascii_digit() {
            end += 1;
        }
        digits += end - f;
    }
    if digits == 0 {
        // inf / nan as strtod reads them
        let rest = &s[int_start..];
        let sign = if s.first() == Some(&b'-') { -1.0 } else { 1.0 };
        if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(b"inf") {
            return sign * f64::INFINITY;
        }
        if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(b"nan") {
            return f64::NAN;
        }
        return 0.0;
    }
    if end < n && matches!(s[end], b'e' | b'E') {
        let mut e = end + 1;
        if e < n && matches!(s[e], b'+' | b'-') {
            e += 1;
        }
        let es = e;
        while e < n && s[e].is_ascii_digit() {
            e += 1;
        }
        if e > es {
            end = e;
        }
    }
    std::str::from_utf8(&s[..end])
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0.0)
}

/// `strtoull(s, NULL, 16)`: optional `0x`, hex digits; saturates on overflow.
pub fn strtoull_hex(s: &[u8]) -> u64 {
    let s = skip_ws(s);
    let (neg, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let s =
        if s.len() > 2 && s[0] == b'0' && matches!(s[1], b'x' | b'X') && s[2].is_ascii_hexdigit() {
            &s[2..]
        } else {
            s
        };
    let mut v: u64 = 0;
    for &b in s.iter().take_while(|b| b.is_ascii_hexdigit()) {
        let d = u64::from(char::from(b).to_digit(16).unwrap_or(0));
        v = match v.checked_mul(16).and_then(|v| v.checked_add(d)) {
            Some(v) => v,
            None => return u64::MAX,
        };
    }
    if neg {
        v.wrapping_neg()
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_event::view::{read_scalar, Scalar};

    fn conv(t: &str, v: &str) -> Vec<u8> {
        let types = Types::parse(&format!("k:{t}")).unwrap();
        let mut out = Vec::new();
        types.write_value(b"k", v.as_bytes(), &mut out);
        out
    }

    #[test]
    fn conversions_follow_libc() {
        assert_eq!(read_scalar(&conv("integer", "42")), Scalar::UInt(42));
        assert_eq!(read_scalar(&conv("integer", " -7xyz")), Scalar::Int(-7));
        assert_eq!(read_scalar(&conv("integer", "abc")), Scalar::UInt(0));
        assert_eq!(read_scalar(&conv("float", "1.5e2ms")), Scalar::Float(150.0));
        assert_eq!(read_scalar(&conv("float", "x")), Scalar::Float(0.0));
        assert_eq!(read_scalar(&conv("hex", "0xff")), Scalar::UInt(255));
        assert_eq!(read_scalar(&conv("hex", "1Ag")), Scalar::UInt(26));
        assert_eq!(read_scalar(&conv("bool", "TRUE")), Scalar::Bool(true));
        assert_eq!(read_scalar(&conv("bool", "false")), Scalar::Bool(false));
        assert_eq!(read_scalar(&conv("bool", "yes")), Scalar::Str("yes"));
        assert_eq!(read_scalar(&conv("string", "5")), Scalar::Str("5"));
        assert_eq!(atoll(b"99999999999999999999"), i64::MAX);
    }

    #[test]
    fn bad_types_are_rejected() {
        assert!(Types::parse("a:integer b:flaot")
            .unwrap_err()
            .0
            .contains("flaot"));
        assert!(Types::parse("a").is_err());
        assert_eq!(
            Types::parse("  a:INTEGER  b:hex ").unwrap().get(b"a"),
            Some(FieldType::Integer)
        );
    }
}
