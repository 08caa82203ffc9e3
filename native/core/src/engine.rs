//! One batch: decode (every framing a shipper sends), decide every record, write the answer or
//! a downstream's request body — `app/engine.py`'s `PythonEngine.run`, step for step.

use std::borrow::Cow;

use crate::canonical::{json_as_msgpack, json_value, msgpack_as_json, timestamp};
use crate::json::{self, Mode, Scanner, Span};
use crate::msgpack::{Item, Reader};
use crate::numbers::{classify, Number};
use crate::output::{self, Loki};
use crate::prefix::{Formats, PrefixScratch, Source};
use crate::rules::{Field, Fields, MatchScratch, Matcher};
use crate::write::{splice, Doc, Edit, Out, Plan, View};
use crate::{timefmt, Severity};

pub struct RuleValues {
    pub id: String,
    pub title: String,
    pub category: String,
    pub doc_url: String,
    pub summary: String,
    pub action: String,
    pub ruleset: String,
    pub ruleset_version: String,
    /// each constant value as JSON and as MessagePack, written once per table
    pub tokens: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Where each constant is in `RuleValues::tokens`.
pub const TOKEN_ID: usize = 0;
pub const TOKEN_TITLE: usize = 1;
pub const TOKEN_CATEGORY: usize = 2;
pub const TOKEN_DOC_URL: usize = 3;
pub const TOKEN_SUMMARY: usize = 4;
pub const TOKEN_ACTION: usize = 5;
pub const TOKEN_RULESET: usize = 6;
pub const TOKEN_RULESET_VERSION: usize = 7;

impl RuleValues {
    /// The values with their tokens written.
    pub fn with_tokens(mut self) -> RuleValues {
        let texts = [
            &self.id,
            &self.title,
            &self.category,
            &self.doc_url,
            &self.summary,
            &self.action,
            &self.ruleset,
            &self.ruleset_version,
        ];
        self.tokens = texts
            .iter()
            .map(|text| {
                let mut json_token = Vec::new();
                json::write_string(&mut json_token, text);
                let mut packed = Vec::new();
                crate::msgpack::write_str(&mut packed, text);
                (json_token, packed)
            })
            .collect();
        self
    }
}

/// The values a profile writes (`app.profiles.Value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueName {
    Classification,
    Title,
    Category,
    Severity,
    SyslogSeverity,
    Level,
    DocUrl,
    Summary,
    Action,
    Fields,
    Source,
    SourceLogger,
    SourceFile,
    SourceLine,
    Ruleset,
    RulesetVersion,
}

impl ValueName {
    pub fn from_name(name: &str) -> Option<ValueName> {
        Some(match name {
            "classification" => ValueName::Classification,
            "title" => ValueName::Title,
            "category" => ValueName::Category,
            "severity" => ValueName::Severity,
            "syslog_severity" => ValueName::SyslogSeverity,
            "level" => ValueName::Level,
            "doc_url" => ValueName::DocUrl,
            "summary" => ValueName::Summary,
            "action" => ValueName::Action,
            "fields" => ValueName::Fields,
            "source" => ValueName::Source,
            "source_logger" => ValueName::SourceLogger,
            "source_file" => ValueName::SourceFile,
            "source_line" => ValueName::SourceLine,
            "ruleset" => ValueName::Ruleset,
            "ruleset_version" => ValueName::RulesetVersion,
            _ => return None,
        })
    }
}

pub struct Slot {
    pub key: String,
    pub value: ValueName,
    pub keep: bool,
}

pub struct Target {
    pub path: Vec<String>,
    pub slots: Vec<Slot>,
    pub replace: bool,
    pub needs: Vec<ValueName>,
}

pub struct Profile {
    pub targets: Vec<Target>,
    pub guard_key: Option<String>,
}

/// The default profile's object key, and each slot's `"key":` JSON with its value.
pub type SingleObject = (String, Vec<(Vec<u8>, ValueName)>);

impl Profile {
    /// The default profile's shape (one object at the top, replaced whole): the key, and each
    /// slot's `"key":` JSON with its value. Such a profile is written straight into JSON records.
    pub fn single_object(&self) -> Option<SingleObject> {
        let [target] = self.targets.as_slice() else {
            return None;
        };
        if target.path.len() != 1 || !target.replace || !target.needs.is_empty() {
            return None;
        }
        let slots = target
            .slots
            .iter()
            .map(|slot| {
                let mut key = Vec::new();
                json::write_string(&mut key, &slot.key);
                key.push(b':');
                (key, slot.value)
            })
            .collect();
        Some((target.path[0].clone(), slots))
    }
}

pub struct Engine {
    /// the default profile's object key and slots, when the profile has that shape
    pub single_object: Option<SingleObject>,
    pub matcher: Matcher,
    pub formats: Formats,
    pub profile: Profile,
    pub values: Vec<RuleValues>,
    pub message_fields: Vec<Vec<String>>,
    pub max_message_bytes: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Json,
    Ndjson,
    Msgpack,
    Text,
    Sniff,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    Json,
    Ndjson,
    JsonStream,
    Object,
    Msgpack,
    Text,
}

impl Framing {
    pub fn name(self) -> &'static str {
        match self {
            Framing::Json => "json",
            Framing::Ndjson => "ndjson",
            Framing::JsonStream => "json_stream",
            Framing::Object => "object",
            Framing::Msgpack => "msgpack",
            Framing::Text => "text",
        }
    }

    fn media(self) -> u8 {
        match self {
            Framing::Json | Framing::Object => 0,
            Framing::Ndjson | Framing::JsonStream | Framing::Text => 1,
            Framing::Msgpack => 2,
        }
    }
}

#[derive(Clone, Debug)]
pub enum Output {
    /// the answer: in the request's framing unless Accept named another kind
    Answer(Option<Framing>),
    JsonLines {
        array: bool,
    },
    Bulk {
        index: String,
    },
    Loki {
        labels: Vec<(String, String)>,
        line_json: bool,
    },
}

pub struct Limits {
    pub max_records: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub struct CodecError {
    /// "undecodable" or "too_many_records"
    pub kind: &'static str,
    pub reason: String,
    /// where in the body, when known
    pub offset: Option<usize>,
    /// what the body was read as ("JSON", "NDJSON", "MessagePack")
    pub framing: &'static str,
}

impl CodecError {
    fn json(error: json::Error, framing: &'static str) -> CodecError {
        CodecError {
            kind: "undecodable",
            reason: error.message,
            offset: Some(error.offset),
            framing,
        }
    }

    fn too_many(limit: usize) -> CodecError {
        CodecError {
            kind: "too_many_records",
            reason: format!("the batch holds more than the limit of {limit} records"),
            offset: None,
            framing: "",
        }
    }

    /// A body refused for nesting too deep (see [`crate::MAX_DEPTH`]).
    fn is_depth(&self) -> bool {
        self.reason.starts_with("nested more than")
    }

    fn msgpack(offset: usize, reason: impl Into<String>) -> CodecError {
        CodecError {
            kind: "undecodable",
            reason: reason.into(),
            offset: Some(offset),
            framing: "MessagePack",
        }
    }
}

pub const OUTCOME_PASSTHROUGH: u8 = 0;
pub const OUTCOME_UNCLASSIFIED: u8 = 1;
pub const OUTCOME_CLASSIFIED: u8 = 2;

#[derive(Debug, Default)]
pub struct BatchResult {
    pub body: Vec<u8>,
    pub framing: Option<Framing>,
    pub out_framing: Option<Framing>,
    pub records: usize,
    /// (classification, category, severity) -> records; passthrough under ("", "", "")
    pub counts: Vec<((String, String, String), usize)>,
    pub outcomes: Vec<u8>,
    pub ids: Vec<String>,
    pub documents: Vec<(usize, usize)>,
}

/// One record of the decoded batch.
#[derive(Clone, Copy)]
enum Record {
    /// a JSON value in the body (or in the text framing's synthesised records)
    Json(Span),
    /// a MessagePack object: the whole object, and the record in it (an event's second item)
    Msgpack {
        object: Span,
        record: Span,
        event: bool,
    },
}

struct Decoded {
    framing: Framing,
    trailing_newline: bool,
    records: Vec<Record>,
    /// the members of each JSON record that is an object, found while it was checked
    members: Vec<Option<Vec<json::Member>>>,
    /// the bytes records live in: the body, or synthesised JSON records for text
    synthesised: Option<Vec<u8>>,
    /// text framing: each record's text (its id's bytes)
    texts: Vec<String>,
    /// JSON read again without white space: each record's span in the body as received (its
    /// id's bytes)
    received: Option<Vec<Span>>,
}

/// What one record is (`app.enrich.Decision`).
pub struct Decision<'m, 't> {
    pub outcome: u8,
    pub rule: Option<usize>,
    pub severity: Option<Severity>,
    pub level: Option<Severity>,
    pub fields: Option<Fields<'m, 't>>,
    pub source: Option<Source<'t>>,
}

impl Decision<'_, '_> {
    fn passed() -> Self {
        Decision {
            outcome: OUTCOME_PASSTHROUGH,
            rule: None,
            severity: None,
            level: None,
            fields: None,
            source: None,
        }
    }
}

fn is_ws(b: u8) -> bool {
    json::is_ws(b)
}

fn strip_ws(data: &[u8]) -> (usize, usize) {
    let start = data.iter().position(|&b| !is_ws(b)).unwrap_or(data.len());
    let end = data
        .iter()
        .rposition(|&b| !is_ws(b))
        .map_or(start, |i| i + 1);
    (start, end.max(start))
}

// --- decoding ----------------------------------------------------------------------------------

fn utf8(data: &[u8], framing: &'static str) -> Result<(), CodecError> {
    std::str::from_utf8(data)
        .map(|_| ())
        .map_err(|e| CodecError {
            kind: "undecodable",
            reason: "not valid UTF-8".into(),
            offset: Some(e.valid_up_to()),
            framing,
        })
}

/// The elements of the array at `start`: `each` checks the element at a position and says where
/// it ends; where the array ends.
fn array_items(
    scanner: &Scanner<'_>,
    start: usize,
    mut each: impl FnMut(usize) -> json::Result<usize>,
) -> json::Result<usize> {
    let b = scanner.b;
    let mut at = scanner.skip_ws(start + 1);
    if b.get(at) == Some(&b']') {
        return Ok(at + 1);
    }
    loop {
        let end = each(at)?;
        at = scanner.skip_ws(end);
        match b.get(at) {
            Some(b',') => at = scanner.skip_ws(at + 1),
            Some(b']') => return Ok(at + 1),
            _ => {
                return Err(json::Error {
                    offset: at,
                    message: "Expecting ',' delimiter".into(),
                })
            }
        }
    }
}

type Scanned = Vec<(Record, Option<Vec<json::Member>>)>;

fn decode_array(data: &[u8], start: usize, limits: &Limits) -> Result<Scanned, CodecError> {
    utf8(data, "JSON")?;
    let scanner = Scanner::new(data, Mode::Lenient);
    let mut records = Vec::new();
    let limit = limits.max_records;
    let end = array_items(&scanner, start, |pos| {
        if records.len() >= limit {
            return Err(json::Error {
                offset: usize::MAX,
                message: String::new(),
            });
        }
        let (end, members) = scan_value(&scanner, pos, 2)?;
        records.push((Record::Json(Span { start: pos, end }), members));
        Ok(end)
    })
    .map_err(|e| {
        if e.offset == usize::MAX {
            CodecError::too_many(limit)
        } else {
            CodecError::json(e, "JSON")
        }
    })?;
    if scanner.skip_ws(end) != data.len() {
        return Err(CodecError::json(
            json::Error {
                offset: end,
                message: "extra data after the value".into(),
            },
            "JSON",
        ));
    }
    Ok(records)
}

fn decode_lines(data: &[u8], limits: &Limits) -> Result<Scanned, CodecError> {
    let mut records = Vec::new();
    let mut start = 0;
    // one check of the whole body; line by line only when it fails (the first bad line decides)
    let whole_utf8 = std::str::from_utf8(data).is_ok();
    let ends = memchr::memchr_iter(b'\n', data).chain(std::iter::once(data.len()));
    for end in ends {
        let line = &data[start..end];
        let (a, b) = strip_ws(line);
        if a < b {
            if records.len() >= limits.max_records {
                return Err(CodecError::too_many(limits.max_records));
            }
            if !whole_utf8 {
                utf8(line, "NDJSON").map_err(|mut e| {
                    e.offset = e.offset.map(|o| o + start);
                    e
                })?;
            }
            let scanner = Scanner::new(&data[..start + line.len()], Mode::Lenient);
            let (end, members) =
                scan_value(&scanner, start + a, 1).map_err(|e| CodecError::json(e, "NDJSON"))?;
            if end != start + b {
                return Err(CodecError::json(
                    json::Error {
                        offset: end,
                        message: "extra data after the value".into(),
                    },
                    "NDJSON",
                ));
            }
            records.push((
                Record::Json(Span {
                    start: start + a,
                    end: start + b,
                }),
                members,
            ));
        }
        start += line.len() + 1;
    }
    Ok(records)
}

fn decode_stream(data: &[u8], limits: &Limits) -> Result<Scanned, CodecError> {
    utf8(data, "JSON")?;
    let scanner = Scanner::new(data, Mode::Lenient);
    let mut records = Vec::new();
    let mut pos = 0;
    loop {
        pos = scanner.skip_ws(pos);
        if pos >= data.len() {
            return Ok(records);
        }
        if records.len() >= limits.max_records {
            return Err(CodecError::too_many(limits.max_records));
        }
        let (end, members) =
            scan_value(&scanner, pos, 1).map_err(|e| CodecError::json(e, "JSON"))?;
        records.push((Record::Json(Span { start: pos, end }), members));
        pos = end;
    }
}

fn decode_object(data: &[u8]) -> Result<Scanned, CodecError> {
    utf8(data, "JSON")?;
    let span = Scanner::new(data, Mode::Lenient)
        .single()
        .map_err(|e| CodecError::json(e, "JSON"))?;
    Ok(vec![(Record::Json(span), None)])
}

fn decoded(
    framing: Framing,
    trailing: bool,
    records: Vec<(Record, Option<Vec<json::Member>>)>,
) -> Decoded {
    let (records, members) = records.into_iter().unzip();
    Decoded {
        framing,
        trailing_newline: trailing,
        records,
        members,
        synthesised: None,
        texts: Vec::new(),
        received: None,
    }
}

/// Check the JSON value at `pos`, nested `level` deep in the body (1: the body's top level):
/// where it ends, and its members when it is an object.
fn scan_value(
    scanner: &Scanner<'_>,
    pos: usize,
    level: usize,
) -> json::Result<(usize, Option<Vec<json::Member>>)> {
    if scanner.b.get(pos) == Some(&b'{') {
        let (end, members) = scanner.object(pos, level)?;
        return Ok((end, Some(members)));
    }
    Ok((scanner.value(pos, level - 1)?, None))
}

fn decode_ndjson_family(
    data: &[u8],
    limits: &Limits,
    trailing: bool,
) -> Result<Decoded, CodecError> {
    match decode_lines(data, limits) {
        Ok(records) => Ok(decoded(Framing::Ndjson, trailing, records)),
        Err(error) if error.kind != "undecodable" => Err(error),
        Err(lines_error) => {
            let object_error = match decode_object(data) {
                Ok(records) => return Ok(decoded(Framing::Object, trailing, records)),
                Err(error) => error,
            };
            match decode_stream(data, limits) {
                Ok(records) => Ok(decoded(Framing::JsonStream, trailing, records)),
                Err(error) if error.kind != "undecodable" => Err(error),
                // values that read whole but for their depth say so; else the first bad line
                Err(stream_error) => Err([object_error, stream_error]
                    .into_iter()
                    .find(CodecError::is_depth)
                    .unwrap_or(lines_error)),
            }
        }
    }
}

fn decode_json_family(data: &[u8], limits: &Limits) -> Result<Decoded, CodecError> {
    let trailing = data.ends_with(b"\n");
    let (start, end) = strip_ws(data);
    if start == end {
        return Ok(decoded(Framing::Ndjson, trailing, Vec::new()));
    }
    match data[start] {
        b'[' => Ok(decoded(
            Framing::Json,
            trailing,
            decode_array(data, start, limits)?,
        )),
        b'{' => {
            if !data[start..end].contains(&b'\n') {
                return match decode_object(data) {
                    Ok(records) => Ok(decoded(Framing::Object, trailing, records)),
                    Err(error) if error.kind != "undecodable" => Err(error),
                    Err(_) => Ok(decoded(
                        Framing::JsonStream,
                        trailing,
                        decode_stream(data, limits)?,
                    )),
                };
            }
            decode_ndjson_family(data, limits, trailing)
        }
        _ => Err(CodecError::json(
            json::Error {
                offset: start,
                message: "it starts with neither '[' nor '{'".into(),
            },
            "JSON",
        )),
    }
}

fn is_event(reader: &Reader<'_>, object: Span) -> Option<Span> {
    let (
        Item::Array {
            count: 2,
            items_start,
        },
        _,
    ) = reader.head(object.start).ok()?
    else {
        return None;
    };
    let (first_end, _) = reader.object(items_start, 1).ok()?;
    let (record_end, item) = reader.object(first_end, 1).ok()?;
    matches!(item, Item::Map { .. }).then_some(Span {
        start: first_end,
        end: record_end,
    })
}

/// Check what the Python engine's MessagePack reader refuses inside an object: a map key that
/// is an array or a map, and a malformed timestamp.
fn msgpack_readable(reader: &Reader<'_>, pos: usize) -> Result<usize, CodecError> {
    let (item, mut at) = reader
        .head(pos)
        .map_err(|e| CodecError::msgpack(e.offset, e.message))?;
    match item {
        Item::Array { count, .. } => {
            for _ in 0..count {
                at = msgpack_readable(reader, at)?;
            }
        }
        Item::Map { count, .. } => {
            for _ in 0..count {
                if matches!(
                    reader.head(at),
                    Ok((Item::Array { .. } | Item::Map { .. }, _))
                ) {
                    return Err(CodecError::msgpack(
                        at,
                        "a map key that is an array or a map",
                    ));
                }
                at = msgpack_readable(reader, at)?;
                at = msgpack_readable(reader, at)?;
            }
        }
        Item::Ext { code: -1, data } if timestamp(&reader.b[data.start..data.end]).is_none() => {
            return Err(CodecError::msgpack(
                pos,
                "a timestamp extension that is not one",
            ));
        }
        _ => {}
    }
    Ok(at)
}

fn decode_msgpack(data: &[u8], limits: &Limits, strict: bool) -> Result<Decoded, CodecError> {
    let mut reader = Reader::new(data);
    reader.max_len = limits.max_records;
    let mut records = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        if records.len() >= limits.max_records {
            return Err(CodecError::too_many(limits.max_records));
        }
        let end = match reader.object(pos, 1) {
            Ok((end, _)) => end,
            Err(e) if e.message == "cut short" => {
                return Err(CodecError::msgpack(
                    pos,
                    format!(
                        "{} bytes left over after the last whole object (cut short?)",
                        data.len() - pos
                    ),
                ))
            }
            Err(e) => return Err(CodecError::msgpack(e.offset, e.message)),
        };
        msgpack_readable(&reader, pos)?;
        let object = Span { start: pos, end };
        let record = is_event(&reader, object);
        if strict && record.is_none() && !matches!(reader.head(pos), Ok((Item::Map { .. }, _))) {
            return Err(CodecError::msgpack(pos, "not MessagePack events"));
        }
        records.push((
            Record::Msgpack {
                object,
                record: record.unwrap_or(object),
                event: record.is_some(),
            },
            None,
        ));
        pos = end;
    }
    Ok(decoded(Framing::Msgpack, false, records))
}

fn decode_text(data: &[u8], limits: &Limits) -> Result<Decoded, CodecError> {
    let text = String::from_utf8_lossy(data);
    let mut texts: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for raw in text.split('\n') {
        let line = raw.trim_end_matches(['\r', '\n']);
        if let Some(record) = current.as_mut() {
            if line.starts_with("    ") || line.starts_with('\t') {
                record.push('\n');
                record.push_str(line);
                continue;
            }
        }
        if let Some(record) = current.take() {
            if texts.len() >= limits.max_records {
                return Err(CodecError::too_many(limits.max_records));
            }
            texts.push(record);
        }
        current = (!crate::pystr::strip(line).is_empty()).then(|| line.to_string());
    }
    if let Some(record) = current {
        if texts.len() >= limits.max_records {
            return Err(CodecError::too_many(limits.max_records));
        }
        texts.push(record);
    }
    let mut synthesised = Vec::new();
    let mut records = Vec::with_capacity(texts.len());
    for record in &texts {
        let start = synthesised.len();
        synthesised.extend_from_slice(b"{\"message\":");
        json::write_string(&mut synthesised, record);
        synthesised.push(b'}');
        records.push(Record::Json(Span {
            start,
            end: synthesised.len(),
        }));
    }
    let members = records.iter().map(|_| None).collect();
    Ok(Decoded {
        framing: Framing::Text,
        trailing_newline: data.ends_with(b"\n"),
        records,
        members,
        synthesised: Some(synthesised),
        texts,
        received: None,
    })
}

fn looks_like_msgpack(data: &[u8]) -> bool {
    matches!(data.first(), Some(0x80..=0x9f | 0xdc..=0xdf))
}

/// Decode a body. JSON records that span lines (pretty-printed) are read again from the body
/// without its white space: their bytes are copied into answers and lines whole, and a line of
/// NDJSON holds no line break.
fn decode(data: &[u8], kind: Kind, limits: &Limits) -> Result<Decoded, CodecError> {
    let decoded = decode_body(data, kind, limits)?;
    let spans_lines = decoded.synthesised.is_none()
        && decoded.records.iter().any(|record| match *record {
            Record::Json(span) => {
                memchr::memchr2(b'\n', b'\r', &data[span.start..span.end]).is_some()
            }
            Record::Msgpack { .. } => false,
        });
    if !spans_lines {
        return Ok(decoded);
    }
    let compact = json::compact(data);
    let mut again = decode_body(&compact, Kind::Json, limits)?;
    again.framing = decoded.framing;
    again.trailing_newline = decoded.trailing_newline;
    again.synthesised = Some(compact);
    again.received = Some(
        decoded
            .records
            .iter()
            .filter_map(|record| match *record {
                Record::Json(span) => Some(span),
                Record::Msgpack { .. } => None,
            })
            .collect(),
    );
    Ok(again)
}

fn decode_body(data: &[u8], kind: Kind, limits: &Limits) -> Result<Decoded, CodecError> {
    match kind {
        Kind::Msgpack => decode_msgpack(data, limits, false),
        Kind::Text => decode_text(data, limits),
        Kind::Ndjson => decode_ndjson_family(data, limits, data.ends_with(b"\n")),
        Kind::Json => decode_json_family(data, limits),
        Kind::Sniff => {
            let (start, _) = strip_ws(data);
            let head = data.get(start).copied();
            if matches!(head, Some(b'[' | b'{')) {
                match decode_json_family(data, limits) {
                    Err(error) if error.kind == "undecodable" => {}
                    other => return other,
                }
            } else if looks_like_msgpack(data) {
                match decode_msgpack(data, limits, true) {
                    Err(error) if error.kind == "undecodable" => {}
                    other => return other,
                }
            }
            decode_text(data, limits)
        }
    }
}

// --- deciding -------------------------------------------------------------------------------------

/// The message as the engines read it: at most `limit` bytes, cut on a character boundary.
fn cap(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Buffers one batch reuses from record to record.
pub struct Scratch {
    prefix: PrefixScratch,
    matcher: MatchScratch,
    edits: Vec<Edit>,
}

const SEVERITY_TOKENS: [(&[u8], &[u8]); 5] = [
    (b"\"debug\"", b"\xa5debug"),
    (b"\"info\"", b"\xa4info"),
    (b"\"warning\"", b"\xa7warning"),
    (b"\"error\"", b"\xa5error"),
    (b"\"critical\"", b"\xa8critical"),
];
const UNCLASSIFIED: (&[u8], &[u8]) = (b"\"unclassified\"", b"\xacunclassified");

fn severity_token(severity: Severity) -> Out<'static> {
    let (json, packed) = SEVERITY_TOKENS[severity as usize];
    Out::Pre(json, packed)
}

impl Scratch {
    pub fn prefix_mut(&mut self) -> &mut PrefixScratch {
        &mut self.prefix
    }
}

impl Engine {
    pub fn scratch(&self) -> Scratch {
        Scratch {
            prefix: self.formats.scratch(),
            matcher: MatchScratch::default(),
            edits: Vec::new(),
        }
    }

    /// Where the record's message is: the first string among the message fields (dotted
    /// paths). JSON: the string token, quotes included; MessagePack: the str's bytes.
    fn message_span(&self, doc: &Doc<'_>, view: &View) -> Option<Span> {
        'paths: for path in &self.message_fields {
            let mut inner: Option<View> = None;
            for (i, part) in path.iter().enumerate() {
                let current = inner.as_ref().unwrap_or(view);
                let Some(member) = current.find(doc, part).copied() else {
                    continue 'paths;
                };
                if i + 1 == path.len() {
                    match doc {
                        Doc::Json(scanner) => {
                            if scanner.b[member.value.start] == b'"' {
                                return Some(member.value);
                            }
                        }
                        Doc::Msgpack(reader) => {
                            if let Ok((Item::Str(span), _)) = reader.head(member.value.start) {
                                return Some(span);
                            }
                        }
                    }
                    continue 'paths;
                }
                match doc.view(member.value.start) {
                    Some(next) if member.is_object => inner = Some(next),
                    _ => continue 'paths,
                }
            }
        }
        None
    }

    fn message_of<'d>(&self, doc: &Doc<'d>, view: &View) -> Option<Cow<'d, str>> {
        let span = self.message_span(doc, view)?;
        Some(match doc {
            Doc::Json(scanner) => scanner.string(span),
            Doc::Msgpack(reader) => reader.text(span),
        })
    }

    /// What a message is: its prefix parsed, then the rule that decides it.
    pub fn decide_message<'m, 't>(
        &'m self,
        message: &'t str,
        scratch: &mut Scratch,
    ) -> Decision<'m, 't>
    where
        'm: 't,
    {
        let text = cap(message, self.max_message_bytes);
        let (text, level, source) = self.formats.parse_line(text, &mut scratch.prefix);
        if source.is_none() && crate::pystr::strip(&text).is_empty() {
            return self.decision(None, level, source); // a blank line says nothing
        }
        let found = match &text {
            Cow::Borrowed(borrowed) => {
                self.matcher
                    .find(borrowed, level, source.as_ref(), &mut scratch.matcher)
            }
            Cow::Owned(owned) => {
                // a line rewritten while parsed (colour codes, a JSON wrapper): fields own their text
                let found = self
                    .matcher
                    .find(owned, level, source.as_ref(), &mut scratch.matcher);
                return self.decision(
                    found.map(|f| crate::rules::Found {
                        rule: f.rule,
                        severity: f.severity,
                        fields: f
                            .fields
                            .into_iter()
                            .map(|(n, v)| (n, own_field(v)))
                            .collect(),
                    }),
                    level,
                    source,
                );
            }
        };
        let found = found.map(|f| crate::rules::Found {
            rule: f.rule,
            severity: f.severity,
            fields: f.fields,
        });
        self.decision(found, level, source)
    }

    fn decision<'m, 't>(
        &'m self,
        found: Option<crate::rules::Found<'m, 't>>,
        level: Option<Severity>,
        source: Option<Source<'t>>,
    ) -> Decision<'m, 't> {
        match found {
            None => Decision {
                outcome: OUTCOME_UNCLASSIFIED,
                rule: None,
                severity: level,
                level,
                fields: None,
                source,
            },
            Some(found) => Decision {
                outcome: OUTCOME_CLASSIFIED,
                rule: Some(found.rule),
                severity: Some(found.severity),
                level,
                fields: Some(found.fields),
                source,
            },
        }
    }

    fn value<'a>(&'a self, decision: &'a Decision<'a, '_>, name: ValueName) -> Option<Out<'a>> {
        let rule = decision.rule.map(|i| &self.values[i]);
        let token = |index: usize| {
            rule.map(|r| {
                let (json, packed) = &r.tokens[index];
                Out::Pre(json.as_slice(), packed.as_slice())
            })
        };
        match name {
            ValueName::Classification => {
                Some(token(TOKEN_ID).unwrap_or(Out::Pre(UNCLASSIFIED.0, UNCLASSIFIED.1)))
            }
            ValueName::Title => token(TOKEN_TITLE),
            ValueName::Category => token(TOKEN_CATEGORY),
            ValueName::DocUrl => token(TOKEN_DOC_URL),
            ValueName::Summary => token(TOKEN_SUMMARY),
            ValueName::Action => token(TOKEN_ACTION),
            ValueName::Ruleset => token(TOKEN_RULESET),
            ValueName::RulesetVersion => token(TOKEN_RULESET_VERSION),
            ValueName::Severity => decision.severity.map(severity_token),
            ValueName::SyslogSeverity => decision.severity.map(|s| Out::Int(s.syslog())),
            ValueName::Level => decision.level.map(severity_token),
            ValueName::Fields => decision.fields.as_ref().map(|f| fields_out(f)),
            ValueName::Source => decision.source.as_ref().map(source_out),
            ValueName::SourceLogger => decision
                .source
                .as_ref()
                .and_then(|s| s.logger.as_deref())
                .map(borrowed),
            ValueName::SourceFile => decision
                .source
                .as_ref()
                .and_then(|s| s.file.as_deref())
                .map(borrowed),
            ValueName::SourceLine => decision
                .source
                .as_ref()
                .and_then(|s| s.line)
                .map(|n| Out::Int(n as i64)),
        }
    }

    /// The edits that write the decision into the record, as the profile says.
    fn write_edits(
        &self,
        doc: &Doc<'_>,
        view: View,
        decision: &Decision<'_, '_>,
        edits: &mut Vec<Edit>,
    ) {
        let mut plan = Plan::on(view);
        for target in &self.profile.targets {
            if !target.needs.is_empty()
                && target
                    .needs
                    .iter()
                    .all(|n| self.value(decision, *n).is_none())
            {
                continue;
            }
            let mut object = Some(&mut plan);
            let last = target.path.len() - 1;
            for (depth, key) in target.path.iter().enumerate() {
                let Some(current) = object else { break };
                object = if depth == last && target.replace {
                    Some(current.replace(key))
                } else {
                    current.child(doc, key)
                };
            }
            let Some(object) = object else { continue };
            for slot in &target.slots {
                if let Some(value) = self.value(decision, slot.value) {
                    object.put(doc, &slot.key, value, slot.keep);
                }
            }
        }
        plan.edits(doc, edits);
    }
}

impl Engine {
    /// The default profile into a JSON record: its enrichment object written in place of the
    /// old one, or added before the record's closing brace.
    #[allow(clippy::too_many_arguments)]
    fn write_single_object(
        &self,
        doc: &Doc<'_>,
        view: &View,
        decision: &Decision<'_, '_>,
        key: &str,
        slots: &[(Vec<u8>, ValueName)],
        buffer: &[u8],
        object: Span,
        out: &mut Vec<u8>,
    ) {
        let write_object = |out: &mut Vec<u8>| {
            out.push(b'{');
            let mut first = true;
            for (name, value) in slots {
                if let Some(value) = self.value(decision, *value) {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    out.extend_from_slice(name);
                    value.json(out);
                }
            }
            out.push(b'}');
        };
        match view.find(doc, key) {
            Some(member) => {
                out.extend_from_slice(&buffer[object.start..member.value.start]);
                write_object(out);
                out.extend_from_slice(&buffer[member.value.end..object.end]);
            }
            None => {
                let close = object.end - 1;
                out.extend_from_slice(&buffer[object.start..close]);
                if !view.members.is_empty() {
                    out.push(b',');
                }
                json::write_string(out, key);
                out.push(b':');
                write_object(out);
                out.push(b'}');
            }
        }
    }
}

fn borrowed(text: &str) -> Out<'_> {
    Out::Str(Cow::Borrowed(text))
}

fn own_field(field: Field<'_>) -> Field<'static> {
    match field {
        Field::Str(text) => Field::Str(Cow::Owned(text.into_owned())),
        Field::Int(n) => Field::Int(n),
        Field::Float(x) => Field::Float(x),
    }
}

fn fields_out<'a>(fields: &'a Fields<'a, '_>) -> Out<'a> {
    Out::Obj(
        fields
            .iter()
            .map(|(name, value)| {
                let out = match value {
                    Field::Str(s) => Out::Str(Cow::Borrowed(s.as_ref())),
                    Field::Int(n) => Out::Int(*n),
                    Field::Float(x) => Out::Float(*x),
                };
                (*name, out)
            })
            .collect(),
    )
}

fn source_out<'a>(source: &'a Source<'_>) -> Out<'a> {
    let mut members: Vec<(&'a str, Out<'a>)> = vec![("format", borrowed(&source.format))];
    if let Some(logger) = &source.logger {
        members.push(("logger", borrowed(logger)));
    }
    if let Some(file) = &source.file {
        members.push(("file", borrowed(file)));
    }
    if let Some(line) = source.line {
        members.push(("line", Out::Int(line as i64)));
    }
    if let Some(time) = &source.time {
        members.push(("time", borrowed(time)));
    }
    if let Some(via) = &source.via {
        members.push(("via", borrowed(via)));
    }
    Out::Obj(members)
}

// --- record times -------------------------------------------------------------------------------

/// A record's own time (`@timestamp`, `timestamp`, `date`, `time`).
fn record_time(doc: &Doc<'_>, view: Option<&View>) -> Option<i128> {
    let view = view?;
    for key in ["@timestamp", "timestamp", "date", "time"] {
        let Some(member) = view.find(doc, key) else {
            continue;
        };
        let found = match doc {
            Doc::Json(scanner) => match scanner.b[member.value.start] {
                b'"' => timefmt::parse_text(&scanner.string(member.value)),
                b'-' | b'0'..=b'9' => {
                    let text =
                        std::str::from_utf8(&scanner.b[member.value.start..member.value.end])
                            .unwrap_or("");
                    match classify(text) {
                        Number::Int(n) => timefmt::from_int(n),
                        Number::Float(x) => timefmt::from_float(x),
                        Number::Raw => None,
                    }
                }
                _ => None,
            },
            Doc::Msgpack(reader) => match reader.head(member.value.start) {
                Ok((Item::Str(span), _)) => timefmt::parse_text(&reader.text(span)),
                Ok((Item::Int(n), _)) => timefmt::from_int(n),
                Ok((Item::Float(x), _)) => timefmt::from_float(x),
                _ => None,
            },
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// A Fluent Bit event's time: an EventTime extension (type 0), a timestamp, or a number.
fn event_time(reader: &Reader<'_>, object: Span) -> Option<i128> {
    let (Item::Array { items_start, .. }, _) = reader.head(object.start).ok()? else {
        return None;
    };
    let (mut item, _) = reader.head(items_start).ok()?;
    if let Item::Array {
        count,
        items_start: inner,
    } = item
    {
        if count == 0 {
            return None;
        }
        item = reader.head(inner).ok()?.0;
    }
    match item {
        Item::Ext { code: 0, data } if data.end - data.start == 8 => {
            let d = &reader.b[data.start..data.end];
            let seconds = i128::from(u32::from_be_bytes(d[..4].try_into().ok()?));
            let nanos = i128::from(u32::from_be_bytes(d[4..].try_into().ok()?));
            Some(seconds * 1_000_000_000 + nanos)
        }
        Item::Ext { code: -1, data } => {
            let (s, ns) = timestamp(&reader.b[data.start..data.end])?;
            Some(i128::from(s) * 1_000_000_000 + i128::from(ns))
        }
        Item::Int(n) if (0..1i128 << 34).contains(&n) => Some(n * 1_000_000_000),
        Item::Float(x) if x.is_finite() && (0.0..17_179_869_184.0).contains(&x) => {
            Some((x * 1_000_000.0).round_ties_even() as i128 * 1_000)
        }
        _ => None,
    }
}

/// Python's `a or b` for times: zero counts as none.
fn first_time(times: &[Option<i128>], fallback: i128) -> i128 {
    times
        .iter()
        .flatten()
        .copied()
        .find(|&t| t != 0)
        .unwrap_or(fallback)
}

// --- the batch ----------------------------------------------------------------------------------

/// Counts by (rule or none, severity or none); passthrough apart.
struct Tally {
    /// (rule, severity) in the order first seen; rule None: unclassified, usize::MAX: passthrough
    order: Vec<(Option<usize>, Option<Severity>)>,
    /// a count per (rule or unclassified, severity or none)
    counts: Vec<usize>,
    passthrough: usize,
}

impl Tally {
    fn new(rules: usize) -> Tally {
        Tally {
            order: Vec::new(),
            counts: vec![0; (rules + 1) * 6],
            passthrough: 0,
        }
    }

    fn slot(&self, rule: Option<usize>, severity: Option<Severity>) -> usize {
        let row = rule.unwrap_or(self.counts.len() / 6 - 1);
        row * 6 + severity.map_or(0, |s| s as usize + 1)
    }

    fn add(&mut self, decision: &Decision<'_, '_>) {
        if decision.outcome == OUTCOME_PASSTHROUGH {
            if self.passthrough == 0 {
                self.order.push((Some(usize::MAX), None));
            }
            self.passthrough += 1;
            return;
        }
        let slot = self.slot(decision.rule, decision.severity);
        if self.counts[slot] == 0 {
            self.order.push((decision.rule, decision.severity));
        }
        self.counts[slot] += 1;
    }

    fn count(&self, rule: Option<usize>, severity: Option<Severity>) -> usize {
        self.counts[self.slot(rule, severity)]
    }
}

/// A Loki entry's stream (category, severity) and structured metadata.
type LokiParts = ((String, String), Vec<(String, String)>);

/// What a record needs written besides itself.
struct Extra {
    /// JSON of the record as received (Loki lines of the record)
    original: Option<Vec<u8>>,
    time: Option<i128>,
    event_time: Option<i128>,
}

impl Engine {
    /// Run one batch: `data` is the decompressed body (a byte-order mark already skipped).
    pub fn run(
        &self,
        data: &[u8],
        kind: Kind,
        output: &Output,
        limits: &Limits,
        received_ns: i128,
    ) -> Result<BatchResult, CodecError> {
        let decoded = decode(data, kind, limits)?;
        let buffer: &[u8] = decoded.synthesised.as_deref().unwrap_or(data);
        let scanner = Scanner::new(buffer, Mode::Lenient);
        let reader = Reader::new(buffer);
        let mut scratch = self.scratch();
        let mut tally = Tally::new(self.values.len());
        let mut outcomes = Vec::with_capacity(decoded.records.len());
        let answer_framing = match output {
            Output::Answer(Some(wanted)) if wanted.media() != decoded.framing.media() => *wanted,
            _ => decoded.framing,
        };
        // JSON answers and JSON lines from a JSON body: each record is written straight into the body
        let direct_json = decoded.framing != Framing::Msgpack
            && match output {
                Output::Answer(_) => answer_framing != Framing::Msgpack,
                Output::JsonLines { .. } => true,
                _ => false,
            };
        let direct_msgpack = decoded.framing == Framing::Msgpack
            && answer_framing == Framing::Msgpack
            && matches!(output, Output::Answer(_));
        let mut body: Vec<u8> = Vec::with_capacity(buffer.len() + decoded.records.len() * 512);
        let array = match output {
            Output::Answer(_) => {
                matches!(answer_framing, Framing::Json)
                    || (answer_framing == Framing::Object && decoded.records.len() != 1)
            }
            Output::JsonLines { array } => *array,
            _ => false,
        };
        if direct_json && array {
            body.push(b'[');
        }
        let mut records: Vec<Vec<u8>> = Vec::new();
        let mut extras: Vec<Extra> = Vec::new();
        let mut metadata: Vec<LokiParts> = Vec::new();
        let needs_extras = matches!(output, Output::Bulk { .. } | Output::Loki { .. });
        for (index, record) in decoded.records.iter().enumerate() {
            let (doc, span, object, event) = match *record {
                Record::Json(span) => (Doc::Json(&scanner), span, span, false),
                Record::Msgpack {
                    object,
                    record,
                    event,
                } => (Doc::Msgpack(&reader), record, object, event),
            };
            let view = match decoded.members.get(index) {
                Some(Some(members)) => Some(doc.view_of(span, members)),
                _ => doc.view(span.start),
            };
            let mut extra = None;
            if needs_extras {
                let event_time = if event {
                    event_time(&reader, object)
                } else {
                    None
                };
                let original = matches!(
                    output,
                    Output::Loki {
                        line_json: true,
                        ..
                    }
                )
                .then(|| {
                    let mut text = Vec::new();
                    match doc {
                        Doc::Json(_) => json_value(&scanner, span.start, &mut text),
                        Doc::Msgpack(_) => {
                            let date = event_time.map(|ns| ns as f64 / 1e9);
                            msgpack_as_json(
                                &reader,
                                span.start,
                                &mut text,
                                date.map(|d| ("date", d)),
                            );
                        }
                    }
                    let mut token = Vec::new();
                    json::write_string(&mut token, &String::from_utf8_lossy(&text));
                    token
                });
                extra = Some(Extra {
                    original,
                    time: record_time(&doc, view.as_ref()),
                    event_time,
                });
            }
            let message = view.as_ref().and_then(|v| {
                let guarded = self
                    .profile
                    .guard_key
                    .as_ref()
                    .is_some_and(|g| v.find(&doc, g).is_some_and(|m| !m.is_object));
                if guarded {
                    None
                } else {
                    self.message_of(&doc, v)
                }
            });
            let decision = match &message {
                Some(message) => self.decide_message(message, &mut scratch),
                None => Decision::passed(),
            };
            tally.add(&decision);
            outcomes.push(decision.outcome);
            if let Output::Loki { .. } = output {
                metadata.push((self.stream(&decision), self.metadata(&decision)));
            }
            let target = if direct_json || direct_msgpack {
                if direct_json && index > 0 {
                    body.push(if array { b',' } else { b'\n' });
                }
                &mut body
            } else {
                records.push(Vec::with_capacity(object.end - object.start + 512));
                records.last_mut().expect("just pushed")
            };
            match view {
                Some(view) if decision.outcome != OUTCOME_PASSTHROUGH => {
                    if let (Doc::Json(_), Some((key, slots))) = (&doc, &self.single_object) {
                        self.write_single_object(
                            &doc, &view, &decision, key, slots, buffer, object, target,
                        );
                    } else {
                        scratch.edits.clear();
                        self.write_edits(&doc, view, &decision, &mut scratch.edits);
                        splice(buffer, object, &mut scratch.edits, target);
                    }
                }
                _ => target.extend_from_slice(&buffer[object.start..object.end]),
            }
            if let Some(extra) = extra {
                extras.push(extra);
            }
        }
        let mut result = BatchResult {
            framing: Some(decoded.framing),
            records: decoded.records.len(),
            counts: self.counts(&tally),
            outcomes,
            ..BatchResult::default()
        };
        if direct_json {
            if array {
                body.push(b']');
            } else if !decoded.records.is_empty()
                && (matches!(output, Output::JsonLines { .. })
                    || decoded.trailing_newline
                    || decoded.framing != Framing::Ndjson)
            {
                body.push(b'\n');
            }
            if let Output::Answer(_) = output {
                result.out_framing = Some(answer_framing);
            }
            result.body = body;
            return Ok(result);
        }
        if direct_msgpack {
            result.out_framing = Some(Framing::Msgpack);
            result.body = body;
            return Ok(result);
        }
        let event_times: Vec<Option<i128>> = decoded
            .records
            .iter()
            .map(|r| match r {
                Record::Msgpack {
                    object,
                    event: true,
                    ..
                } => event_time(&reader, *object),
                _ => None,
            })
            .collect();
        let as_json = |index: usize| -> Vec<u8> {
            match decoded.records[index] {
                Record::Json(_) => records[index].clone(),
                Record::Msgpack { object, record, .. } => {
                    let own = Reader::new(&records[index]);
                    let mut out = Vec::new();
                    let date = event_times[index].map(|ns| ns as f64 / 1e9);
                    msgpack_as_json(
                        &own,
                        record.start - object.start,
                        &mut out,
                        date.map(|d| ("date", d)),
                    );
                    out
                }
            }
        };
        match output {
            Output::Answer(_) => {
                result.out_framing = Some(answer_framing);
                let mut out = Vec::new();
                if answer_framing == Framing::Msgpack {
                    for record in &records {
                        let record_scanner = Scanner::new(record, Mode::Lenient);
                        json_as_msgpack(&record_scanner, 0, &mut out);
                    }
                } else {
                    let lines: Vec<Vec<u8>> = (0..records.len()).map(as_json).collect();
                    if answer_framing == Framing::Object && lines.len() == 1 {
                        out = lines.into_iter().next().unwrap_or_default();
                    } else if matches!(answer_framing, Framing::Json | Framing::Object) {
                        out = output::json_lines(&lines, true);
                    } else {
                        for (i, line) in lines.iter().enumerate() {
                            if i > 0 {
                                out.push(b'\n');
                            }
                            out.extend_from_slice(line);
                        }
                        if !lines.is_empty() {
                            out.push(b'\n');
                        }
                    }
                }
                result.body = out;
            }
            Output::JsonLines { array } => {
                let lines: Vec<Vec<u8>> = (0..records.len()).map(as_json).collect();
                result.body = output::json_lines(&lines, *array);
            }
            Output::Bulk { index } => {
                let raw: Vec<&[u8]> = decoded
                    .records
                    .iter()
                    .enumerate()
                    .map(|(i, r)| match (decoded.framing, r) {
                        (Framing::Text, _) => decoded.texts[i].as_bytes(),
                        (_, Record::Json(span)) => match &decoded.received {
                            Some(spans) => &data[spans[i].start..spans[i].end],
                            None => &buffer[span.start..span.end],
                        },
                        (_, Record::Msgpack { object, .. }) => &buffer[object.start..object.end],
                    })
                    .collect();
                let ids = output::record_ids(&raw);
                let mut out = Vec::new();
                let mut documents = Vec::with_capacity(ids.len());
                for (i, id) in ids.iter().enumerate() {
                    let time = first_time(&[extras[i].time, extras[i].event_time], received_ns);
                    let record = as_json(i);
                    let record_scanner = Scanner::new(&record, Mode::Lenient);
                    let record_doc = Doc::Json(&record_scanner);
                    let view = record_doc.view(0);
                    let has_timestamp = view
                        .as_ref()
                        .is_some_and(|v| v.find(&record_doc, "@timestamp").is_some());
                    let mut canonical = Vec::new();
                    if view.is_none() {
                        json_value(&record_scanner, 0, &mut canonical);
                    }
                    documents.push(output::bulk_entry(
                        &mut out,
                        index,
                        id,
                        &record,
                        &canonical,
                        view.is_some(),
                        has_timestamp,
                        time,
                    ));
                }
                result.body = out;
                result.ids = ids;
                result.documents = documents;
            }
            Output::Loki { labels, line_json } => {
                let mut entries = Vec::with_capacity(records.len());
                for (i, (stream, meta)) in metadata.into_iter().enumerate() {
                    let line = if *line_json {
                        extras[i].original.clone().unwrap_or_default()
                    } else {
                        self.line_token(&as_json(i))
                    };
                    entries.push(Loki {
                        stream,
                        time: first_time(&[extras[i].time, extras[i].event_time], received_ns),
                        line,
                        metadata: meta,
                    });
                }
                result.body = output::loki(labels, entries);
            }
        }
        Ok(result)
    }

    fn counts(&self, tally: &Tally) -> Vec<((String, String, String), usize)> {
        tally
            .order
            .iter()
            .map(|&(rule, severity)| {
                if rule == Some(usize::MAX) {
                    return (
                        (String::new(), String::new(), String::new()),
                        tally.passthrough,
                    );
                }
                let values = rule.map(|i| &self.values[i]);
                let key = (
                    values.map_or("unclassified", |r| r.id.as_str()).to_string(),
                    values.map_or("none", |r| r.category.as_str()).to_string(),
                    severity.map_or("unknown", Severity::word).to_string(),
                );
                (key, tally.count(rule, severity))
            })
            .collect()
    }

    fn stream(&self, decision: &Decision<'_, '_>) -> (String, String) {
        if decision.outcome == OUTCOME_PASSTHROUGH {
            return ("none".into(), "unknown".into());
        }
        let category = decision
            .rule
            .map_or("unclassified", |i| self.values[i].category.as_str());
        (
            category.to_string(),
            decision
                .severity
                .map_or("unknown", Severity::word)
                .to_string(),
        )
    }

    fn metadata(&self, decision: &Decision<'_, '_>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if decision.outcome == OUTCOME_PASSTHROUGH {
            return out;
        }
        let rule = decision.rule.map(|i| &self.values[i]);
        out.push((
            "classification".into(),
            rule.map_or("unclassified", |r| r.id.as_str()).to_string(),
        ));
        if let Some(rule) = rule {
            out.push(("doc_url".into(), rule.doc_url.clone()));
        }
        for (name, value) in decision.fields.iter().flatten() {
            let mut bytes = Vec::new();
            let text = match value {
                Field::Str(s) => s.to_string(),
                Field::Int(n) => {
                    crate::numbers::write_int(&mut bytes, i128::from(*n));
                    String::from_utf8_lossy(&bytes).into_owned()
                }
                Field::Float(x) => {
                    crate::numbers::write_float(&mut bytes, *x);
                    String::from_utf8_lossy(&bytes).into_owned()
                }
            };
            out.push((output::metadata_key(name), text));
        }
        out
    }

    /// A Loki line: the record's log line as a JSON string; the record as JSON when it has none.
    fn line_token(&self, json: &[u8]) -> Vec<u8> {
        let scanner = Scanner::new(json, Mode::Lenient);
        let doc = Doc::Json(&scanner);
        let mut token = Vec::new();
        if let Some(view) = doc.view(0) {
            if let Some(span) = self.message_span(&doc, &view) {
                crate::canonical::write_units(
                    &mut token,
                    &crate::canonical::units(&json[span.start + 1..span.end - 1]),
                );
                return token;
            }
        }
        let mut text = Vec::new();
        json_value(&scanner, 0, &mut text);
        json::write_string(&mut token, &String::from_utf8_lossy(&text));
        token
    }
}
