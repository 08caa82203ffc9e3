//! Values rewritten as the Python engine writes them when it re-serialises a decoded value:
//! JSON text as `orjson.dumps` writes it (keys deduplicated, numbers held as Python holds them,
//! lone surrogates written with escapes), MessagePack values made JSON-safe, and JSON values
//! turned into MessagePack.

use crate::json::{self, Scanner};
use crate::msgpack::{self, Item, Reader};
use crate::numbers::{classify, write_float, write_int, Number};

/// The code units of a JSON string's contents: scalars, and lone surrogates as themselves.
pub fn units(raw: &[u8]) -> Vec<u32> {
    json::unescape_units(raw)
}

/// Write a string given as code units: orjson's escaping when it holds no lone surrogate,
/// else Python's `json.dumps` (ASCII only, every other character escaped).
pub fn write_units(out: &mut Vec<u8>, units: &[u32]) {
    if units.iter().all(|&u| !(0xD800..0xE000).contains(&u)) {
        let text: String = units.iter().filter_map(|&u| char::from_u32(u)).collect();
        json::write_string(out, &text);
        return;
    }
    out.push(b'"');
    for &unit in units {
        match unit {
            0x22 => out.extend_from_slice(b"\\\""),
            0x5C => out.extend_from_slice(b"\\\\"),
            0x0A => out.extend_from_slice(b"\\n"),
            0x0D => out.extend_from_slice(b"\\r"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0C => out.extend_from_slice(b"\\f"),
            0x20..=0x7E => out.push(unit as u8),
            0x10000.. => {
                let v = unit - 0x10000;
                out.extend_from_slice(
                    format!(
                        "\\u{:04x}\\u{:04x}",
                        0xD800 + (v >> 10),
                        0xDC00 + (v & 0x3FF)
                    )
                    .as_bytes(),
                );
            }
            _ => out.extend_from_slice(format!("\\u{unit:04x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// A raw JSON value (already validated) written as the Python engine writes its decoded form.
pub fn json_value(scanner: &Scanner<'_>, start: usize, out: &mut Vec<u8>) {
    let b = scanner.b;
    match b[start] {
        b'{' => {
            let (_, members) = scanner.object(start, 0).unwrap_or((start, Vec::new()));
            // a decoded object keeps the first place and the last value of a repeated key
            let keys: Vec<Vec<u32>> = members
                .iter()
                .map(|m| units(&b[m.key.start + 1..m.key.end - 1]))
                .collect();
            out.push(b'{');
            let mut first = true;
            for (i, key) in keys.iter().enumerate() {
                if keys[..i].contains(key) {
                    continue;
                }
                let last = (0..keys.len())
                    .rev()
                    .find(|&j| keys[j] == *key)
                    .unwrap_or(i);
                if !first {
                    out.push(b',');
                }
                first = false;
                write_units(out, key);
                out.push(b':');
                json_value(scanner, members[last].value.start, out);
            }
            out.push(b'}');
        }
        b'[' => {
            out.push(b'[');
            let mut first = true;
            let _ = scanner.array(start, 0, |span| {
                if !first {
                    out.push(b',');
                }
                first = false;
                json_value(scanner, span.start, out);
                Ok(())
            });
            out.push(b']');
        }
        b'"' => {
            let end = scanner.string_end(start).unwrap_or(start + 1);
            write_units(out, &units(&b[start + 1..end - 1]));
        }
        b't' => out.extend_from_slice(b"true"),
        b'f' => out.extend_from_slice(b"false"),
        b'n' => out.extend_from_slice(b"null"),
        _ => {
            let end = scanner.number_end(start).unwrap_or(start);
            let text = std::str::from_utf8(&b[start..end]).unwrap_or("0");
            match classify(text) {
                Number::Int(value) => write_int(out, value),
                Number::Float(value) => write_float(out, value),
                Number::Raw => out.extend_from_slice(text.as_bytes()),
            }
        }
    }
}

/// A float as Python's `repr` writes it (for a MessagePack timestamp used as a map key).
fn python_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .into();
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    if (-4..16).contains(&exponent) {
        let mut out = Vec::new();
        write_float(&mut out, value);
        return String::from_utf8(out).unwrap_or_default();
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |v, &b| (v << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(TABLE[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A MessagePack timestamp (extension -1): (seconds, nanoseconds), or None when malformed.
pub fn timestamp(data: &[u8]) -> Option<(i64, u32)> {
    match data.len() {
        4 => Some((i64::from(u32::from_be_bytes(data.try_into().ok()?)), 0)),
        8 => {
            let v = u64::from_be_bytes(data.try_into().ok()?);
            let ns = (v >> 34) as u32;
            (ns < 1_000_000_000).then_some(((v & 0x3_ffff_ffff) as i64, ns))
        }
        12 => {
            let ns = u32::from_be_bytes(data[..4].try_into().ok()?);
            let s = i64::from_be_bytes(data[4..].try_into().ok()?);
            (ns < 1_000_000_000).then_some((s, ns))
        }
        _ => None,
    }
}

fn unix(seconds: i64, nanoseconds: u32) -> f64 {
    seconds as f64 + f64::from(nanoseconds) / 1e9
}

/// A MessagePack map key as the text JSON holds it.
fn msgpack_key(reader: &Reader<'_>, pos: usize) -> String {
    let Ok((item, _)) = reader.head(pos) else {
        return String::new();
    };
    match item {
        Item::Str(span) => reader.text(span).into_owned(),
        Item::Bin(span) => bin_text(&reader.b[span.start..span.end]),
        Item::Nil => "null".into(),
        Item::Bool(v) => v.to_string(),
        Item::Int(v) => v.to_string(),
        Item::Float(v) => {
            let mut out = Vec::new();
            write_float(&mut out, v);
            String::from_utf8(out).unwrap_or_default()
        }
        Item::Ext { code: -1, data } => {
            let (s, ns) = timestamp(&reader.b[data.start..data.end]).unwrap_or((0, 0));
            python_repr(unix(s, ns))
        }
        Item::Ext { code, data } => {
            format!(
                "{{'ext_type': {code}, 'data': '{}'}}",
                hex(&reader.b[data.start..data.end])
            )
        }
        Item::Array { .. } | Item::Map { .. } => String::new(),
    }
}

fn bin_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => base64(bytes),
    }
}

/// A MessagePack value written as JSON, as the Python engine makes it JSON-safe: invalid UTF-8
/// as U+FFFD, binary as text (UTF-8) or base64, extensions as {"ext_type", "data"}, timestamps
/// as seconds, keys as text (a repeated key keeps its first place and its last value).
/// `prefix` members are written first (a Fluent Bit event's `date`).
pub fn msgpack_as_json(
    reader: &Reader<'_>,
    pos: usize,
    out: &mut Vec<u8>,
    prefix: Option<(&str, f64)>,
) {
    let Ok((item, after)) = reader.head(pos) else {
        out.extend_from_slice(b"null");
        return;
    };
    match item {
        Item::Nil => out.extend_from_slice(b"null"),
        Item::Bool(v) => out.extend_from_slice(if v { b"true" } else { b"false" }),
        Item::Int(v) => write_int(out, v),
        Item::Float(v) => write_float(out, v),
        Item::Str(span) => json::write_string(out, &reader.text(span)),
        Item::Bin(span) => json::write_string(out, &bin_text(&reader.b[span.start..span.end])),
        Item::Ext { code: -1, data } => {
            let (s, ns) = timestamp(&reader.b[data.start..data.end]).unwrap_or((0, 0));
            write_float(out, unix(s, ns));
        }
        Item::Ext { code, data } => {
            out.extend_from_slice(b"{\"ext_type\":");
            write_int(out, i128::from(code));
            out.extend_from_slice(b",\"data\":");
            json::write_string(out, &hex(&reader.b[data.start..data.end]));
            out.push(b'}');
        }
        Item::Array { count, .. } => {
            out.push(b'[');
            let mut at = after;
            for i in 0..count {
                if i > 0 {
                    out.push(b',');
                }
                msgpack_as_json(reader, at, out, None);
                at = reader.object(at, 1).map_or(at, |(end, _)| end);
            }
            out.push(b']');
        }
        Item::Map {
            count,
            entries_start,
        } => {
            let entries = reader.entries(count, entries_start).unwrap_or_default();
            let keys: Vec<String> = entries
                .iter()
                .map(|(k, _)| msgpack_key(reader, k.start))
                .collect();
            out.push(b'{');
            let mut first = true;
            if let Some((name, value)) = prefix {
                if !keys.iter().any(|k| k == name) {
                    json::write_string(out, name);
                    out.push(b':');
                    write_float(out, value);
                    first = false;
                }
            }
            for (i, key) in keys.iter().enumerate() {
                if keys[..i].contains(key) {
                    continue;
                }
                let last = (0..keys.len())
                    .rev()
                    .find(|&j| keys[j] == *key)
                    .unwrap_or(i);
                if !first {
                    out.push(b',');
                }
                first = false;
                json::write_string(out, key);
                out.push(b':');
                msgpack_as_json(reader, entries[last].1.start, out, None);
            }
            out.push(b'}');
        }
    }
}

/// A raw JSON value written as MessagePack, as the Python engine packs a decoded JSON value: a
/// number MessagePack cannot hold as its JSON text, a lone surrogate as "?".
pub fn json_as_msgpack(scanner: &Scanner<'_>, start: usize, out: &mut Vec<u8>) {
    let b = scanner.b;
    match b[start] {
        b'{' => {
            let (_, members) = scanner.object(start, 0).unwrap_or((start, Vec::new()));
            let keys: Vec<Vec<u32>> = members
                .iter()
                .map(|m| units(&b[m.key.start + 1..m.key.end - 1]))
                .collect();
            let distinct: Vec<usize> = (0..keys.len())
                .filter(|&i| !keys[..i].contains(&keys[i]))
                .collect();
            msgpack::write_map_header(out, distinct.len());
            for i in distinct {
                let last = (0..keys.len())
                    .rev()
                    .find(|&j| keys[j] == keys[i])
                    .unwrap_or(i);
                msgpack::write_str(out, &question_marks(&keys[i]));
                json_as_msgpack(scanner, members[last].value.start, out);
            }
        }
        b'[' => {
            let mut items = Vec::new();
            let _ = scanner.array(start, 0, |span| {
                items.push(span.start);
                Ok(())
            });
            msgpack::write_array_header(out, items.len());
            for item in items {
                json_as_msgpack(scanner, item, out);
            }
        }
        b'"' => {
            let end = scanner.string_end(start).unwrap_or(start + 1);
            msgpack::write_str(out, &question_marks(&units(&b[start + 1..end - 1])));
        }
        b't' => msgpack::write_bool(out, true),
        b'f' => msgpack::write_bool(out, false),
        b'n' => msgpack::write_nil(out),
        _ => {
            let end = scanner.number_end(start).unwrap_or(start);
            let text = std::str::from_utf8(&b[start..end]).unwrap_or("0");
            match classify(text) {
                Number::Int(value) => msgpack::write_int(out, value),
                Number::Float(value) => msgpack::write_float(out, value),
                Number::Raw => msgpack::write_str(out, text),
            }
        }
    }
}

fn question_marks(units: &[u32]) -> String {
    units
        .iter()
        .map(|&u| char::from_u32(u).unwrap_or('?'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Mode;

    fn canonical(text: &str) -> String {
        let scanner = Scanner::new(text.as_bytes(), Mode::Lenient);
        let span = scanner.single().unwrap();
        let mut out = Vec::new();
        json_value(&scanner, span.start, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_as_python_rewrites_it() {
        assert_eq!(
            canonical(r#"{ "a" : 1.10, "b": [1e400, -0], "a": "\u00e9" }"#),
            r#"{"a":"é","b":[1e400,0]}"#
        );
        assert_eq!(
            canonical(r#""x\ud800é\ud83d\ude00""#),
            r#""x\ud800\u00e9\ud83d\ude00""#
        );
        assert_eq!(canonical(r#""\u007f""#), "\"\u{7f}\"");
    }

    #[test]
    fn helpers() {
        assert_eq!(base64(b"\xff\x00"), "/wA=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(python_repr(1e16), "1e+16");
        assert_eq!(python_repr(1e-5), "1e-05");
        assert_eq!(python_repr(0.0001), "0.0001");
        assert_eq!(timestamp(&[0, 0, 0, 1]), Some((1, 0)));
    }
}
