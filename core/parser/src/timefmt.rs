//! `time_format`: Fluent Bit's strptime(3) dialect, compiled once and run without allocation.
//!
//! Fluent Bit parses record times with its own copy of OpenBSD's `strptime` plus `%L` for
//! fractional seconds. This module follows that implementation's rules, because users' formats
//! were tuned against it:
//!
//! - whitespace in the format matches any run of whitespace in the input, including none;
//! - numbers take at most as many digits as their upper bound has (`%d` reads `4` from `45`
//!   only if `45` would exceed 31), leading zeros optional;
//! - month and day names are the C locale's, full or abbreviated, any case;
//! - `%z` accepts `Z`, `UT`, `UTC`, `GMT`, `±hh`, `±hhmm`, `±hh:mm` and the North American
//!   `EST`/`EDT`-style names; `%Z` accepts a table of common zone abbreviations;
//! - `%L` reads up to nine fractional digits (more are skipped);
//! - text after the last conversion is ignored, so `%Y-%m-%dT%H:%M:%S` reads
//!   `2024-01-15T10:30:45.123Z` (Fluent Bit's `docker` parser relies on this);
//! - a format without a year (`%b %d %H:%M:%S`, syslog) takes the current year, and today's
//!   month and day when those are missing too.
//!
//! A format carries a zone when it has `%z`, `%Z` or `%s`, or a literal `Z` right after the
//! seconds (`%SZ`, `%S.%LZ`). Without one, the parser's `time_offset` (or the system time zone
//! with `time_system_timezone`) says how local times map to UTC.

use weir_event::EventTime;

/// Why a `time_format` could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TimeFormatError(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Year,
    Year2,
    Century,
    Month,
    Day,
    Hour,
    Hour12,
    Minute,
    Second,
    Yday,
    Ignore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Lit(u8),
    Space,
    Num { field: Field, min: u32, max: u32 },
    DayPadded,
    Frac,
    MonthName,
    WeekdayName,
    AmPm,
    Offset,
    ZoneName,
    Epoch,
    SkipDigits,
}

/// A compiled `time_format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeFormat {
    items: Box<[Item]>,
    has_year: bool,
    has_zone: bool,
    source: String,
}

/// How times without a zone in the input map to UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalZone {
    /// A fixed offset east of UTC, in seconds (`time_offset`, 0 by default).
    Fixed(i32),
    /// The system's time zone (`time_system_timezone`).
    System,
}

/// Fields read from the input. Absent ones are filled in when the time is computed.
#[derive(Debug, Clone, Copy, Default)]
struct Tm {
    year: Option<i64>,
    year2: Option<i64>,
    century: Option<i64>,
    mon: Option<u32>,
    mday: Option<u32>,
    yday: Option<u32>,
    hour: u32,
    min: u32,
    sec: u32,
    nsec: u32,
    pm: Option<bool>,
    offset: Option<i32>,
    epoch: Option<i64>,
}

const DAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Zone abbreviations `%Z` understands, with their offsets east of UTC in seconds. Single-letter
/// military zones are left out on purpose: they would match the first letter of words.
const ZONES: &[(&str, i32)] = &[
    ("GMT", 0),
    ("UTC", 0),
    ("UT", 0),
    ("Z", 0),
    ("EST", -5 * 3600),
    ("EDT", -4 * 3600),
    ("CST", -6 * 3600),
    ("CDT", -5 * 3600),
    ("MST", -7 * 3600),
    ("MDT", -6 * 3600),
    ("PST", -8 * 3600),
    ("PDT", -7 * 3600),
    ("AKST", -9 * 3600),
    ("AKDT", -8 * 3600),
    ("HST", -10 * 3600),
    ("AST", -4 * 3600),
    ("ADT", -3 * 3600),
    ("NST", -(3 * 3600 + 1800)),
    ("NDT", -(2 * 3600 + 1800)),
    ("WET", 0),
    ("WEST", 3600),
    ("CET", 3600),
    ("CEST", 2 * 3600),
    ("EET", 2 * 3600),
    ("EEST", 3 * 3600),
    ("MSK", 3 * 3600),
    ("IST", 5 * 3600 + 1800),
    ("JST", 9 * 3600),
    ("KST", 9 * 3600),
    ("SGT", 8 * 3600),
    ("AEST", 10 * 3600),
    ("AEDT", 11 * 3600),
    ("ACST", 9 * 3600 + 1800),
    ("ACDT", 10 * 3600 + 1800),
    ("AWST", 8 * 3600),
    ("NZST", 12 * 3600),
    ("NZDT", 13 * 3600),
];

impl TimeFormat {
    /// Compiles a strptime-style format.
    pub fn new(format: &str) -> Result<Self, TimeFormatError> {
        let mut items = Vec::new();
        compile(format.as_bytes(), &mut items, 0)?;
        let has_year = items.iter().any(|i| {
            matches!(
                i,
                Item::Num {
                    field: Field::Year | Field::Year2,
                    ..
                } | Item::Epoch
            )
        });
        let has_zone = items.iter().enumerate().any(|(n, i)| match i {
            Item::Offset | Item::ZoneName | Item::Epoch => true,
            Item::Lit(b'Z') => matches!(
                n.checked_sub(1).and_then(|p| items.get(p)),
                Some(
                    Item::Num {
                        field: Field::Second,
                        ..
                    } | Item::Frac
                )
            ),
            _ => false,
        });
        Ok(Self {
            items: items.into_boxed_slice(),
            has_year,
            has_zone,
            source: format.to_owned(),
        })
    }

    /// The format as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the format itself says the zone (so `time_offset` does not apply).
    pub fn has_zone(&self) -> bool {
        self.has_zone
    }

    /// Whether the format has a year (without one, the current year is used).
    pub fn has_year(&self) -> bool {
        self.has_year
    }

    /// Parses `input`. `strict` is Fluent Bit's `time_strict`: when false, input that stops
    /// matching part way still yields a time from the fields read so far. `now` supplies the
    /// year (and month and day) for formats without one; `None` reads the clock when needed.
    pub fn parse(
        &self,
        input: &[u8],
        strict: bool,
        zone: LocalZone,
        now: Option<EventTime>,
    ) -> Option<EventTime> {
        let tm = match self.read(input) {
            Ok(tm) => tm,
            Err(partial) if !strict => partial,
            Err(_) => return None,
        };
        self.to_time(&tm, zone, now)
    }

    fn read(&self, input: &[u8]) -> Result<Tm, Tm> {
        let mut tm = Tm::default();
        let mut p = 0usize;
        for item in self.items.iter() {
            if *item == Item::Space {
                while input.get(p).is_some_and(|b| is_space(*b)) {
                    p += 1;
                }
                continue;
            }
            if p >= input.len() {
                return Err(tm);
            }
            match *item {
                Item::Space => {}
                Item::Lit(c) => {
                    if input[p] != c {
                        return Err(tm);
                    }
                    p += 1;
                }
                Item::Num { field, min, max } => {
                    let v = num(input, &mut p, min, max).ok_or(tm)?;
                    store(&mut tm, field, v);
                }
                Item::DayPadded => {
                    if is_space(input[p]) {
                        p += 1;
                    }
                    let v = num(input, &mut p, 1, 31).ok_or(tm)?;
                    tm.mday = Some(v);
                }
                Item::Frac => {
                    let start = p;
                    let mut ns: u32 = 0;
                    while p < input.len() && input[p].is_ascii_digit() && p - start < 9 {
                        ns = ns * 10 + u32::from(input[p] - b'0');
                        p += 1;
                    }
                    let digits = p - start;
                    if digits == 0 {
                        return Err(tm);
                    }
                    // Nanoseconds are the finest EventTime holds; further digits are dropped.
                    while p < input.len() && input[p].is_ascii_digit() {
                        p += 1;
                    }
                    tm.nsec = ns * 10u32.pow(9 - digits as u32);
                }
                Item::MonthName => {
                    let (i, len) = name(&input[p..], &MONTHS).ok_or(tm)?;
                    tm.mon = Some(i as u32);
                    p += len;
                }
                Item::WeekdayName => {
                    let (_, len) = name(&input[p..], &DAYS).ok_or(tm)?;
                    p += len;
                }
                Item::AmPm => {
                    let rest = &input[p..];
                    if starts_with_ci(rest, b"am") {
                        tm.pm = Some(false);
                    } else if starts_with_ci(rest, b"pm") {
                        tm.pm = Some(true);
                    } else {
                        return Err(tm);
                    }
                    p += 2;
                }
                Item::Offset => {
                    tm.offset = Some(offset(input, &mut p).ok_or(tm)?);
                }
                Item::ZoneName => {
                    let rest = &input[p..];
                    let found = ZONES.iter().find(|(abbr, _)| {
                        starts_with_ci(rest, abbr.as_bytes())
                            && !rest
                                .get(abbr.len())
                                .is_some_and(|b| b.is_ascii_alphanumeric())
                    });
                    let (abbr, off) = found.ok_or(tm)?;
                    tm.offset = Some(*off);
                    p += abbr.len();
                }
                Item::Epoch => {
                    let start = p;
                    let mut v: i64 = 0;
                    while p < input.len() && input[p].is_ascii_digit() {
                        v = v
                            .checked_mul(10)
                            .and_then(|v| v.checked_add(i64::from(input[p] - b'0')))
                            .ok_or(tm)?;
                        p += 1;
                    }
                    if p == start {
                        return Err(tm);
                    }
                    tm.epoch = Some(v);
                }
                Item::SkipDigits => {
                    p += 1;
                    while p < input.len() && input[p].is_ascii_digit() {
                        p += 1;
                    }
                }
            }
        }
        Ok(tm)
    }

    fn to_time(&self, tm: &Tm, zone: LocalZone, now: Option<EventTime>) -> Option<EventTime> {
        if let Some(epoch) = tm.epoch {
            return Some(EventTime::new(epoch, tm.nsec));
        }
        let mut hour = tm.hour;
        match tm.pm {
            Some(true) if hour < 12 => hour += 12,
            Some(false) if hour == 12 => hour = 0,
            _ => {}
        }
        let explicit_year = tm.year.or_else(|| {
            tm.year2.map(|y| match tm.century {
                Some(c) => c * 100 + y,
                None if y <= 68 => 2000 + y,
                None => 1900 + y,
            })
        });
        let (year, mon, mday) = match explicit_year {
            Some(y) => {
                let (m, d) =
                    month_day(y, tm).unwrap_or((tm.mon.unwrap_or(0), tm.mday.unwrap_or(1)));
                (y, m, d)
            }
            None => {
                // No year in the format: today's date fills what the input leaves out.
                let today = local_today(now.unwrap_or_else(EventTime::now), zone);
                let y = tm.century.map_or(today.0, |c| c * 100 + today.0 % 100);
                let (m, d) = match month_day(y, tm) {
                    Some(md) => md,
                    None => (tm.mon.unwrap_or(today.1), tm.mday.unwrap_or(today.2)),
                };
                (y, m, d)
            }
        };
        let days = days_from_civil(year, mon + 1, 1) + i64::from(mday) - 1;
        let local =
            days * 86_400 + i64::from(hour) * 3600 + i64::from(tm.min) * 60 + i64::from(tm.sec);
        let offset = if self.has_zone {
            i64::from(tm.offset.unwrap_or(0))
        } else {
            match zone {
                LocalZone::Fixed(off) => i64::from(off),
                LocalZone::System => system_offset(local),
            }
        };
        Some(EventTime::new(local - offset, tm.nsec))
    }
}

/// Month (0-based) and day: from `%m`/`%d` when both were read, else from `%j`.
fn month_day(year: i64, tm: &Tm) -> Option<(u32, u32)> {
    if let (Some(m), Some(d)) = (tm.mon, tm.mday) {
        return Some((m, d));
    }
    let yday = tm.yday?;
    if tm.mon.is_some() || tm.mday.is_some() {
        return None;
    }
    let leap = is_leap(year);
    let mut left = yday;
    for (m, len) in MONTH_LEN.iter().enumerate() {
        let len = if m == 1 && leap { 29 } else { *len };
        if left < len {
            return Some((m as u32, left + 1));
        }
        left -= len;
    }
    Some((11, 31))
}

const MONTH_LEN: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1-based). Out-of-range days are
/// not an error: they roll over, as `timegm` does.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month 0-based, day) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m - 1, d)
}

fn local_today(now: EventTime, zone: LocalZone) -> (i64, u32, u32) {
    let off = match zone {
        LocalZone::Fixed(o) => i64::from(o),
        LocalZone::System => {
            use chrono::{Local, Offset, TimeZone};
            match chrono::DateTime::from_timestamp(now.sec, 0) {
                Some(utc) => i64::from(
                    Local
                        .offset_from_utc_datetime(&utc.naive_utc())
                        .fix()
                        .local_minus_utc(),
                ),
                None => 0,
            }
        }
    };
    civil_from_days((now.sec + off).div_euclid(86_400))
}

/// Offset east of UTC of the system zone at a local wall-clock time (seconds since the epoch as
/// if it were UTC). In a gap or an overlap the earlier offset wins.
fn system_offset(local: i64) -> i64 {
    use chrono::{Local, Offset, TimeZone};
    let Some(naive) = chrono::DateTime::from_timestamp(local, 0).map(|d| d.naive_utc()) else {
        return 0;
    };
    match Local.from_local_datetime(&naive).earliest() {
        Some(dt) => i64::from(dt.offset().fix().local_minus_utc()),
        None => i64::from(
            Local
                .offset_from_utc_datetime(&naive)
                .fix()
                .local_minus_utc(),
        ),
    }
}

fn store(tm: &mut Tm, field: Field, v: u32) {
    match field {
        Field::Year => tm.year = Some(i64::from(v)),
        Field::Year2 => tm.year2 = Some(i64::from(v)),
        Field::Century => tm.century = Some(i64::from(v)),
        Field::Month => tm.mon = Some(v - 1),
        Field::Day => tm.mday = Some(v),
        Field::Hour | Field::Hour12 => tm.hour = v,
        Field::Minute => tm.min = v,
        Field::Second => tm.sec = v,
        Field::Yday => tm.yday = Some(v - 1),
        Field::Ignore => {}
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// strptime's `_conv_num`: reads digits while the value could still grow within `max`.
#[inline]
fn num(input: &[u8], p: &mut usize, min: u32, max: u32) -> Option<u32> {
    let first = *input.get(*p)?;
    if !first.is_ascii_digit() {
        return None;
    }
    let mut result: u32 = 0;
    let mut rulim = max;
    loop {
        result = result * 10 + u32::from(input[*p] - b'0');
        *p += 1;
        rulim /= 10;
        if result * 10 > max || rulim == 0 || !input.get(*p).is_some_and(u8::is_ascii_digit) {
            break;
        }
    }
    (min..=max).contains(&result).then_some(result)
}

fn starts_with_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Matches a full or three-letter name; full names are tried first so `March` is not read as
/// `Mar` followed by `ch`.
fn name(s: &[u8], names: &[&str]) -> Option<(usize, usize)> {
    for (i, n) in names.iter().enumerate() {
        if starts_with_ci(s, n.as_bytes()) {
            return Some((i, n.len()));
        }
        if starts_with_ci(s, &n.as_bytes()[..3]) {
            return Some((i, 3));
        }
    }
    None
}

fn offset(input: &[u8], p: &mut usize) -> Option<i32> {
    while input.get(*p).is_some_and(|b| is_space(*b)) {
        *p += 1;
    }
    let rest = &input[*p..];
    let sign = match rest.first()? {
        b'Z' => {
            *p += 1;
            return Some(0);
        }
        b'+' => 1,
        b'-' => -1,
        _ => {
            if rest.starts_with(b"GMT") {
                *p += 3;
                return Some(0);
            }
            if rest.starts_with(b"UT") {
                *p += if rest.get(2) == Some(&b'C') { 3 } else { 2 };
                return Some(0);
            }
            for (i, z) in ["EST", "CST", "MST", "PST"].iter().enumerate() {
                if starts_with_ci(rest, z.as_bytes()) {
                    *p += 3;
                    return Some((-5 - i as i32) * 3600);
                }
            }
            for (i, z) in ["EDT", "CDT", "MDT", "PDT"].iter().enumerate() {
                if starts_with_ci(rest, z.as_bytes()) {
                    *p += 3;
                    return Some((-4 - i as i32) * 3600);
                }
            }
            return None;
        }
    };
    let d = |i: usize| {
        rest.get(i)
            .filter(|b| b.is_ascii_digit())
            .map(|b| i32::from(b - b'0'))
    };
    let mut secs = (d(1)? * 10 + d(2)?) * 3600;
    let mut i = 3;
    if rest.get(i) == Some(&b':') {
        i += 1;
    }
    if let Some(m1) = d(i) {
        secs += (m1 * 10 + d(i + 1)?) * 60;
        i += 2;
    } else if i == 4 {
        // "+01:" without minutes: the colon was not part of the offset.
        i = 3;
    }
    *p += i;
    Some(sign * secs)
}

fn compile(fmt: &[u8], items: &mut Vec<Item>, depth: u32) -> Result<(), TimeFormatError> {
    let num = |field, min, max| Item::Num { field, min, max };
    let mut i = 0;
    while i < fmt.len() {
        let c = fmt[i];
        i += 1;
        if is_space(c) {
            if items.last() != Some(&Item::Space) {
                items.push(Item::Space);
            }
            continue;
        }
        if c != b'%' {
            items.push(Item::Lit(c));
            continue;
        }
        let mut conv = *fmt
            .get(i)
            .ok_or_else(|| TimeFormatError("time_format ends with a lone '%'".into()))?;
        i += 1;
        if matches!(conv, b'E' | b'O') {
            conv = *fmt
                .get(i)
                .ok_or_else(|| TimeFormatError("time_format ends inside a conversion".into()))?;
            i += 1;
        }
        let sub: Option<&[u8]> = match conv {
            b'D' | b'x' => Some(b"%m/%d/%y"),
            b'F' => Some(b"%Y-%m-%d"),
            b'R' => Some(b"%H:%M"),
            b'r' => Some(b"%I:%M:%S %p"),
            b'T' | b'X' => Some(b"%H:%M:%S"),
            b'c' => Some(b"%a %b %e %H:%M:%S %Y"),
            _ => None,
        };
        if let Some(sub) = sub {
            if depth > 2 {
                return Err(TimeFormatError("time_format nests too deeply".into()));
            }
            compile(sub, items, depth + 1)?;
            continue;
        }
        let item = match conv {
            b'%' => Item::Lit(b'%'),
            b'Y' => num(Field::Year, 0, 9999),
            b'y' => num(Field::Year2, 0, 99),
            b'C' => num(Field::Century, 0, 99),
            b'm' => num(Field::Month, 1, 12),
            b'd' => num(Field::Day, 1, 31),
            b'e' => Item::DayPadded,
            b'H' | b'k' => num(Field::Hour, 0, 23),
            b'I' | b'l' => num(Field::Hour12, 1, 12),
            b'M' => num(Field::Minute, 0, 59),
            b'S' => num(Field::Second, 0, 60),
            b'j' => num(Field::Yday, 1, 366),
            b'U' | b'W' | b'V' => num(Field::Ignore, 0, 53),
            b'w' => num(Field::Ignore, 0, 6),
            b'u' => num(Field::Ignore, 1, 7),
            b'g' => num(Field::Ignore, 0, 99),
            b'G' => Item::SkipDigits,
            b'L' => Item::Frac,
            b'b' | b'B' | b'h' => Item::MonthName,
            b'a' | b'A' => Item::WeekdayName,
            b'p' => Item::AmPm,
            b'z' => Item::Offset,
            b'Z' => Item::ZoneName,
            b's' => Item::Epoch,
            b'n' | b't' => {
                if items.last() != Some(&Item::Space) {
                    items.push(Item::Space);
                }
                continue;
            }
            other => {
                return Err(TimeFormatError(format!(
                    "time_format has an unsupported conversion '%{}'",
                    char::from(other).escape_default()
                )))
            }
        };
        items.push(item);
    }
    Ok(())
}

/// Parses a `time_offset` value: `+0200`, `-06:00`, `+02`, or `Z`/`UTC` for none. Returns
/// seconds east of UTC.
pub fn parse_offset(s: &str) -> Result<i32, TimeFormatError> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
        return Ok(0);
    }
    let bad = || {
        TimeFormatError(format!(
            "invalid time offset '{s}': expected a value like +0200 or -06:00"
        ))
    };
    let mut p = 0;
    let off = offset(t.as_bytes(), &mut p).ok_or_else(bad)?;
    if p != t.len() || !t.starts_with(['+', '-']) || off.abs() > 24 * 3600 {
        return Err(bad());
    }
    Ok(off)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(fmt: &str, s: &str) -> Option<EventTime> {
        TimeFormat::new(fmt).unwrap().parse(
            s.as_bytes(),
            true,
            LocalZone::Fixed(0),
            Some(EventTime::new(1_767_225_600, 0)),
        )
    }

    #[test]
    fn benchmark_format_with_z() {
        let t = utc("%Y-%m-%dT%H:%M:%S.%L%z", "2026-01-01T00:00:00.004Z").unwrap();
        assert_eq!(t, EventTime::new(1_767_225_600, 4_000_000));
        let t = utc("%Y-%m-%dT%H:%M:%S.%L%z", "2026-01-01T02:00:00.5+0200").unwrap();
        assert_eq!(t, EventTime::new(1_767_225_600, 500_000_000));
        let t = utc(
            "%Y-%m-%dT%H:%M:%S.%L%z",
            "2026-01-01T02:00:00.123456789+02:00",
        )
        .unwrap();
        assert_eq!(t, EventTime::new(1_767_225_600, 123_456_789));
    }

    #[test]
    fn apache_format() {
        let t = utc("%d/%b/%Y:%H:%M:%S %z", "10/Oct/2000:13:55:36 -0700").unwrap();
        assert_eq!(t.sec, 971_211_336);
    }

    #[test]
    fn trailing_text_is_ignored_like_fluent_bit() {
        let t = utc("%Y-%m-%dT%H:%M:%S.%L", "2019-03-01T01:30:00.123456789Z").unwrap();
        assert_eq!(t, EventTime::new(1_551_403_800, 123_456_789));
    }

    #[test]
    fn missing_year_takes_the_current_one() {
        // now = 2026-01-01
        let t = utc("%b %d %H:%M:%S", "Dec 31 23:59:59").unwrap();
        assert_eq!(t.sec, days_from_civil(2026, 12, 31) * 86_400 + 86_399);
        let t = utc("%b %e %H:%M:%S", "Feb  3 01:02:03").unwrap();
        assert_eq!(t.sec, days_from_civil(2026, 2, 3) * 86_400 + 3723);
    }

    #[test]
    fn offsets_and_names() {
        let f = TimeFormat::new("%Y-%m-%d %H:%M:%S").unwrap();
        assert!(!f.has_zone());
        let t = f
            .parse(b"2020-01-01 02:00:00", true, LocalZone::Fixed(7200), None)
            .unwrap();
        assert_eq!(t.sec, 1_577_836_800);
        assert!(TimeFormat::new("%Y-%m-%dT%H:%M:%SZ").unwrap().has_zone());
        assert!(TimeFormat::new("%Y-%m-%dT%H:%M:%S.%LZ").unwrap().has_zone());
        assert_eq!(
            utc(
                "%a, %d %B %Y %I:%M:%S %p %Z",
                "Wed, 01 January 2020 02:00:00 PM CET"
            )
            .unwrap()
            .sec,
            1_577_883_600
        );
        assert_eq!(
            utc("%s.%L", "1577836800.25").unwrap(),
            EventTime::new(1_577_836_800, 250_000_000)
        );
        assert_eq!(
            utc("%y-%j", "20-060").unwrap().sec,
            days_from_civil(2020, 2, 29) * 86_400
        );
        assert_eq!(parse_offset("+0200").unwrap(), 7200);
        assert_eq!(parse_offset("-06:30").unwrap(), -(6 * 3600 + 1800));
        assert!(parse_offset("0200").is_err());
        assert!(parse_offset("+02x").is_err());
    }

    #[test]
    fn strictness() {
        let f = TimeFormat::new("%Y-%m-%dT%H:%M:%S.%L").unwrap();
        assert!(f
            .parse(b"2020-01-01T00:00:00", true, LocalZone::Fixed(0), None)
            .is_none());
        let t = f
            .parse(b"2020-01-01T00:00:00", false, LocalZone::Fixed(0), None)
            .unwrap();
        assert_eq!(t.sec, 1_577_836_800);
        assert!(utc("%Y-%m-%d", "2020-13-01").is_none());
        assert!(utc("%d", "x").is_none());
        assert!(TimeFormat::new("%Q").is_err());
        assert!(TimeFormat::new("abc%").is_err());
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000i64, -1, 0, 59, 10_956, 20_454, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m + 1, d), days);
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(fmt in "[%a-zA-Z :./+-]{0,24}", input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            if let Ok(f) = TimeFormat::new(&fmt) {
                let _ = f.parse(&input, true, LocalZone::Fixed(0), None);
                let _ = f.parse(&input, false, LocalZone::System, None);
            }
        }
    }
}
