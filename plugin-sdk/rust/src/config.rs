//! The plugin's configuration: the values of the parameters it declared in its
//! [`crate::Info`], with their defaults applied by the host.
//!
//! The host has already checked each value against its declared type, so the typed getters
//! fail only when a parameter is read as another type than declared. They parse as Weir's
//! configuration does: booleans `on/off/true/false/yes/no`, sizes with `k/m/g` (powers of
//! 1000) or `KiB/MiB/GiB`, durations with `ms/s/m/h/d` (plain numbers are seconds).

use crate::host_backend as backend;
use crate::Error;
use std::time::Duration;

/// The value of `key` as written (or its declared default); `None` when unset without default.
pub fn get(key: &str) -> Option<String> {
    backend::config(key)
}

/// The value of `key`, which must be set: an error naming the parameter otherwise.
pub fn require(key: &str) -> Result<String, Error> {
    get(key).ok_or_else(|| Error::new(format!("parameter '{key}' is not set")))
}

fn typed<T>(key: &str, what: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Option<T>, Error> {
    match get(key) {
        None => Ok(None),
        Some(v) => parse(&v)
            .map(Some)
            .ok_or_else(|| Error::new(format!("parameter '{key}': '{v}' is not {what}"))),
    }
}

pub fn integer(key: &str) -> Result<Option<i64>, Error> {
    typed(key, "an integer", |v| v.trim().parse().ok())
}

pub fn double(key: &str) -> Result<Option<f64>, Error> {
    typed(key, "a number", |v| {
        v.trim().parse::<f64>().ok().filter(|f| f.is_finite())
    })
}

pub fn boolean(key: &str) -> Result<Option<bool>, Error> {
    typed(key, "a boolean (on/off, true/false, yes/no)", parse_bool)
}

/// A size in bytes.
pub fn size(key: &str) -> Result<Option<u64>, Error> {
    typed(key, "a size (e.g. 512, 4k, 10M, 1GiB)", parse_size)
}

pub fn duration(key: &str) -> Result<Option<Duration>, Error> {
    typed(key, "a duration (e.g. 500ms, 2s, 1.5, 1m)", parse_duration)
}

/// A comma-separated list, items trimmed, empty items dropped; empty when unset.
pub fn list(key: &str) -> Vec<String> {
    get(key)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    let s = text.trim();
    if ["true", "on", "yes"]
        .iter()
        .any(|t| s.eq_ignore_ascii_case(t))
    {
        Some(true)
    } else if ["false", "off", "no"]
        .iter()
        .any(|t| s.eq_ignore_ascii_case(t))
    {
        Some(false)
    } else {
        None
    }
}

pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let s = text.trim();
    if s.eq_ignore_ascii_case("false") {
        return Some(0);
    }
    let (number, unit) = split_unit(s);
    let multiplier: u128 = match unit.to_ascii_lowercase().as_str() {
        "" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return None,
    };
    u64::try_from(scale_decimal(number, multiplier)?).ok()
}

pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    const NANOS: u128 = 1_000_000_000;
    let (number, unit) = split_unit(text.trim());
    let unit_nanos: u128 = match unit.to_ascii_lowercase().as_str() {
        "" | "s" => NANOS,
        "ms" => 1_000_000,
        "m" => 60 * NANOS,
        "h" => 3_600 * NANOS,
        "d" => 86_400 * NANOS,
        _ => return None,
    };
    let nanos = scale_decimal(number, unit_nanos)?;
    let secs = u64::try_from(nanos / NANOS).ok()?;
    // The remainder is below one billion.
    Some(Duration::new(secs, (nanos % NANOS) as u32))
}

fn split_unit(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    s.split_at(end)
}

/// `number * multiplier` for a decimal `digits[.digits]`, exactly, fraction of the result
/// dropped; `None` when not such a decimal or on overflow.
fn scale_decimal(number: &str, multiplier: u128) -> Option<u128> {
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut result: u128 = 0;
    for b in int_part.bytes() {
        result = result.checked_mul(10)?.checked_add(u128::from(b - b'0'))?;
    }
    result = result.checked_mul(multiplier)?;
    // Digits past the 18th cannot change the result by a whole unit for these multipliers.
    let frac = &frac_part[..frac_part.len().min(18)];
    if !frac.is_empty() {
        let mut f: u128 = 0;
        for b in frac.bytes() {
            f = f * 10 + u128::from(b - b'0');
        }
        result = result.checked_add(f.checked_mul(multiplier)? / 10u128.pow(frac.len() as u32))?;
    }
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn parsers_follow_weirs_configuration() {
        assert_eq!(parse_bool(" On "), Some(true));
        assert_eq!(parse_bool("no"), Some(false));
        assert_eq!(parse_bool("1"), None);
        assert_eq!(parse_size("32k"), Some(32_000));
        assert_eq!(parse_size("1.5M"), Some(1_500_000));
        assert_eq!(parse_size("2KiB"), Some(2048));
        assert_eq!(parse_size("-1"), None);
        assert_eq!(parse_size("99999999999999999999999g"), None);
        assert_eq!(parse_duration("1.5m"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("0.2"), Some(Duration::from_millis(200)));
        assert_eq!(parse_duration("3w"), None);
        assert_eq!(parse_duration("."), None);
    }

    #[test]
    fn typed_getters_name_the_parameter() {
        testing::reset();
        testing::set_config("n", "12");
        testing::set_config("flag", "maybe");
        testing::set_config("tags", " a, b ,,c ");
        assert_eq!(integer("n"), Ok(Some(12)));
        assert_eq!(integer("missing"), Ok(None));
        let e = boolean("flag").unwrap_err();
        assert!(
            e.message().contains("'flag'") && e.message().contains("maybe"),
            "{e}"
        );
        assert_eq!(list("tags"), ["a", "b", "c"]);
        assert!(list("missing").is_empty());
        assert!(require("missing")
            .unwrap_err()
            .message()
            .contains("'missing'"));
    }
}
