//! JSON numbers as the Python engine holds them, and written as orjson writes them.
//!
//! ```
//! use logenrich_core::numbers::{classify, Number, write_float};
//! assert_eq!(classify("12"), Number::Int(12));
//! assert_eq!(classify("1.10"), Number::Float(1.1));
//! assert_eq!(classify("1e400"), Number::Raw);
//! assert_eq!(classify("1.0000000000000001"), Number::Raw); // a double would round it
//! let mut out = Vec::new();
//! write_float(&mut out, 1e16);
//! assert_eq!(out, b"1e+16");
//! ```

#[derive(Clone, Debug, PartialEq)]
pub enum Number {
    /// an integer a 64-bit store holds
    Int(i128),
    /// a double that holds the number exactly as written
    Float(f64),
    /// anything else: kept as written
    Raw,
}

/// How a number literal (JSON grammar) is held.
pub fn classify(text: &str) -> Number {
    if !text.contains(['.', 'e', 'E']) {
        let digits = text.len() - usize::from(text.starts_with('-'));
        if digits <= 20 {
            if let Ok(value) = text.parse::<i128>() {
                if (-(1i128 << 63)..(1i128 << 64)).contains(&value) {
                    return Number::Int(value);
                }
            }
        }
        return Number::Raw;
    }
    let Ok(value) = text.parse::<f64>() else {
        return Number::Raw;
    };
    if !value.is_finite() {
        return Number::Raw;
    }
    if text.len() < 16 && !text.contains(['e', 'E']) {
        return Number::Float(value);
    }
    if decimal(text) == decimal(&format!("{value:e}")) {
        Number::Float(value)
    } else {
        Number::Raw
    }
}

/// A decimal number's value as (negative, significant digits, exponent of the last digit);
/// zero is (false, "", 0) whatever its sign.
fn decimal(text: &str) -> (bool, String, i64) {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], rest[at + 1..].parse::<i64>().unwrap_or(0)),
        None => (rest, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: String = format!("{whole}{fraction}");
    let mut exp = exponent - fraction.len() as i64;
    let trimmed = digits.trim_end_matches('0');
    exp += (digits.len() - trimmed.len()) as i64;
    digits = trimmed.trim_start_matches('0').to_string();
    if digits.is_empty() {
        return (false, String::new(), 0);
    }
    (negative, digits, exp)
}

/// A double as orjson writes it: the shortest digits that read back the same; plain notation
/// from 1e-5 up to 1e16 (with ".0" when whole), else `d.ddde±x`.
pub fn write_float(out: &mut Vec<u8>, value: f64) {
    if !value.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    if value == 0.0 {
        out.extend_from_slice(if value.is_sign_negative() {
            b"-0.0"
        } else {
            b"0.0"
        });
        return;
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if negative {
        out.push(b'-');
    }
    if (-5..16).contains(&exponent) {
        let point = exponent + 1; // digits before the decimal point
        if point <= 0 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-point) as usize));
            out.extend_from_slice(digits.as_bytes());
        } else if point as usize >= digits.len() {
            out.extend_from_slice(digits.as_bytes());
            out.extend(std::iter::repeat_n(b'0', point as usize - digits.len()));
            out.extend_from_slice(b".0");
        } else {
            out.extend_from_slice(&digits.as_bytes()[..point as usize]);
            out.push(b'.');
            out.extend_from_slice(&digits.as_bytes()[point as usize..]);
        }
        return;
    }
    out.push(digits.as_bytes()[0]);
    if digits.len() > 1 {
        out.push(b'.');
        out.extend_from_slice(&digits.as_bytes()[1..]);
    }
    out.push(b'e');
    if exponent > 0 {
        out.push(b'+');
    }
    out.extend_from_slice(exponent.to_string().as_bytes());
}

pub fn write_int(out: &mut Vec<u8>, value: i128) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(value: f64) -> String {
        let mut out = Vec::new();
        write_float(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_as_orjson_writes_them() {
        let cases = [
            (1e16, "1e+16"),
            (1.5e-7, "1.5e-7"),
            (0.1, "0.1"),
            (100.0, "100.0"),
            (1e-5, "0.00001"),
            (9.999000000000001e-05, "0.00009999000000000001"),
            (9.999e-6, "9.999e-6"),
            (-0.0, "-0.0"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (12.0, "12.0"),
            (1e15, "1000000000000000.0"),
            (1.23e-18, "1.23e-18"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (12.34, "12.34"),
            (-1717412561.517, "-1717412561.517"),
        ];
        for (value, text) in cases {
            assert_eq!(written(value), text, "{value:?}");
        }
    }

    #[test]
    fn numbers_held_as_python_holds_them() {
        assert_eq!(classify("-0"), Number::Int(0));
        assert_eq!(
            classify("18446744073709551615"),
            Number::Int(18446744073709551615)
        );
        assert_eq!(classify("18446744073709551616"), Number::Raw);
        assert_eq!(classify("-9223372036854775809"), Number::Raw);
        assert_eq!(
            classify("1701234567.123456"),
            Number::Float(1701234567.123456)
        );
        assert_eq!(classify("1e-400"), Number::Raw);
        assert_eq!(classify("1.5e-45"), Number::Float(1.5e-45));
        assert_eq!(
            classify("0.30000000000000004"),
            Number::Float(0.30000000000000004)
        );
        assert_eq!(classify("1.10000000000000000"), Number::Float(1.1));
        assert_eq!(classify("-0.0e10"), Number::Float(-0.0));
    }
}
