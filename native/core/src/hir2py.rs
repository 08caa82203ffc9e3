//! A pattern as the `regex` crate understands it, written back in Python's `re` syntax with
//! every class spelt out: Python then matches exactly what this engine (and Vector's VRL) match.
//! `\w`, `\d`, `\s`, `\b`, `.` and case-insensitive letters differ between the two engines on
//! some Unicode characters; the written pattern has none of them left to differ.
//!
//! ```
//! use logenrich_core::hir2py::python_pattern;
//! let written = python_pattern(r"^(?P<user>\S+) ok$").unwrap();
//! assert!(written.starts_with(r"\A(?P<user>"));
//! assert!(written.ends_with(r"\Z"));
//! ```

use regex_syntax::hir::{Class, Hir, HirKind, Look};
use regex_syntax::ParserBuilder;

fn escape_char(c: char, out: &mut String) {
    if c.is_ascii_alphanumeric() || c == '_' {
        out.push(c);
    } else if (c as u32) <= 0xffff {
        out.push_str(&format!("\\u{:04x}", c as u32));
    } else {
        out.push_str(&format!("\\U{:08x}", c as u32));
    }
}

fn class(ranges: &[(char, char)], out: &mut String) {
    if ranges.is_empty() {
        out.push_str("(?!)");
        return;
    }
    out.push('[');
    for &(start, end) in ranges {
        escape_char(start, out);
        if end != start {
            out.push('-');
            escape_char(end, out);
        }
    }
    out.push(']');
}

fn word_class(ascii: bool) -> Result<String, String> {
    let hir = ParserBuilder::new()
        .build()
        .parse(if ascii { r"(?-u:\w)" } else { r"\w" })
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    render(&hir, &mut out)?;
    Ok(out)
}

fn boundary(word: &str, negate: bool) -> String {
    if negate {
        format!("(?:(?<={word})(?={word})|(?<!{word})(?!{word}))")
    } else {
        format!("(?:(?<={word})(?!{word})|(?<!{word})(?={word}))")
    }
}

fn render(hir: &Hir, out: &mut String) -> Result<(), String> {
    match hir.kind() {
        HirKind::Empty => {}
        HirKind::Literal(literal) => {
            let text = std::str::from_utf8(&literal.0)
                .map_err(|_| "a literal that is not UTF-8".to_string())?;
            for c in text.chars() {
                escape_char(c, out);
            }
        }
        HirKind::Class(Class::Unicode(unicode)) => {
            let ranges: Vec<(char, char)> = unicode
                .ranges()
                .iter()
                .map(|r| (r.start(), r.end()))
                .collect();
            class(&ranges, out);
        }
        HirKind::Class(Class::Bytes(bytes)) => {
            let ranges: Vec<(char, char)> = bytes
                .ranges()
                .iter()
                .map(|r| (char::from(r.start()), char::from(r.end())))
                .collect();
            if ranges.iter().any(|&(_, end)| end > '\x7f') {
                return Err("a byte class that can match non-ASCII bytes".into());
            }
            class(&ranges, out);
        }
        HirKind::Look(look) => {
            let text = match look {
                Look::Start => r"\A".to_string(),
                Look::End => r"\Z".to_string(),
                Look::StartLF => "(?m:^)".to_string(),
                Look::EndLF => "(?m:$)".to_string(),
                Look::WordUnicode => boundary(&word_class(false)?, false),
                Look::WordUnicodeNegate => boundary(&word_class(false)?, true),
                Look::WordAscii => boundary(&word_class(true)?, false),
                Look::WordAsciiNegate => boundary(&word_class(true)?, true),
                other => return Err(format!("{other:?} has no equivalent in the rule subset")),
            };
            out.push_str(&text);
        }
        HirKind::Repetition(rep) => {
            out.push_str("(?:");
            render(&rep.sub, out)?;
            out.push(')');
            match (rep.min, rep.max) {
                (0, None) => out.push('*'),
                (1, None) => out.push('+'),
                (0, Some(1)) => out.push('?'),
                (min, None) => out.push_str(&format!("{{{min},}}")),
                (min, Some(max)) if min == max => out.push_str(&format!("{{{min}}}")),
                (min, Some(max)) => out.push_str(&format!("{{{min},{max}}}")),
            }
            if !rep.greedy {
                out.push('?');
            }
        }
        HirKind::Capture(capture) => {
            match &capture.name {
                Some(name) => out.push_str(&format!("(?P<{name}>")),
                None => out.push('('),
            }
            render(&capture.sub, out)?;
            out.push(')');
        }
        HirKind::Concat(parts) => {
            for part in parts {
                render(part, out)?;
            }
        }
        HirKind::Alternation(branches) => {
            out.push_str("(?:");
            for (i, branch) in branches.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                render(branch, out)?;
            }
            out.push(')');
        }
    }
    Ok(())
}

/// The pattern in Python `re` syntax, meaning exactly what it means to the `regex` crate.
pub fn python_pattern(pattern: &str) -> Result<String, String> {
    let hir = ParserBuilder::new()
        .build()
        .parse(pattern)
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    render(&hir, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_patterns() {
        assert_eq!(python_pattern("ab").unwrap(), "ab");
        assert_eq!(
            python_pattern("a.c").unwrap(),
            "a[\\u0000-\\u0009\\u000b-\\U0010ffff]c"
        );
        assert_eq!(
            python_pattern("(?P<n>[0-9]{2,4}?)").unwrap(),
            "(?P<n>(?:[0-9]){2,4}?)"
        );
        assert!(python_pattern(r"\bx").unwrap().starts_with("(?:(?<=["));
        assert!(python_pattern("a|b").is_ok());
        assert!(python_pattern("(").is_err());
    }
}
