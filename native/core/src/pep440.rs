//! PEP 440 versions, read and ordered as the `packaging` library reads and orders them: the
//! `version-boundary` condition asks whether two versions lie on different sides of a breaking
//! release. Numbers may have any number of digits (up to Python's limit on `int()` of 4300).
//!
//! ```
//! use logenrich_core::pep440::Version;
//! let a = Version::parse("1.5.0").unwrap();
//! let b = Version::parse("v2.0.0rc1").unwrap();
//! let boundary = Version::parse("2.0.0").unwrap();
//! assert!(a < b && b < boundary);
//! assert!(Version::parse("1.0-1").unwrap() == Version::parse("1.0.post1").unwrap());
//! assert!(Version::parse("1.0 beta").is_none());
//! ```

use std::cmp::Ordering;

use crate::pystr::{is_space, MAX_INT_DIGITS};

/// A non-negative integer of any size: its digits without leading zeros.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Number(String);

impl Number {
    fn parse(digits: &str) -> Option<Number> {
        if digits.is_empty()
            || digits.len() > MAX_INT_DIGITS
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        Some(Number(digits.trim_start_matches('0').to_string()))
    }

    fn zero() -> Number {
        Number(String::new())
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Local {
    // strings sort before numbers
    Text(String),
    Int(Number),
}

/// A version's sort key, as `packaging.version._cmpkey` builds it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    epoch: Number,
    release: Vec<Number>, // trailing zeros removed
    pre_rank: i8,
    pre_n: Number,
    post_rank: i8,
    post_n: Number,
    dev_rank: i8,
    dev_n: Number,
    local: Option<Vec<Local>>,
}

struct Cursor<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn separator(&mut self) {
        if matches!(self.peek(), Some(b'.' | b'_' | b'-')) {
            self.pos += 1;
        }
    }

    fn digits(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let text: &'a [u8] = self.text;
        (self.pos > start).then(|| std::str::from_utf8(&text[start..self.pos]).unwrap_or(""))
    }

    /// The first of these words (ASCII, any case) at the cursor.
    fn word(&mut self, words: &[&'static str]) -> Option<&'static str> {
        let rest = &self.text[self.pos..];
        let found = words.iter().find(|w| {
            rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w.as_bytes())
        })?;
        self.pos += found.len();
        Some(found)
    }
}

fn normalize(letter: &str) -> &'static str {
    match letter {
        "alpha" | "a" => "a",
        "beta" | "b" => "b",
        "c" | "pre" | "preview" | "rc" => "rc",
        "dev" => "dev",
        _ => "post",
    }
}

impl Version {
    /// The version, or None where `packaging.version.Version` raises (or Python cannot
    /// convert one of its numbers).
    pub fn parse(text: &str) -> Option<Version> {
        if !text.is_empty() && text.bytes().all(|b| b == b'.' || b.is_ascii_digit()) {
            let release = text
                .split('.')
                .map(Number::parse)
                .collect::<Option<Vec<_>>>()?;
            return Some(Self::key(Number::zero(), release, None, None, None, None));
        }
        let trimmed = text.trim_matches(is_space);
        let mut c = Cursor {
            text: trimmed.as_bytes(),
            pos: 0,
        };
        if matches!(c.peek(), Some(b'v' | b'V')) {
            c.pos += 1;
        }
        let mut epoch = Number::zero();
        let save = c.pos;
        match c.digits() {
            Some(digits) if c.peek() == Some(b'!') => {
                epoch = Number::parse(digits)?;
                c.pos += 1;
            }
            _ => c.pos = save,
        }
        let mut release = vec![Number::parse(c.digits()?)?];
        while c.peek() == Some(b'.') && matches!(c.text.get(c.pos + 1), Some(b'0'..=b'9')) {
            c.pos += 1;
            release.push(Number::parse(c.digits()?)?);
        }
        let save = c.pos;
        c.separator();
        let pre = match c.word(&["alpha", "a", "beta", "b", "preview", "pre", "c", "rc"]) {
            Some(letter) => {
                c.separator();
                let n = c.digits().map_or(Some(Number::zero()), Number::parse)?;
                Some((normalize(letter), n))
            }
            None => {
                c.pos = save;
                None
            }
        };
        let save = c.pos;
        let mut post = None;
        if c.peek() == Some(b'-') {
            c.pos += 1;
            match c.digits() {
                Some(digits) => post = Some(Number::parse(digits)?),
                None => c.pos = save,
            }
        }
        if post.is_none() {
            c.separator();
            if c.word(&["post", "rev", "r"]).is_some() {
                c.separator();
                post = Some(c.digits().map_or(Some(Number::zero()), Number::parse)?);
            } else {
                c.pos = save;
            }
        }
        let save = c.pos;
        c.separator();
        let dev = if c.word(&["dev"]).is_some() {
            c.separator();
            Some(c.digits().map_or(Some(Number::zero()), Number::parse)?)
        } else {
            c.pos = save;
            None
        };
        let mut local = None;
        if c.peek() == Some(b'+') && c.text.get(c.pos + 1).is_some_and(u8::is_ascii_alphanumeric) {
            c.pos += 1;
            let mut parts = Vec::new();
            loop {
                let start = c.pos;
                while c.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
                    c.pos += 1;
                }
                let part = std::str::from_utf8(&c.text[start..c.pos])
                    .unwrap_or("")
                    .to_ascii_lowercase();
                parts.push(if part.bytes().all(|b| b.is_ascii_digit()) {
                    Local::Int(Number::parse(&part)?)
                } else {
                    Local::Text(part)
                });
                if matches!(c.peek(), Some(b'.' | b'_' | b'-'))
                    && c.text.get(c.pos + 1).is_some_and(u8::is_ascii_alphanumeric)
                {
                    c.pos += 1;
                    continue;
                }
                break;
            }
            local = Some(parts);
        }
        if c.pos != c.text.len() {
            return None;
        }
        Some(Self::key(epoch, release, pre, post, dev, local))
    }

    fn key(
        epoch: Number,
        mut release: Vec<Number>,
        pre: Option<(&'static str, Number)>,
        post: Option<Number>,
        dev: Option<Number>,
        local: Option<Vec<Local>>,
    ) -> Version {
        while release.last().is_some_and(Number::is_zero) {
            release.pop();
        }
        let (pre_rank, pre_n) = match (&pre, &post, &dev) {
            (None, None, Some(_)) => (-1, Number::zero()),
            (None, _, _) => (3, Number::zero()),
            (Some((letter, n)), _, _) => (
                match *letter {
                    "a" => 0,
                    "b" => 1,
                    _ => 2,
                },
                n.clone(),
            ),
        };
        Version {
            epoch,
            release,
            pre_rank,
            pre_n,
            post_rank: i8::from(post.is_some()),
            post_n: post.unwrap_or_else(Number::zero),
            dev_rank: i8::from(dev.is_none()),
            dev_n: dev.unwrap_or_else(Number::zero),
            local,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap_or_else(|| panic!("{text} is a version"))
    }

    #[test]
    fn ordering_as_packaging_orders() {
        let ordered = [
            "1.0.dev1",
            "1.0a1",
            "1.0a2.dev1",
            "1.0a2",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+abc",
            "1.0+1",
            "1.0.post1.dev1",
            "1.0.post1",
            "1.1",
            "2!0.1",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1.0.0"), v("1"));
        assert_eq!(v("1.0c1"), v("1.0rc1"));
        assert_eq!(v("1.0-r2"), v("1.0.post2"));
        assert_eq!(v(" V1.0 "), v("1.0"));
        assert_eq!(v("1.0.PREVIEW2"), v("1.0rc2"));
        assert!(v(&"9".repeat(40)) > v(&"9".repeat(39)));
    }

    #[test]
    fn invalid_versions() {
        for text in [
            "",
            "1..2",
            ".1",
            "1.0ſpost1",
            "abc",
            "1.0+",
            "1.0 beta x",
            "1.0-",
            "1!",
        ] {
            assert!(Version::parse(text).is_none(), "{text}");
        }
        assert!(Version::parse(&"1".repeat(MAX_INT_DIGITS + 1)).is_none());
    }
}
