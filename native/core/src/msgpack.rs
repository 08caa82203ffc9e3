//! MessagePack, read without building a tree (the span of every object, the entries of a map)
//! and written (the values the engine adds, and JSON values turned into MessagePack).
//!
//! ```
//! use logenrich_core::msgpack::{Reader, Item};
//! let data = [0x81, 0xa3, b'l', b'o', b'g', 0xa1, b'x']; // {"log": "x"}
//! let reader = Reader::new(&data);
//! let (end, item) = reader.object(0, 0).unwrap();
//! assert_eq!(end, data.len());
//! assert!(matches!(item, Item::Map { count: 1, .. }));
//! ```

use crate::json::Span;

use crate::MAX_DEPTH;

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Nil,
    Bool(bool),
    Int(i128),
    Float(f64),
    /// bytes of a str (not checked to be UTF-8)
    Str(Span),
    Bin(Span),
    Array {
        count: usize,
        items_start: usize,
    },
    Map {
        count: usize,
        entries_start: usize,
    },
    Ext {
        code: i8,
        data: Span,
    },
}

#[derive(Debug, PartialEq, Eq)]
pub struct Error {
    pub offset: usize,
    pub message: String,
}

type Result<T> = std::result::Result<T, Error>;

pub struct Reader<'a> {
    pub b: &'a [u8],
    /// containers may not claim more elements than this (as msgpack-python's max_array_len)
    pub max_len: usize,
    /// containers may not nest deeper than this
    pub max_depth: usize,
}

fn err<T>(offset: usize, message: &str) -> Result<T> {
    Err(Error {
        offset,
        message: message.to_string(),
    })
}

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Reader {
            b,
            max_len: usize::MAX,
            max_depth: MAX_DEPTH,
        }
    }

    fn take(&self, pos: usize, n: usize) -> Result<&'a [u8]> {
        self.b.get(pos..pos + n).ok_or(Error {
            offset: pos,
            message: "cut short".into(),
        })
    }

    fn uint(&self, pos: usize, n: usize) -> Result<u64> {
        Ok(self
            .take(pos, n)?
            .iter()
            .fold(0u64, |v, &b| (v << 8) | u64::from(b)))
    }

    /// The item at `pos` (its header only) and where its own bytes end (for a container:
    /// where its elements start).
    pub fn head(&self, pos: usize) -> Result<(Item, usize)> {
        let tag = *self.b.get(pos).ok_or(Error {
            offset: pos,
            message: "cut short".into(),
        })?;
        let p = pos + 1;
        Ok(match tag {
            0x00..=0x7f => (Item::Int(i128::from(tag)), p),
            0xe0..=0xff => (Item::Int(i128::from(tag as i8)), p),
            0x80..=0x8f => (
                Item::Map {
                    count: usize::from(tag & 0x0f),
                    entries_start: p,
                },
                p,
            ),
            0x90..=0x9f => (
                Item::Array {
                    count: usize::from(tag & 0x0f),
                    items_start: p,
                },
                p,
            ),
            0xa0..=0xbf => {
                let n = usize::from(tag & 0x1f);
                self.take(p, n)?;
                (
                    Item::Str(Span {
                        start: p,
                        end: p + n,
                    }),
                    p + n,
                )
            }
            0xc0 => (Item::Nil, p),
            0xc2 => (Item::Bool(false), p),
            0xc3 => (Item::Bool(true), p),
            0xc4 | 0xc5 | 0xc6 | 0xd9 | 0xda | 0xdb => {
                let width = match tag {
                    0xc4 | 0xd9 => 1,
                    0xc5 | 0xda => 2,
                    _ => 4,
                };
                let n = self.uint(p, width)? as usize;
                let start = p + width;
                self.take(start, n)?;
                let span = Span {
                    start,
                    end: start + n,
                };
                (
                    if tag >= 0xd9 {
                        Item::Str(span)
                    } else {
                        Item::Bin(span)
                    },
                    start + n,
                )
            }
            0xc7..=0xc9 => {
                let width = 1 << (tag - 0xc7);
                let n = self.uint(p, width)? as usize;
                let code = *self.take(p + width, 1)?.first().unwrap_or(&0) as i8;
                let start = p + width + 1;
                self.take(start, n)?;
                (
                    Item::Ext {
                        code,
                        data: Span {
                            start,
                            end: start + n,
                        },
                    },
                    start + n,
                )
            }
            0xca => {
                let bits = self.uint(p, 4)? as u32;
                (Item::Float(f64::from(f32::from_bits(bits))), p + 4)
            }
            0xcb => (Item::Float(f64::from_bits(self.uint(p, 8)?)), p + 8),
            0xcc..=0xcf => {
                let width = 1 << (tag - 0xcc);
                (Item::Int(i128::from(self.uint(p, width)?)), p + width)
            }
            0xd0..=0xd3 => {
                let width = 1 << (tag - 0xd0);
                let raw = self.uint(p, width)?;
                let shift = 64 - 8 * width as u32;
                (
                    Item::Int(i128::from(((raw << shift) as i64) >> shift)),
                    p + width,
                )
            }
            0xd4..=0xd8 => {
                let n = 1 << (tag - 0xd4);
                let code = *self.take(p, 1)?.first().unwrap_or(&0) as i8;
                self.take(p + 1, n)?;
                (
                    Item::Ext {
                        code,
                        data: Span {
                            start: p + 1,
                            end: p + 1 + n,
                        },
                    },
                    p + 1 + n,
                )
            }
            0xdc | 0xdd => {
                let width = if tag == 0xdc { 2 } else { 4 };
                let count = self.uint(p, width)? as usize;
                (
                    Item::Array {
                        count,
                        items_start: p + width,
                    },
                    p + width,
                )
            }
            0xde | 0xdf => {
                let width = if tag == 0xde { 2 } else { 4 };
                let count = self.uint(p, width)? as usize;
                (
                    Item::Map {
                        count,
                        entries_start: p + width,
                    },
                    p + width,
                )
            }
            0xc1 => return err(pos, "unknown type 0xc1"),
        })
    }

    /// The object at `pos`, whole: where it ends, and its header item.
    /// `depth`: the level of this object (a container deeper than [`MAX_DEPTH`] is refused).
    pub fn object(&self, pos: usize, depth: usize) -> Result<(usize, Item)> {
        let (item, mut at) = self.head(pos)?;
        match item {
            Item::Array { count, .. } | Item::Map { count, .. } => {
                if depth > self.max_depth {
                    return Err(Error {
                        offset: pos,
                        message: format!("nested more than {} deep", self.max_depth),
                    });
                }
                if count > self.max_len {
                    return err(pos, "a container holds more elements than the limit");
                }
                let per = if matches!(item, Item::Map { .. }) {
                    2
                } else {
                    1
                };
                for _ in 0..count * per {
                    at = self.object(at, depth + 1)?.0;
                }
            }
            _ => {}
        }
        Ok((at, item))
    }

    /// The entries of the map whose entries start at `start`: (key, value) spans.
    pub fn entries(&self, count: usize, start: usize) -> Result<Vec<(Span, Span)>> {
        let mut out = Vec::with_capacity(count);
        let mut at = start;
        for _ in 0..count {
            let key_end = self.object(at, 1)?.0;
            let value_end = self.object(key_end, 1)?.0;
            out.push((
                Span {
                    start: at,
                    end: key_end,
                },
                Span {
                    start: key_end,
                    end: value_end,
                },
            ));
            at = value_end;
        }
        Ok(out)
    }

    /// The text of a str item (invalid UTF-8 read as U+FFFD per maximal invalid sequence).
    pub fn text(&self, span: Span) -> std::borrow::Cow<'a, str> {
        String::from_utf8_lossy(&self.b[span.start..span.end])
    }
}

/// Write a map header for `count` entries.
pub fn write_map_header(out: &mut Vec<u8>, count: usize) {
    if count < 16 {
        out.push(0x80 | count as u8);
    } else if count <= 0xffff {
        out.push(0xde);
        out.extend_from_slice(&(count as u16).to_be_bytes());
    } else {
        out.push(0xdf);
        out.extend_from_slice(&(count as u32).to_be_bytes());
    }
}

pub fn write_array_header(out: &mut Vec<u8>, count: usize) {
    if count < 16 {
        out.push(0x90 | count as u8);
    } else if count <= 0xffff {
        out.push(0xdc);
        out.extend_from_slice(&(count as u16).to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(count as u32).to_be_bytes());
    }
}

pub fn write_str(out: &mut Vec<u8>, text: &str) {
    let n = text.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n <= 0xff {
        out.push(0xd9);
        out.push(n as u8);
    } else if n <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(text.as_bytes());
}

pub fn write_int(out: &mut Vec<u8>, value: i128) {
    if (0..=0x7f).contains(&value) {
        out.push(value as u8);
    } else if (-32..0).contains(&value) {
        out.push(value as i8 as u8);
    } else if value > 0 && value <= i128::from(u64::MAX) {
        out.push(0xcf);
        out.extend_from_slice(&(value as u64).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&(value as i64).to_be_bytes());
    }
}

pub fn write_float(out: &mut Vec<u8>, value: f64) {
    out.push(0xcb);
    out.extend_from_slice(&value.to_bits().to_be_bytes());
}

pub fn write_nil(out: &mut Vec<u8>) {
    out.push(0xc0);
}

pub fn write_bool(out: &mut Vec<u8>, value: bool) {
    out.push(if value { 0xc3 } else { 0xc2 });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_writes() {
        let mut out = Vec::new();
        write_map_header(&mut out, 2);
        write_str(&mut out, "log");
        write_str(&mut out, &"x".repeat(40));
        write_str(&mut out, "n");
        write_int(&mut out, -5000);
        let reader = Reader::new(&out);
        let (end, item) = reader.object(0, 0).unwrap();
        assert_eq!(end, out.len());
        let Item::Map {
            count,
            entries_start,
        } = item
        else {
            panic!("a map")
        };
        let entries = reader.entries(count, entries_start).unwrap();
        assert_eq!(reader.head(entries[1].1.start).unwrap().0, Item::Int(-5000));
        assert!(reader.object(0, 0).is_ok());
        assert!(Reader::new(&out[..out.len() - 1]).object(0, 0).is_err());
    }
}
