//! Record times, as `app/relay/encoders.py` reads them: RFC 3339 strings or numbers of seconds,
//! milliseconds, microseconds or nanoseconds, kept only between the epoch and the end of 9999.
//!
//! ```
//! use logenrich_core::timefmt::{parse_text, iso};
//! let ns = parse_text("2024-06-03T13:02:41.5+02:00").unwrap();
//! assert_eq!(iso(ns), "2024-06-03T11:02:41.500000000Z");
//! assert_eq!(parse_text("0001-01-01T00:00:00+14:00"), None);
//! ```

use crate::pystr::strip;

pub const MAX_TIME_NS: i128 = 253_402_300_800 * 1_000_000_000;

fn in_range(ns: i128) -> Option<i128> {
    (0..MAX_TIME_NS).contains(&ns).then_some(ns)
}

/// An integer time (any unit, told apart by its size).
pub fn from_int(value: i128) -> Option<i128> {
    let magnitude = value.unsigned_abs();
    let ns = if magnitude >= 100_000_000_000_000_000 {
        value
    } else if magnitude >= 100_000_000_000_000 {
        value * 1_000
    } else if magnitude >= 100_000_000_000 {
        value * 1_000_000
    } else {
        value * 1_000_000_000
    };
    in_range(ns)
}

/// A float time, with Python's arithmetic: truncation for ms/µs/ns, banker's rounding to the
/// microsecond for seconds.
pub fn from_float(value: f64) -> Option<i128> {
    if value.is_nan() || value.abs() >= 1e19 {
        return None;
    }
    let magnitude = value.abs();
    let ns: i128 = if magnitude >= 1e17 {
        value.trunc() as i128
    } else if magnitude >= 1e14 {
        (value * 1_000.0).trunc() as i128
    } else if magnitude >= 1e11 {
        (value * 1_000_000.0).trunc() as i128
    } else {
        (value * 1_000_000.0).round_ties_even() as i128 * 1_000
    };
    in_range(ns)
}

fn digits(text: &[u8]) -> Option<i64> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.,fraction][Z|±HH[:]MM]` (after white space is stripped).
pub fn parse_text(text: &str) -> Option<i128> {
    let b = strip(text).as_bytes();
    if b.len() < 19 || !(b[10] == b'T' || b[10] == b' ') || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    let mut at = 19;
    let mut fraction = 0i64;
    if matches!(b.get(at), Some(b'.' | b',')) {
        let start = at + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        if end == start || end - start > 9 {
            return None;
        }
        fraction = digits(&b[start..end])? * 10i64.pow((9 - (end - start)) as u32);
        at = end;
    }
    let mut offset = 0i64;
    match b.get(at) {
        None => {}
        Some(b'Z') if at + 1 == b.len() => {}
        Some(sign @ (b'+' | b'-')) => {
            let zone = &b[at + 1..];
            let (hh, mm) = match zone.len() {
                5 if zone[2] == b':' => (digits(&zone[..2])?, digits(&zone[3..])?),
                4 => (digits(&zone[..2])?, digits(&zone[2..])?),
                _ => return None,
            };
            if hh > 23 || mm > 59 {
                return None;
            }
            offset = (hh * 3600 + mm * 60) * if *sign == b'-' { -1 } else { 1 };
        }
        _ => return None,
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) || year < 1 {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    in_range(i128::from(seconds) * 1_000_000_000 + i128::from(fraction))
}

/// RFC 3339 UTC with nine fraction digits, as the Python engine writes `@timestamp`.
pub fn iso(ns: i128) -> String {
    let seconds = ns.div_euclid(1_000_000_000);
    let fraction = ns.rem_euclid(1_000_000_000);
    let days = seconds.div_euclid(86_400) as i64;
    let rest = seconds.rem_euclid(86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        fraction as i64
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        assert_eq!(
            parse_text("2024-06-03T11:02:41.517000Z"),
            Some(1_717_412_561_517_000_000)
        );
        assert_eq!(
            parse_text("2024-06-03 11:02:41,517"),
            Some(1_717_412_561_517_000_000)
        );
        assert_eq!(
            parse_text("2024-06-03T13:02:41+0200"),
            Some(1_717_412_561_000_000_000)
        );
        assert_eq!(
            parse_text("9999-12-31T23:59:59Z"),
            Some(253_402_300_799_000_000_000)
        );
        assert_eq!(parse_text("2024-02-30T00:00:00Z"), None);
        assert_eq!(parse_text("2024-06-03T24:00:00Z"), None);
        assert_eq!(parse_text("2024-06-03T11:02:41.1234567890Z"), None);
        assert_eq!(parse_text("yesterday"), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(
            from_float(1_717_412_561.517),
            Some(1_717_412_561_517_000_000)
        );
        assert_eq!(from_int(1_717_412_561_517), Some(1_717_412_561_517_000_000));
        assert_eq!(from_int(-5), None);
        assert_eq!(from_float(1e300), None);
        assert_eq!(from_float(f64::INFINITY), None);
    }

    #[test]
    fn iso_round_trip() {
        for ns in [
            0i128,
            1_717_412_561_517_000_001,
            253_402_300_799_999_999_999 / 1000 * 1000,
        ] {
            assert_eq!(parse_text(&iso(ns)), Some(ns));
        }
    }
}
