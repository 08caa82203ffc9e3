//! Writing a decision into a record, as the output profile says, without rewriting the record:
//! the engine plans which objects get which members, then splices the new bytes into the
//! record's own (JSON or MessagePack). Input fields keep their bytes.

use std::borrow::Cow;

use crate::json::{self, Scanner, Span};
use crate::msgpack::{self, Item, Reader};
use crate::numbers::{write_float, write_int};

/// A value the engine writes.
#[derive(Clone, Debug, PartialEq)]
pub enum Out<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Obj(Vec<(&'a str, Out<'a>)>),
    /// a value written once per table: its JSON and its MessagePack bytes
    Pre(&'a [u8], &'a [u8]),
}

impl Out<'_> {
    pub fn json(&self, out: &mut Vec<u8>) {
        match self {
            Out::Str(text) => json::write_string(out, text),
            Out::Int(value) => write_int(out, i128::from(*value)),
            Out::Float(value) => write_float(out, *value),
            Out::Obj(members) => {
                out.push(b'{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    json::write_string(out, key);
                    out.push(b':');
                    value.json(out);
                }
                out.push(b'}');
            }
            Out::Pre(json, _) => out.extend_from_slice(json),
        }
    }

    pub fn msgpack(&self, out: &mut Vec<u8>) {
        match self {
            Out::Str(text) => msgpack::write_str(out, text),
            Out::Int(value) => msgpack::write_int(out, i128::from(*value)),
            Out::Float(value) => msgpack::write_float(out, *value),
            Out::Obj(members) => {
                msgpack::write_map_header(out, members.len());
                for (key, value) in members {
                    msgpack::write_str(out, key);
                    value.msgpack(out);
                }
            }
            Out::Pre(_, packed) => out.extend_from_slice(packed),
        }
    }
}

/// The document a record lives in.
#[derive(Clone, Copy)]
pub enum Doc<'d> {
    Json(&'d Scanner<'d>),
    Msgpack(&'d Reader<'d>),
}

/// One member of an object in a document.
#[derive(Clone, Copy, Debug)]
pub struct DocMember {
    /// the key's text (JSON: inside the quotes; MessagePack: a str's bytes); None: not a string
    pub key: Option<Span>,
    pub escaped: bool,
    pub value: Span,
    pub is_object: bool,
}

/// An object of the document: where it is and what it holds.
#[derive(Clone, Debug)]
pub struct View {
    pub span: Span,
    /// MessagePack: where the entries start (the header is before)
    pub body: usize,
    pub members: Vec<DocMember>,
}

impl<'d> Doc<'d> {
    fn bytes(&self) -> &'d [u8] {
        match self {
            Doc::Json(scanner) => scanner.b,
            Doc::Msgpack(reader) => reader.b,
        }
    }

    /// The object at `span` whose members the scanner already found (JSON).
    pub fn view_of(&self, span: Span, members: &[json::Member]) -> View {
        let members = members
            .iter()
            .map(|m| DocMember {
                key: Some(Span {
                    start: m.key.start + 1,
                    end: m.key.end - 1,
                }),
                escaped: m.escaped_key,
                value: m.value,
                is_object: m.kind == json::Kind::Object,
            })
            .collect();
        View {
            span,
            body: span.start + 1,
            members,
        }
    }

    /// The object at `pos`, or None when the value there is not one.
    pub fn view(&self, pos: usize) -> Option<View> {
        match self {
            Doc::Json(scanner) => {
                if scanner.b.get(pos) != Some(&b'{') {
                    return None;
                }
                let (end, members) = scanner.object(pos, 0).ok()?;
                let members = members
                    .iter()
                    .map(|m| DocMember {
                        key: Some(Span {
                            start: m.key.start + 1,
                            end: m.key.end - 1,
                        }),
                        escaped: m.escaped_key,
                        value: m.value,
                        is_object: m.kind == json::Kind::Object,
                    })
                    .collect();
                Some(View {
                    span: Span { start: pos, end },
                    body: pos + 1,
                    members,
                })
            }
            Doc::Msgpack(reader) => {
                let (end, item) = reader.object(pos, 0).ok()?;
                let Item::Map {
                    count,
                    entries_start,
                } = item
                else {
                    return None;
                };
                let entries = reader.entries(count, entries_start).ok()?;
                let members = entries
                    .iter()
                    .map(|(key, value)| {
                        let key = match reader.head(key.start) {
                            Ok((Item::Str(span), _)) => Some(span),
                            _ => None,
                        };
                        let is_object =
                            matches!(reader.head(value.start), Ok((Item::Map { .. }, _)));
                        DocMember {
                            key,
                            escaped: false,
                            value: *value,
                            is_object,
                        }
                    })
                    .collect();
                Some(View {
                    span: Span { start: pos, end },
                    body: entries_start,
                    members,
                })
            }
        }
    }

    fn key_is(&self, member: &DocMember, key: &str) -> bool {
        let Some(span) = member.key else {
            return false;
        };
        let raw = &self.bytes()[span.start..span.end];
        if member.escaped {
            json::unescape(raw) == key
        } else {
            raw == key.as_bytes()
        }
    }

    fn encode(&self, value: &Out<'_>, out: &mut Vec<u8>) {
        match self {
            Doc::Json(_) => value.json(out),
            Doc::Msgpack(_) => value.msgpack(out),
        }
    }
}

impl View {
    /// The last member with this key (readers keep the last of repeated keys).
    pub fn find(&self, doc: &Doc<'_>, key: &str) -> Option<&DocMember> {
        self.members.iter().rev().find(|m| doc.key_is(m, key))
    }
}

/// What the engine will write into one object.
#[derive(Debug, Default)]
pub struct Plan<'a> {
    pub existing: Option<View>,
    pub set: Vec<(&'a str, Planned<'a>)>,
}

#[derive(Debug)]
pub enum Planned<'a> {
    Value(Out<'a>),
    Object(Plan<'a>),
}

impl<'a> Plan<'a> {
    pub fn on(view: View) -> Plan<'a> {
        Plan {
            existing: Some(view),
            set: Vec::new(),
        }
    }

    fn has(&self, doc: &Doc<'_>, key: &str) -> bool {
        self.set.iter().any(|(k, _)| *k == key)
            || self
                .existing
                .as_ref()
                .is_some_and(|v| v.find(doc, key).is_some())
    }

    /// The object under `key` to write into: created when absent; None when a value that is
    /// not an object is there.
    pub fn child(&mut self, doc: &Doc<'_>, key: &'a str) -> Option<&mut Plan<'a>> {
        if let Some(position) = self.set.iter().position(|(k, _)| *k == key) {
            return match &mut self.set[position].1 {
                Planned::Object(plan) => Some(plan),
                Planned::Value(_) => None,
            };
        }
        let child = match self.existing.as_ref().and_then(|v| v.find(doc, key)) {
            Some(member) if member.is_object => Plan::on(doc.view(member.value.start)?),
            Some(_) => return None,
            None => Plan::default(),
        };
        self.set.push((key, Planned::Object(child)));
        match &mut self.set.last_mut()?.1 {
            Planned::Object(plan) => Some(plan),
            Planned::Value(_) => None,
        }
    }

    /// A new object under `key`, replacing whatever is there.
    pub fn replace(&mut self, key: &'a str) -> &mut Plan<'a> {
        self.set.retain(|(k, _)| *k != key);
        self.set.push((key, Planned::Object(Plan::default())));
        match &mut self.set.last_mut().expect("just pushed").1 {
            Planned::Object(plan) => plan,
            Planned::Value(_) => unreachable!("just pushed an object"),
        }
    }

    pub fn put(&mut self, doc: &Doc<'_>, key: &'a str, value: Out<'a>, keep_existing: bool) {
        if keep_existing && self.has(doc, key) {
            return;
        }
        if let Some(position) = self.set.iter().position(|(k, _)| *k == key) {
            self.set[position].1 = Planned::Value(value);
        } else {
            self.set.push((key, Planned::Value(value)));
        }
    }

    fn encode_new(&self, doc: &Doc<'_>, out: &mut Vec<u8>) {
        match doc {
            Doc::Json(_) => {
                out.push(b'{');
                for (i, (key, value)) in self.set.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    json::write_string(out, key);
                    out.push(b':');
                    encode_planned(value, doc, out);
                }
                out.push(b'}');
            }
            Doc::Msgpack(_) => {
                msgpack::write_map_header(out, self.set.len());
                for (key, value) in &self.set {
                    msgpack::write_str(out, key);
                    encode_planned(value, doc, out);
                }
            }
        }
    }

    /// The edits that turn the existing object into the planned one.
    pub fn edits(&self, doc: &Doc<'_>, edits: &mut Vec<Edit>) {
        let Some(view) = &self.existing else {
            return;
        };
        let mut appended: Vec<u8> = Vec::new();
        let mut added = 0;
        for (key, value) in &self.set {
            match view.find(doc, key) {
                Some(member) => match value {
                    Planned::Object(plan)
                        if plan
                            .existing
                            .as_ref()
                            .is_some_and(|v| v.span == member.value) =>
                    {
                        plan.edits(doc, edits);
                    }
                    _ => {
                        let mut bytes = Vec::new();
                        encode_planned(value, doc, &mut bytes);
                        edits.push(Edit {
                            start: member.value.start,
                            end: member.value.end,
                            bytes,
                        });
                    }
                },
                None => {
                    match doc {
                        Doc::Json(_) => {
                            if added > 0 || !view.members.is_empty() {
                                appended.push(b',');
                            }
                            json::write_string(&mut appended, key);
                            appended.push(b':');
                        }
                        Doc::Msgpack(_) => msgpack::write_str(&mut appended, key),
                    }
                    encode_planned(value, doc, &mut appended);
                    added += 1;
                }
            }
        }
        if added == 0 {
            return;
        }
        match doc {
            Doc::Json(_) => {
                let close = view.span.end - 1;
                edits.push(Edit {
                    start: close,
                    end: close,
                    bytes: appended,
                });
            }
            Doc::Msgpack(_) => {
                let mut header = Vec::new();
                msgpack::write_map_header(&mut header, view.members.len() + added);
                edits.push(Edit {
                    start: view.span.start,
                    end: view.body,
                    bytes: header,
                });
                edits.push(Edit {
                    start: view.span.end,
                    end: view.span.end,
                    bytes: appended,
                });
            }
        }
    }
}

fn encode_planned(value: &Planned<'_>, doc: &Doc<'_>, out: &mut Vec<u8>) {
    match value {
        Planned::Value(v) => doc.encode(v, out),
        Planned::Object(plan) => plan.encode_new(doc, out),
    }
}

/// Bytes `start..end` of the document replaced by `bytes` (an insertion when start == end).
#[derive(Debug)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub bytes: Vec<u8>,
}

/// Append the bytes of `span` with the edits applied.
pub fn splice(data: &[u8], span: Span, edits: &mut [Edit], out: &mut Vec<u8>) {
    edits.sort_by_key(|e| e.start); // stable: insertions at one place keep their order
    let mut at = span.start;
    for edit in edits.iter() {
        out.extend_from_slice(&data[at..edit.start]);
        out.extend_from_slice(&edit.bytes);
        at = edit.end;
    }
    out.extend_from_slice(&data[at..span.end]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Mode;

    #[test]
    fn splices_members_into_json() {
        let data = br#"{"message": "x", "log": {"level": "W"}, "enrichment": 1}"#;
        let scanner = Scanner::new(data, Mode::Lenient);
        let doc = Doc::Json(&scanner);
        let mut plan = Plan::on(doc.view(0).unwrap());
        plan.replace("enrichment")
            .put(&doc, "classification", Out::Str("a".into()), false);
        let log = plan.child(&doc, "log").unwrap();
        log.put(&doc, "level", Out::Str("info".into()), true);
        log.put(&doc, "logger", Out::Str("Hub".into()), true);
        plan.child(&doc, "rule")
            .unwrap()
            .put(&doc, "id", Out::Int(3), false);
        let mut edits = Vec::new();
        plan.edits(&doc, &mut edits);
        let mut out = Vec::new();
        splice(
            data,
            Span {
                start: 0,
                end: data.len(),
            },
            &mut edits,
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"message": "x", "log": {"level": "W","logger":"Hub"}, "enrichment": {"classification":"a"},"rule":{"id":3}}"#
        );
    }

    #[test]
    fn splices_entries_into_msgpack() {
        let mut data = Vec::new();
        msgpack::write_map_header(&mut data, 1);
        msgpack::write_str(&mut data, "log");
        msgpack::write_str(&mut data, "x");
        let reader = Reader::new(&data);
        let doc = Doc::Msgpack(&reader);
        let mut plan = Plan::on(doc.view(0).unwrap());
        plan.replace("enrichment")
            .put(&doc, "n", Out::Int(1), false);
        let mut edits = Vec::new();
        plan.edits(&doc, &mut edits);
        let mut out = Vec::new();
        splice(
            &data,
            Span {
                start: 0,
                end: data.len(),
            },
            &mut edits,
            &mut out,
        );
        let mut expected = Vec::new();
        msgpack::write_map_header(&mut expected, 2);
        msgpack::write_str(&mut expected, "log");
        msgpack::write_str(&mut expected, "x");
        msgpack::write_str(&mut expected, "enrichment");
        msgpack::write_map_header(&mut expected, 1);
        msgpack::write_str(&mut expected, "n");
        msgpack::write_int(&mut expected, 1);
        assert_eq!(out, expected);
    }
}
