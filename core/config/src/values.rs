//! Parsers for the value syntaxes of Fluent Bit's configuration: booleans, sizes, durations,
//! numbers and space-separated tokens.
//!
//! Each parser trims surrounding whitespace and returns `None` for anything it does not accept;
//! none of them panics, whatever the input. Where Fluent Bit's own parsing is looser than its
//! documentation (it reads numbers with `atoi`, so `10abc` is 10 there), Weir is strict and
//! rejects the value with an error that says what was expected.

use std::time::Duration;

/// `on`, `true`, `yes` and `off`, `false`, `no`, in any case.
pub fn parse_bool(text: &str) -> Option<bool> {
    let s = text.trim();
    const TRUE: [&str; 3] = ["true", "on", "yes"];
    const FALSE: [&str; 3] = ["false", "off", "no"];
    if TRUE.iter().any(|t| s.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if FALSE.iter().any(|f| s.eq_ignore_ascii_case(f)) {
        Some(false)
    } else {
        None
    }
}

/// A size in bytes.
///
/// As in Fluent Bit: a plain number is bytes; `k`/`kb`, `m`/`mb`, `g`/`gb` (any case) are powers
/// of 1000 (Fluent Bit's documented and implemented choice: `32k` is 32000 bytes); the number may
/// have a fraction (`1.5M` is 1500000, a fraction of a byte is dropped); and `false` means 0.
/// Weir also takes the binary units `KiB`, `MiB` and `GiB` (powers of 1024), which newer Fluent
/// Bit versions read for some keys. Negative sizes, spaces between number and unit, and values
/// beyond `u64` are rejected.
pub fn parse_size(text: &str) -> Option<u64> {
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

/// A duration.
///
/// A plain number is seconds and may have a fraction (`flush 0.2`, as Fluent Bit's `flush`
/// takes "seconds.nanoseconds"). Suffixes, in any case: `ms` milliseconds, `s` seconds, `m`
/// minutes, `h` hours, `d` days (Fluent Bit's time values take `s`, `m`, `h` and `d`; `ms` is
/// Weir's addition). Unlike Fluent Bit, which reads `1.5m` as one minute, a fraction counts with
/// a unit too: `1.5m` is 90 seconds. Negative durations are rejected.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let s = text.trim();
    let (number, unit) = split_unit(s);
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let unit_nanos: u128 = match unit.to_ascii_lowercase().as_str() {
        "" | "s" => NANOS_PER_SEC,
        "ms" => 1_000_000,
        "m" => 60 * NANOS_PER_SEC,
        "h" => 3_600 * NANOS_PER_SEC,
        "d" => 86_400 * NANOS_PER_SEC,
        _ => return None,
    };
    let nanos = scale_decimal(number, unit_nanos)?;
    let secs = u64::try_from(nanos / NANOS_PER_SEC).ok()?;
    // The remainder is below one billion, so it fits in u32.
    let subsec = (nanos % NANOS_PER_SEC) as u32;
    Some(Duration::new(secs, subsec))
}

/// A signed 64-bit integer (an optional sign, then digits).
pub fn parse_int(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

/// A finite floating-point number (`inf` and `NaN` are rejected).
pub fn parse_double(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Splits a value into space-separated tokens the way Fluent Bit splits its space-list
/// parameters (`flb_slist_split_tokens`).
///
/// Tokens are separated by spaces or tabs. A token that starts with `"` runs to the next `"`
/// not preceded by a backslash, and `\"` inside it stands for `"` (other backslashes are kept,
/// so regular expressions survive). With `max_split` > 0, after that many tokens the rest of the
/// value is one last token, taken as written: `split_words("add key a value", 1)` gives `add`
/// and `key a value`.
pub fn split_words(text: &str, max_split: usize) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = text.trim_start_matches(is_blank);
    while !rest.is_empty() {
        if max_split > 0 && words.len() == max_split {
            words.push(rest.trim_end_matches(is_blank).to_owned());
            break;
        }
        let (word, after) = if let Some(quoted) = rest.strip_prefix('"') {
            let end = closing_quote(quoted);
            let word = quoted[..end].replace("\\\"", "\"");
            (word, quoted.get(end + 1..).unwrap_or(""))
        } else {
            let end = rest.find(is_blank).unwrap_or(rest.len());
            (rest[..end].to_owned(), &rest[end..])
        };
        words.push(word);
        rest = after.trim_start_matches(is_blank);
    }
    words
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Byte index of the first `"` in `s` not escaped by a backslash, or `s.len()` when the quote is
/// never closed (the token then runs to the end, as in Fluent Bit).
fn closing_quote(s: &str) -> usize {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if bytes.get(i + 1) == Some(&b'"') => i += 2,
            b'"' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Splits `12.5kb` into `12.5` and `kb`.
fn split_unit(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    s.split_at(end)
}

/// `number * multiplier` for a decimal `digits[.digits]`, exactly, with any fraction of the
/// result dropped. `None` if `number` is not such a decimal or the result overflows.
fn scale_decimal(number: &str, multiplier: u128) -> Option<u128> {
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut whole: u128 = 0;
    for b in int_part.bytes() {
        whole = whole.checked_mul(10)?.checked_add(u128::from(b - b'0'))?;
    }
    let mut result = whole.checked_mul(multiplier)?;
    // Digits past the 18th cannot change the result by a whole unit for any multiplier used here
    // (all are below 10^18), so they are ignored rather than risking overflow.
    let frac_digits = &frac_part[..frac_part.len().min(18)];
    if !frac_digits.is_empty() {
        let mut frac: u128 = 0;
        for b in frac_digits.bytes() {
            frac = frac * 10 + u128::from(b - b'0');
        }
        let scale = 10u128.pow(frac_digits.len() as u32);
        result = result.checked_add(frac.checked_mul(multiplier)? / scale)?;
    }
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn booleans() {
        for t in ["on", "On", "TRUE", "yes", " true "] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["off", "False", "NO"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for bad in ["", "1", "0", "y", "enabled"] {
            assert_eq!(parse_bool(bad), None, "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("32000"), Some(32_000));
        assert_eq!(parse_size("32k"), Some(32_000));
        assert_eq!(parse_size("32KB"), Some(32_000));
        assert_eq!(parse_size("5M"), Some(5_000_000));
        assert_eq!(parse_size("5mb"), Some(5_000_000));
        assert_eq!(parse_size("1G"), Some(1_000_000_000));
        assert_eq!(parse_size("1.5M"), Some(1_500_000));
        assert_eq!(parse_size("2MiB"), Some(2 * 1024 * 1024));
        assert_eq!(parse_size("1kib"), Some(1024));
        assert_eq!(parse_size("false"), Some(0));
        assert_eq!(parse_size("0.5"), Some(0));
        for bad in [
            "", "k", "-1", "1 K", "1T", "1KBB", "1.2.3", "abc", "1b", ".",
        ] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        assert_eq!(parse_size("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_size("18446744073709551616"), None);
        assert_eq!(parse_size("99999999999999999999G"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("0.2"), Some(Duration::from_millis(200)));
        assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5m"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1d"), Some(Duration::from_secs(86400)));
        assert_eq!(parse_duration("0.000000001"), Some(Duration::from_nanos(1)));
        for bad in ["", "abc", "-1", "5 s", "1w", "s", "1.5.1"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!(parse_int("-7"), Some(-7));
        assert_eq!(parse_int("+7"), Some(7));
        assert_eq!(parse_int("10abc"), None);
        assert_eq!(parse_double("0.25"), Some(0.25));
        assert_eq!(parse_double("1e3"), Some(1000.0));
        assert_eq!(parse_double("inf"), None);
        assert_eq!(parse_double("NaN"), None);
    }

    #[test]
    fn words() {
        assert_eq!(split_words("status ^404$", 0), ["status", "^404$"]);
        assert_eq!(split_words("  a\t b  ", 0), ["a", "b"]);
        assert_eq!(split_words("key a long value ", 1), ["key", "a long value"]);
        assert_eq!(
            split_words(r#""start_state" "/(\d+) \"x\"/" cont"#, 0),
            ["start_state", r#"/(\d+) "x"/"#, "cont"]
        );
        assert_eq!(
            split_words(r#""unterminated rest"#, 0),
            ["unterminated rest"]
        );
        assert_eq!(split_words(r#""" b"#, 0), ["", "b"]);
        assert!(split_words("   ", 0).is_empty());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in any::<String>()) {
            let _ = parse_bool(&s);
            let _ = parse_size(&s);
            let _ = parse_duration(&s);
            let _ = parse_int(&s);
            let _ = parse_double(&s);
            let _ = split_words(&s, 0);
            let _ = split_words(&s, 2);
        }

        #[test]
        fn unit_like_strings_never_panic(s in "[0-9.]{0,40}[kKmMgGiBbsShHdD]{0,3}") {
            let _ = parse_size(&s);
            let _ = parse_duration(&s);
        }

        #[test]
        fn sizes_round_trip(n in 0u64..=u32::MAX as u64, unit in 0usize..7) {
            let (suffix, mult) = [("", 1), ("k", 1000), ("KB", 1000), ("M", 1_000_000),
                ("mb", 1_000_000), ("G", 1_000_000_000), ("MiB", 1 << 20)][unit];
            prop_assert_eq!(parse_size(&format!("{n}{suffix}")), Some(n * mult));
        }

        #[test]
        fn durations_round_trip(n in 0u64..=u32::MAX as u64, unit in 0usize..6) {
            let (suffix, d) = [("", Duration::from_secs(n)), ("s", Duration::from_secs(n)),
                ("ms", Duration::from_millis(n)), ("m", Duration::from_secs(n * 60)),
                ("h", Duration::from_secs(n * 3600)), ("d", Duration::from_secs(n * 86400))][unit];
            prop_assert_eq!(parse_duration(&format!("{n}{suffix}")), Some(d));
        }

        #[test]
        fn millisecond_fractions_round_trip(ms in 0u64..10_000_000) {
            let text = format!("{}.{:03}", ms / 1000, ms % 1000);
            prop_assert_eq!(parse_duration(&text), Some(Duration::from_millis(ms)));
        }

        #[test]
        fn booleans_round_trip(b in any::<bool>(), form in 0usize..3, upper in any::<bool>()) {
            let word = if b { ["true", "on", "yes"][form] } else { ["false", "off", "no"][form] };
            let word = if upper { word.to_uppercase() } else { word.to_owned() };
            prop_assert_eq!(parse_bool(&word), Some(b));
        }
    }
}
