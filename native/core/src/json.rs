//! JSON, read without building a tree: a validating scanner that gives the span of every value,
//! the members of an object, and strings unescaped on demand. Input fields are never rewritten:
//! the engine copies their bytes and splices its own members in.
//!
//! Two readings of the same grammar:
//! - **lenient** (request bodies): every text RFC 8259 allows, numbers of any size (kept as
//!   written) and lone surrogate escapes (read as U+FFFD);
//! - **strict** (a log line that is itself JSON, as orjson reads it): a lone surrogate or a number
//!   past a double's range refuses the whole text.
//!
//! Error messages and offsets follow Python's `json` module, so both engines say the same.
//!
//! ```
//! use logenrich_core::json::{Scanner, Mode};
//! let text = br#"{"message": "a\u00e9", "n": 1e400}"#;
//! let scanner = Scanner::new(text, Mode::Lenient);
//! let (end, members) = scanner.object(0, 1).unwrap();
//! assert_eq!(end, text.len());
//! assert_eq!(scanner.key(&members[0]), "message");
//! assert_eq!(scanner.string(members[0].value), "a\u{e9}");
//! assert_eq!(&text[members[1].value.start..members[1].value.end], b"1e400");
//! ```

use std::borrow::Cow;

pub use crate::MAX_DEPTH;

/// How deep a log line that is itself JSON may nest (orjson's limit, the reader of such lines).
pub const LINE_MAX_DEPTH: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Lenient,
    Strict,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Object,
    Array,
    String,
    Number,
    True,
    False,
    Null,
}

/// One member of an object: its key (with the quotes) and its value.
#[derive(Clone, Copy, Debug)]
pub struct Member {
    pub key: Span,
    pub value: Span,
    pub kind: Kind,
    pub escaped_key: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub offset: usize,
    pub message: String,
}

impl Error {
    fn at(offset: usize, message: impl Into<String>) -> Self {
        Error {
            offset,
            message: message.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// The kind of the value that starts at `byte`.
pub fn kind_of(byte: u8) -> Kind {
    match byte {
        b'{' => Kind::Object,
        b'[' => Kind::Array,
        b'"' => Kind::String,
        b't' => Kind::True,
        b'f' => Kind::False,
        b'n' => Kind::Null,
        _ => Kind::Number,
    }
}

pub fn is_ws(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

pub struct Scanner<'a> {
    pub b: &'a [u8],
    mode: Mode,
    max_depth: usize,
}

impl<'a> Scanner<'a> {
    /// A scanner over `b`, which the caller has checked to be UTF-8.
    pub fn new(b: &'a [u8], mode: Mode) -> Self {
        let max_depth = match mode {
            Mode::Lenient => MAX_DEPTH,
            Mode::Strict => LINE_MAX_DEPTH,
        };
        Scanner { b, mode, max_depth }
    }

    /// The same scanner with another nesting limit (to read what the engine wrote, which nests
    /// a level or two deeper than what it read).
    pub fn nesting(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    pub fn skip_ws(&self, mut pos: usize) -> usize {
        while pos < self.b.len() && is_ws(self.b[pos]) {
            pos += 1;
        }
        pos
    }

    fn byte(&self, pos: usize) -> Option<u8> {
        self.b.get(pos).copied()
    }

    /// Where the value starting at `pos` ends (no white space skipped before it).
    pub fn value(&self, pos: usize, depth: usize) -> Result<usize> {
        match self.byte(pos) {
            Some(b'{') => self.object_with(pos, depth + 1, |_| {}),
            Some(b'[') => self.array(pos, depth + 1, |_| Ok(())),
            Some(b'"') => self.string_end(pos),
            Some(b't') => self.literal(pos, b"true"),
            Some(b'f') => self.literal(pos, b"false"),
            Some(b'n') => self.literal(pos, b"null"),
            Some(b'-') if self.b[pos..].starts_with(b"-Infinity") => {
                Err(Error::at(pos, "-Infinity is not a JSON value"))
            }
            Some(b'-' | b'0'..=b'9') => self.number_end(pos),
            Some(b'N') if self.b[pos..].starts_with(b"NaN") => {
                Err(Error::at(pos, "NaN is not a JSON value"))
            }
            Some(b'I') if self.b[pos..].starts_with(b"Infinity") => {
                Err(Error::at(pos, "Infinity is not a JSON value"))
            }
            _ => Err(Error::at(pos, "Expecting value")),
        }
    }

    fn literal(&self, pos: usize, word: &[u8]) -> Result<usize> {
        if self.b[pos..].starts_with(word) {
            Ok(pos + word.len())
        } else {
            Err(Error::at(pos, "Expecting value"))
        }
    }

    fn depth_check(&self, pos: usize, depth: usize) -> Result<()> {
        let limit = self.max_depth;
        if depth > limit {
            return Err(Error::at(pos, format!("nested more than {limit} deep")));
        }
        Ok(())
    }

    /// An array: calls `each` with the span of every element, in order; returns where it ends.
    pub fn array(
        &self,
        pos: usize,
        depth: usize,
        mut each: impl FnMut(Span) -> Result<()>,
    ) -> Result<usize> {
        self.depth_check(pos, depth)?;
        let mut at = self.skip_ws(pos + 1);
        if self.byte(at) == Some(b']') {
            return Ok(at + 1);
        }
        loop {
            let end = self.value(at, depth)?;
            each(Span { start: at, end })?;
            at = self.skip_ws(end);
            match self.byte(at) {
                Some(b',') => at = self.skip_ws(at + 1),
                Some(b']') => return Ok(at + 1),
                _ => return Err(Error::at(at, "Expecting ',' delimiter")),
            }
        }
    }

    /// An object: where it ends, and its members in order.
    pub fn object(&self, pos: usize, depth: usize) -> Result<(usize, Vec<Member>)> {
        let mut members = Vec::with_capacity(8);
        let end = self.object_with(pos, depth, |member| members.push(member))?;
        Ok((end, members))
    }

    /// An object: calls `each` with every member, in order; returns where it ends.
    pub fn object_with(
        &self,
        pos: usize,
        depth: usize,
        mut each: impl FnMut(Member),
    ) -> Result<usize> {
        self.depth_check(pos, depth)?;
        let mut at = self.skip_ws(pos + 1);
        if self.byte(at) == Some(b'}') {
            return Ok(at + 1);
        }
        loop {
            if self.byte(at) != Some(b'"') {
                return Err(Error::at(
                    at,
                    "Expecting property name enclosed in double quotes",
                ));
            }
            let key_start = at;
            let key_end = self.string_end(at)?;
            let escaped_key = self.b[key_start + 1..key_end - 1].contains(&b'\\');
            at = self.skip_ws(key_end);
            if self.byte(at) != Some(b':') {
                return Err(Error::at(at, "Expecting ':' delimiter"));
            }
            at = self.skip_ws(at + 1);
            let kind = match self.byte(at) {
                Some(byte) => kind_of(byte),
                None => return Err(Error::at(at, "Expecting value")),
            };
            let end = self.value(at, depth)?;
            each(Member {
                key: Span {
                    start: key_start,
                    end: key_end,
                },
                value: Span { start: at, end },
                kind,
                escaped_key,
            });
            at = self.skip_ws(end);
            match self.byte(at) {
                Some(b',') => at = self.skip_ws(at + 1),
                Some(b'}') => return Ok(at + 1),
                _ => return Err(Error::at(at, "Expecting ',' delimiter")),
            }
        }
    }

    /// Where the string starting at `pos` (its opening quote) ends, after the closing quote.
    pub fn string_end(&self, pos: usize) -> Result<usize> {
        let b = self.b;
        let mut at = pos + 1;
        loop {
            let Some(found) = string_stop(&b[at..]) else {
                return Err(Error::at(pos, "Unterminated string starting at"));
            };
            at += found;
            match b[at] {
                b'"' => return Ok(at + 1),
                b'\\' => at = self.escape(at)?,
                _ => return Err(Error::at(at, "Invalid control character at")),
            }
        }
    }

    /// Check the escape at `pos` (its backslash); where it ends.
    fn escape(&self, pos: usize) -> Result<usize> {
        match self.byte(pos + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(pos + 2),
            Some(b'u') => {
                let unit = self
                    .hex4(pos)
                    .map_err(|e| Error::at(e.offset + 1, e.message))?;
                if self.mode == Mode::Strict && (0xD800..0xE000).contains(&unit) {
                    let paired = unit < 0xDC00
                        && self.b.get(pos + 6) == Some(&b'\\')
                        && self.b.get(pos + 7) == Some(&b'u')
                        && matches!(self.hex4(pos + 6), Ok(low) if (0xDC00..0xE000).contains(&low));
                    if !paired {
                        return Err(Error::at(pos, "lone surrogate in a string"));
                    }
                    return Ok(pos + 12);
                }
                Ok(pos + 6)
            }
            None => Err(Error::at(pos, "Unterminated string starting at")),
            _ => Err(Error::at(pos, "Invalid \\escape")),
        }
    }

    fn hex4(&self, pos: usize) -> Result<u32> {
        let digits = self
            .b
            .get(pos + 2..pos + 6)
            .ok_or_else(|| Error::at(pos, "Invalid \\uXXXX escape"))?;
        let mut value = 0u32;
        for &d in digits {
            let v = (d as char)
                .to_digit(16)
                .ok_or_else(|| Error::at(pos, "Invalid \\uXXXX escape"))?;
            value = value * 16 + v;
        }
        Ok(value)
    }

    /// Where the number starting at `pos` ends. Strict: a number past a double's range is refused.
    pub fn number_end(&self, pos: usize) -> Result<usize> {
        let b = self.b;
        let mut at = pos;
        if b[at] == b'-' {
            at += 1;
        }
        match self.byte(at) {
            Some(b'0') => at += 1,
            Some(b'1'..=b'9') => {
                while matches!(self.byte(at), Some(b'0'..=b'9')) {
                    at += 1;
                }
            }
            _ => return Err(Error::at(pos, "Expecting value")),
        }
        let mut integer = true;
        if self.byte(at) == Some(b'.') && matches!(self.byte(at + 1), Some(b'0'..=b'9')) {
            integer = false;
            at += 1;
            while matches!(self.byte(at), Some(b'0'..=b'9')) {
                at += 1;
            }
        }
        if matches!(self.byte(at), Some(b'e' | b'E')) {
            let mut exp = at + 1;
            if matches!(self.byte(exp), Some(b'+' | b'-')) {
                exp += 1;
            }
            if matches!(self.byte(exp), Some(b'0'..=b'9')) {
                integer = false;
                at = exp;
                while matches!(self.byte(at), Some(b'0'..=b'9')) {
                    at += 1;
                }
            }
        }
        if self.mode == Mode::Strict {
            let text = std::str::from_utf8(&b[pos..at]).unwrap_or("0");
            if !integer || text.len() > 19 {
                if let Ok(value) = text.parse::<f64>() {
                    if value.is_infinite() {
                        return Err(Error::at(pos, "number is infinity when parsed as double"));
                    }
                }
            }
        }
        Ok(at)
    }

    /// A string value (with its quotes) unescaped; a lone surrogate reads as U+FFFD.
    pub fn string(&self, span: Span) -> Cow<'a, str> {
        unescape(&self.b[span.start + 1..span.end - 1])
    }

    /// A member's key, unescaped.
    pub fn key(&self, member: &Member) -> Cow<'a, str> {
        self.string(member.key)
    }

    /// The last member with this key (JSON readers keep the last of duplicate keys).
    pub fn find<'m>(&self, members: &'m [Member], key: &str) -> Option<&'m Member> {
        members.iter().rev().find(|m| {
            let raw = &self.b[m.key.start + 1..m.key.end - 1];
            if m.escaped_key {
                unescape(raw) == key
            } else {
                raw == key.as_bytes()
            }
        })
    }

    /// The whole text as one value (white space around it allowed); its span.
    pub fn single(&self) -> Result<Span> {
        let start = self.skip_ws(0);
        let end = self.value(start, 0)?;
        if self.skip_ws(end) != self.b.len() {
            return Err(Error::at(end, "extra data after the value"));
        }
        Ok(Span { start, end })
    }
}

/// A JSON value as a tree, for small texts (settings, a log line that is itself JSON).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// a number as written
    Number(String),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The value of the last member with this key, when this is an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_array(&self) -> &[Value] {
        match self {
            Value::Array(items) => items,
            _ => &[],
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(value) => Some(*value),
            _ => None,
        }
    }

    /// An integer as Python's JSON readers give one: written without a fraction or exponent,
    /// and (as orjson reads it) within 64 bits.
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Number(text) if !text.contains(['.', 'e', 'E']) => {
                let value: i128 = text.parse().ok()?;
                (-(1i128 << 63)..(1i128 << 64))
                    .contains(&value)
                    .then_some(value)
            }
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(text) => text.parse().ok(),
            _ => None,
        }
    }
}

/// The whole text as one value tree.
pub fn parse(text: &[u8], mode: Mode) -> Result<Value> {
    if std::str::from_utf8(text).is_err() {
        return Err(Error::at(0, "not valid UTF-8"));
    }
    let scanner = Scanner::new(text, mode);
    let span = scanner.single()?;
    Ok(tree(&scanner, span.start))
}

fn tree(scanner: &Scanner<'_>, pos: usize) -> Value {
    let b = scanner.b;
    match b[pos] {
        b'{' => {
            let (_, members) = scanner.object(pos, 0).unwrap_or((pos, Vec::new()));
            Value::Object(
                members
                    .iter()
                    .map(|m| (scanner.key(m).into_owned(), tree(scanner, m.value.start)))
                    .collect(),
            )
        }
        b'[' => {
            let mut items = Vec::new();
            let _ = scanner.array(pos, 0, |span| {
                items.push(tree(scanner, span.start));
                Ok(())
            });
            Value::Array(items)
        }
        b'"' => {
            let end = scanner.string_end(pos).unwrap_or(pos + 1);
            Value::String(scanner.string(Span { start: pos, end }).into_owned())
        }
        b't' => Value::Bool(true),
        b'f' => Value::Bool(false),
        b'n' => Value::Null,
        _ => {
            let end = scanner.number_end(pos).unwrap_or(pos);
            Value::Number(String::from_utf8_lossy(&b[pos..end]).into_owned())
        }
    }
}

fn hex_value(digits: &[u8]) -> u32 {
    digits
        .iter()
        .fold(0, |v, &d| v * 16 + (d as char).to_digit(16).unwrap_or(0))
}

/// The text of a JSON string's contents (between its quotes), escapes resolved; a surrogate
/// escape without its pair reads as U+FFFD. The contents must have passed the scanner.
pub fn unescape(raw: &[u8]) -> Cow<'_, str> {
    let text = std::str::from_utf8(raw).unwrap_or("");
    if !raw.contains(&b'\\') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let Some(next) = memchr::memchr(b'\\', &raw[i..]).map(|k| i + k) else {
            out.push_str(&text[i..]);
            break;
        };
        out.push_str(&text[i..next]);
        let code = raw.get(next + 1).copied().unwrap_or(b'\\');
        i = next + 2;
        match code {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' if next + 6 <= raw.len() => {
                let unit = hex_value(&raw[next + 2..next + 6]);
                i = next + 6;
                if (0xD800..0xDC00).contains(&unit)
                    && raw.get(i) == Some(&b'\\')
                    && raw.get(i + 1) == Some(&b'u')
                    && i + 6 <= raw.len()
                {
                    let low = hex_value(&raw[i + 2..i + 6]);
                    if (0xDC00..0xE000).contains(&low) {
                        let scalar = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        out.push(char::from_u32(scalar).unwrap_or('\u{FFFD}'));
                        i += 6;
                        continue;
                    }
                }
                out.push(char::from_u32(unit).unwrap_or('\u{FFFD}'));
            }
            _ => out.push('\u{FFFD}'),
        }
    }
    Cow::Owned(out)
}

/// The code units of a JSON string's contents: every character as its scalar value, a pair of
/// surrogate escapes as one scalar, a lone surrogate escape as itself.
pub fn unescape_units(raw: &[u8]) -> Vec<u32> {
    let text = std::str::from_utf8(raw).unwrap_or("");
    let mut out = Vec::with_capacity(raw.len());
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c != '\\' {
            out.push(c as u32);
            continue;
        }
        let Some((_, code)) = chars.next() else { break };
        let unit = match code {
            'b' => 0x08,
            'f' => 0x0C,
            'n' => 0x0A,
            'r' => 0x0D,
            't' => 0x09,
            'u' if at + 6 <= raw.len() => {
                for _ in 0..4 {
                    chars.next();
                }
                hex_value(&raw[at + 2..at + 6])
            }
            other => other as u32,
        };
        if let Some(&previous) = out.last() {
            if (0xD800..0xDC00).contains(&previous) && (0xDC00..0xE000).contains(&unit) {
                out.pop();
                out.push(0x10000 + ((previous - 0xD800) << 10) + (unit - 0xDC00));
                continue;
            }
        }
        out.push(unit);
    }
    out
}

/// Write `text` as a JSON string, escaping as orjson does: `"`, `\` and control characters.
pub fn write_string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    while let Some(found) = string_stop(&bytes[start..]) {
        let at = start + found;
        out.extend_from_slice(&bytes[start..at]);
        let byte = bytes[at];
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0C => b"\\f",
            _ => b"",
        };
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 15)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The offset of the first byte of `s` that ends a run of plain string bytes: a quote, a
/// backslash or a control character. Eight bytes at a time: a byte's high bit is set in a mask
/// when it is one of those; the lowest set bit is exact (a false one can only follow a true one).
fn string_stop(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut chunks = s.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let stops = zero(x ^ (ONES * u64::from(b'"')))
            | zero(x ^ (ONES * u64::from(b'\\')))
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGH);
        if stops != 0 {
            return Some(offset + (stops.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|p| offset + p)
}

/// Valid JSON text without the white space outside its strings (strings copied as they are).
pub fn compact(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut at = 0;
    while at < b.len() {
        let byte = b[at];
        if byte == b'"' {
            let end = string_close(b, at);
            out.extend_from_slice(&b[at..end]);
            at = end;
        } else {
            if !is_ws(byte) {
                out.push(byte);
            }
            at += 1;
        }
    }
    out
}

/// Past the closing quote of the (valid) string whose opening quote is at `pos`.
fn string_close(b: &[u8], pos: usize) -> usize {
    let mut at = pos + 1;
    while let Some(found) = memchr::memchr2(b'"', b'\\', &b[at..]) {
        at += found;
        if b[at] == b'"' {
            return at + 1;
        }
        at += 2;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<Span> {
        Scanner::new(text.as_bytes(), Mode::Lenient).single()
    }

    #[test]
    fn values_and_errors() {
        assert!(check(r#"{"a": [1, 2.5e3, -0, true, null, "x\"y"]}"#).is_ok());
        assert_eq!(
            check("[1,2").unwrap_err().message,
            "Expecting ',' delimiter"
        );
        assert_eq!(check("[1,2").unwrap_err().offset, 4);
        assert_eq!(
            check(r#"{"a" 1}"#).unwrap_err().message,
            "Expecting ':' delimiter"
        );
        assert_eq!(
            check("[01]").unwrap_err().message,
            "Expecting ',' delimiter"
        );
        assert_eq!(check("NaN").unwrap_err().message, "NaN is not a JSON value");
        assert_eq!(
            check("[1] x").unwrap_err().message,
            "extra data after the value"
        );
        assert_eq!(check(r#""a\u12""#).unwrap_err().offset, 3);
        assert_eq!(
            check("\"a\u{1}\"").unwrap_err().message,
            "Invalid control character at"
        );
        assert_eq!(check(r#""a\x""#).unwrap_err().message, "Invalid \\escape");
        assert!(check(r#""\ud800""#).is_ok());
        assert!(Scanner::new(br#""\ud800""#, Mode::Strict).single().is_err());
        assert!(Scanner::new(br#""\ud83d\ude00""#, Mode::Strict)
            .single()
            .is_ok());
        assert!(Scanner::new(b"[1e400]", Mode::Strict).single().is_err());
        assert!(
            Scanner::new(b"[123456789012345678901234567890]", Mode::Strict)
                .single()
                .is_ok()
        );
    }

    #[test]
    fn string_stops_where_a_byte_loop_does() {
        let slow = |s: &[u8]| s.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        let mut cases: Vec<Vec<u8>> = vec![b"".to_vec(), b"abc".to_vec()];
        for length in 0..20 {
            for at in 0..length {
                for stop in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                    let mut case = "é".repeat(length).into_bytes();
                    case.truncate(length);
                    case[at] = stop;
                    cases.push(case);
                }
            }
        }
        cases.push(vec![0x20, 0x7f, 0x80, 0xff, 0x21, 0x5b, 0x5d, 0x22]);
        for case in cases {
            assert_eq!(string_stop(&case), slow(&case), "{case:?}");
        }
    }

    #[test]
    fn compact_keeps_strings() {
        let text = b"{\n  \"a b\": \"x \\\" \\n y\" ,\r\n \"c\" : [ 1 , 2 ]\n}";
        assert_eq!(
            compact(text),
            b"{\"a b\":\"x \\\" \\n y\",\"c\":[1,2]}".to_vec()
        );
    }

    #[test]
    fn depth_limit() {
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(check(&ok).is_ok());
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(check(&deep)
            .unwrap_err()
            .message
            .contains("nested more than"));
    }

    #[test]
    fn members_and_keys() {
        let text = br#"{ "a" : 1 , "b\u0020c": {"d": []}, "a": "last" }"#;
        let scanner = Scanner::new(text, Mode::Lenient);
        let (end, members) = scanner.object(0, 1).unwrap();
        assert_eq!(end, text.len());
        assert_eq!(members.len(), 3);
        assert_eq!(scanner.key(&members[1]), "b c");
        assert_eq!(members[1].kind, Kind::Object);
        assert_eq!(
            scanner.string(scanner.find(&members, "a").unwrap().value),
            "last"
        );
        assert_eq!(&text[members[0].key.start..members[0].key.end], br#""a""#);
        assert_eq!(
            &text[members[1].key.start..members[1].key.end],
            br#""b\u0020c""#
        );
    }

    #[test]
    fn unescaping() {
        assert_eq!(
            unescape(br#"a\nb\u00e9\ud83d\ude00"#),
            "a\nb\u{e9}\u{1F600}"
        );
        assert_eq!(unescape(br#"x\ud800y"#), "x\u{FFFD}y");
        assert_eq!(unescape(br#"\udc00\ud800"#), "\u{FFFD}\u{FFFD}");
    }

    #[test]
    fn writing_strings() {
        let mut out = Vec::new();
        write_string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\u0001é\"".as_bytes());
    }
}
