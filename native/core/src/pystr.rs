//! The string semantics the rules were written against: Python's white space (`str.isspace`,
//! which also counts the ASCII separators U+001C..U+001F), `strip`, character positions, and
//! what `int()`, `float()` and `urllib.parse.unquote` accept and give.
//!
//! ```
//! use logenrich_core::pystr::{strip, py_int, py_float};
//! assert_eq!(strip("\u{1c} a \u{3000}"), "a");
//! assert_eq!(py_int(" 1_000 ", &[]), Some(1000i128));
//! assert_eq!(py_float("1e400", &[]), Some(f64::INFINITY));
//! ```

/// The characters Python's `str.isspace()` and regex `\s` take.
pub fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n'
            | '\u{0b}'
            | '\u{0c}'
            | '\r'
            | '\u{1c}'..='\u{1f}'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

pub fn strip(text: &str) -> &str {
    text.trim_matches(is_space)
}

pub fn lstrip(text: &str) -> &str {
    text.trim_start_matches(is_space)
}

pub fn rstrip(text: &str) -> &str {
    text.trim_end_matches(is_space)
}

/// The byte offset of character `n` (the end when the text is shorter).
pub fn char_offset(text: &str, n: usize) -> usize {
    text.char_indices().nth(n).map_or(text.len(), |(i, _)| i)
}

/// The first `n` characters.
pub fn head(text: &str, n: usize) -> &str {
    &text[..char_offset(text, n)]
}

/// What Python does to a string before reading a number from it: decimal digits of any script
/// become ASCII digits, white space becomes a space, anything else non-ASCII is unreadable.
/// `zeros` are the code points of every Unicode decimal digit zero (digits come in runs of ten).
fn ascii_number(text: &str, zeros: &[u32]) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else if is_space(c) {
            out.push(' ');
        } else {
            let code = c as u32;
            let zero = zeros
                .iter()
                .copied()
                .filter(|&z| z <= code && code < z + 10)
                .max()?;
            out.push(char::from(b'0' + (code - zero) as u8));
        }
    }
    Some(out)
}

/// Digits with single underscores between them (PEP 515), as `int()` and `float()` read them.
fn digits_ok(digits: &str) -> bool {
    !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

/// Python's limit on the digits `int()` converts from a string.
pub const MAX_INT_DIGITS: usize = 4300;

/// `int(text)`, base 10; None where Python raises ValueError. Values past i128 are None too
/// (whoever asks wants 64 bits at most).
pub fn py_int(text: &str, zeros: &[u32]) -> Option<i128> {
    let ascii = ascii_number(text, zeros)?;
    let body = ascii.trim_matches(|c: char| c == ' ' || ('\t'..='\r').contains(&c));
    let (negative, digits) = match body.as_bytes().first() {
        Some(b'-') => (true, &body[1..]),
        Some(b'+') => (false, &body[1..]),
        _ => (false, body),
    };
    if !digits_ok(digits) {
        return None;
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if clean.len() > MAX_INT_DIGITS {
        return None;
    }
    let trimmed = clean.trim_start_matches('0');
    if trimmed.len() > 38 {
        return None;
    }
    let value: i128 = if trimmed.is_empty() {
        0
    } else {
        trimmed.parse().ok()?
    };
    Some(if negative { -value } else { value })
}

/// `float(text)`; None where Python raises ValueError.
pub fn py_float(text: &str, zeros: &[u32]) -> Option<f64> {
    let ascii = ascii_number(text, zeros)?;
    let body = ascii.trim_matches(|c: char| c == ' ' || ('\t'..='\r').contains(&c));
    let (sign, rest) = match body.as_bytes().first() {
        Some(b'-') => (-1.0, &body[1..]),
        Some(b'+') => (1.0, &body[1..]),
        _ => (1.0, body),
    };
    let lower = rest.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(sign * f64::INFINITY);
    }
    if lower == "nan" {
        return Some(f64::NAN);
    }
    let (mantissa, exponent) = match lower.find('e') {
        Some(at) => (&lower[..at], Some(&lower[at + 1..])),
        None => (lower.as_str(), None),
    };
    let (whole, fraction) = match mantissa.find('.') {
        Some(at) => (&mantissa[..at], Some(&mantissa[at + 1..])),
        None => (mantissa, None),
    };
    let whole_ok = whole.is_empty() || digits_ok(whole);
    let fraction_ok = fraction.is_none_or(|f| f.is_empty() || digits_ok(f));
    let some_digits = !whole.is_empty() || fraction.is_some_and(|f| !f.is_empty());
    if !(whole_ok && fraction_ok && some_digits) {
        return None;
    }
    if let Some(exp) = exponent {
        let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
        if !digits_ok(digits) {
            return None;
        }
    }
    let clean: String = rest.chars().filter(|&c| c != '_').collect();
    let value: f64 = clean.parse().ok()?;
    Some(sign * value)
}

/// `urllib.parse.unquote(text)`: in each run of ASCII characters, %XX escapes become bytes,
/// read as UTF-8 (a maximal invalid sequence becomes U+FFFD); a `%` not followed by two hex
/// digits stays; other characters stay as they are.
pub fn unquote(text: &str) -> String {
    if !text.contains('%') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let ascii = rest.find(|c: char| !c.is_ascii()).unwrap_or(rest.len());
        out.push_str(&unquote_ascii(&rest[..ascii]));
        rest = &rest[ascii..];
        let other = rest.find(|c: char| c.is_ascii()).unwrap_or(rest.len());
        out.push_str(&rest[..other]);
        rest = &rest[other..];
    }
    out
}

fn unquote_ascii(run: &str) -> String {
    let bytes = run.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            let pair = &bytes[i + 1..i + 3];
            if pair.iter().all(u8::is_ascii_hexdigit) {
                let text = std::str::from_utf8(pair).unwrap_or("00");
                out.push(u8::from_str_radix(text, 16).unwrap_or(0));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARABIC_INDIC: u32 = 0x660;

    #[test]
    fn white_space() {
        assert!(is_space('\u{1f}') && is_space('\u{85}') && !is_space('\u{200b}'));
        assert_eq!(lstrip("\u{a0}\tx "), "x ");
        assert_eq!(head("héllo", 2), "hé");
    }

    #[test]
    fn ints_as_python_reads_them() {
        assert_eq!(py_int("12", &[]), Some(12));
        assert_eq!(py_int("-0012", &[]), Some(-12));
        assert_eq!(py_int("1_000", &[]), Some(1000));
        assert_eq!(py_int("1__0", &[]), None);
        assert_eq!(py_int("_1", &[]), None);
        assert_eq!(py_int("1.0", &[]), None);
        assert_eq!(py_int("\u{661}\u{662}", &[ARABIC_INDIC]), Some(12));
        assert_eq!(py_int(&"9".repeat(4301), &[]), None);
        assert_eq!(py_int("", &[]), None);
        assert_eq!(py_int("\u{1c}5", &[]), None); // ASCII separators are not stripped…
        assert_eq!(py_int("\u{85}5", &[]), Some(5)); // … other white space is
    }

    #[test]
    fn floats_as_python_reads_them() {
        assert_eq!(py_float("12.5", &[]), Some(12.5));
        assert_eq!(py_float(" -.5e1 ", &[]), Some(-5.0));
        assert_eq!(py_float("5.", &[]), Some(5.0));
        assert_eq!(py_float(".", &[]), None);
        assert_eq!(py_float("1_0.2_5", &[]), Some(10.25));
        assert_eq!(py_float("1e", &[]), None);
        assert_eq!(py_float("-Infinity", &[]), Some(f64::NEG_INFINITY));
        assert!(py_float("nan", &[]).is_some_and(f64::is_nan));
        assert_eq!(py_float("0x10", &[]), None);
    }

    #[test]
    fn unquoting() {
        assert_eq!(unquote("a%20b%zz%"), "a b%zz%");
        assert_eq!(unquote("%C3%A9%ff"), "é\u{FFFD}");
        assert_eq!(unquote("%C3é%A9"), "\u{FFFD}é\u{FFFD}"); // each ASCII run on its own
    }
}
