//! The log line's prefix: level, time, logger, module and line, as `app/prefix.py` reads it,
//! from the format table `app/formats.py` hands over.

use std::borrow::Cow;

use regex::{CaptureLocations, Regex};

use crate::json::{self, Mode, Value};
use crate::pystr::{char_offset, head, lstrip, rstrip};
use crate::Severity;

/// Where a line came from (`source` in the output), in the order the Python engine writes it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Source<'t> {
    pub format: Cow<'t, str>,
    pub logger: Option<Cow<'t, str>>,
    pub file: Option<Cow<'t, str>>,
    pub line: Option<i128>,
    pub time: Option<Cow<'t, str>>,
    pub via: Option<Cow<'t, str>>,
}

pub struct AppFormat {
    pub name: String,
    pub starts: Vec<char>,
    pub regex: Regex,
    pub name_without_file: Option<String>,
    /// capture group indexes: level, time, logger, file, line
    pub groups: [Option<usize>; 5],
}

/// The keys of one producer's JSON log records (`JsonFormat` in `app/formats.py`).
pub struct JsonFormat {
    pub name: String,
    pub message: String,
    pub level: String,
    pub logger: String,
    pub time: String,
    pub file: Option<String>,
    pub line: Option<String>,
    pub exception: Option<String>,
    /// one of these keys must hold a string too (none: the message is enough)
    pub marks: Vec<String>,
}

pub struct Supervisor {
    pub name: String,
    pub regex: Regex,
    pub starts: Option<Vec<char>>,
    pub within: Option<String>,
    pub within_chars: usize,
}

pub struct Formats {
    pub app: Vec<AppFormat>,
    pub supervisors: Vec<Supervisor>,
    pub lost_bracket_letters: Vec<char>,
    pub lost_bracket_within: usize,
    pub embedded_hub: Regex,
    pub embedded_hub_literal: String,
    pub embedded_chp: Regex,
    pub embedded_chp_literal: String,
    pub embedded_within: usize,
    pub embedded_via: String,
    pub max_supervisors: usize,
    pub ansi: Regex,
    pub ansi_literals: Vec<String>,
    pub border: char,
    pub border_strip: Vec<char>,
    pub docker_json_key: String,
    pub docker_json_via: String,
    pub json_formats: Vec<JsonFormat>,
    /// lower-cased level word or letter -> severity
    pub level_words: Vec<(String, Severity)>,
}

pub type Parsed<'t> = (Cow<'t, str>, Option<Severity>, Option<Source<'t>>);

/// Capture slots the prefix parser reuses from line to line.
pub struct PrefixScratch {
    locations: Vec<CaptureLocations>,
}

impl Formats {
    pub fn scratch(&self) -> PrefixScratch {
        PrefixScratch {
            locations: self
                .app
                .iter()
                .map(|f| f.regex.capture_locations())
                .collect(),
        }
    }

    pub fn level(&self, word: &str) -> Option<Severity> {
        let trimmed = crate::pystr::strip(word);
        if trimmed.is_ascii() {
            return self
                .level_words
                .iter()
                .find(|(w, _)| w.eq_ignore_ascii_case(trimmed))
                .map(|(_, s)| *s);
        }
        let key = trimmed.to_lowercase();
        self.level_words
            .iter()
            .find(|(w, _)| *w == key)
            .map(|(_, s)| *s)
    }

    fn clean<'t>(&self, line: &'t str) -> Cow<'t, str> {
        let has = |literal: &String| match literal.as_bytes() {
            [byte] => memchr::memchr(*byte, line.as_bytes()).is_some(),
            bytes => memchr::memmem::find(line.as_bytes(), bytes).is_some(),
        };
        let text: Cow<'t, str> = if self.ansi_literals.iter().any(has) {
            Cow::Owned(self.ansi.replace_all(line, "").into_owned())
        } else {
            Cow::Borrowed(line)
        };
        let trim = |t: &str| -> (usize, usize) {
            let stripped = lstrip(t);
            let start = t.len() - stripped.len();
            let end = if stripped.ends_with(self.border) {
                start
                    + stripped
                        .trim_end_matches(|c| self.border_strip.contains(&c))
                        .len()
            } else {
                t.len()
            };
            (start, end)
        };
        match text {
            Cow::Borrowed(t) => {
                let (start, end) = trim(t);
                Cow::Borrowed(&t[start..end])
            }
            Cow::Owned(t) => {
                let (start, end) = trim(&t);
                Cow::Owned(t[start..end].to_string())
            }
        }
    }

    /// Where an application prefix starts after the first character (None when there is none).
    pub fn embedded_start(&self, line: &str) -> Option<usize> {
        let first = char_offset(line, 1);
        let window = char_offset(line, self.embedded_within);
        let part = &line[..window];
        let mut start: Option<usize> = None;
        if part
            .get(first..)
            .is_some_and(|rest| rest.contains(self.embedded_hub_literal.as_str()))
        {
            if let Some(m) = self.embedded_hub.find_at(part, first) {
                start = Some(m.start());
            }
        }
        if part
            .get(first..)
            .is_some_and(|rest| rest.contains(self.embedded_chp_literal.as_str()))
        {
            if let Some(m) = self.embedded_chp.find_at(part, first) {
                if start.is_none_or(|s| m.start() < s) {
                    start = Some(m.start());
                }
            }
        }
        start
    }

    fn strip_supervisor<'a>(&'a self, line: &'a str) -> Option<(&'a str, &'a str)> {
        let first = line.chars().next();
        for sup in &self.supervisors {
            if let Some(starts) = &sup.starts {
                if !first.is_some_and(|c| starts.contains(&c)) {
                    continue;
                }
            }
            if let Some(within) = &sup.within {
                if !head(line, sup.within_chars).contains(within.as_str()) {
                    continue;
                }
            }
            if let Some(m) = sup.regex.find(line) {
                return Some((&line[m.end()..], sup.name.as_str()));
            }
        }
        match self.embedded_start(line) {
            Some(start) if start > 0 => Some((&line[start..], self.embedded_via.as_str())),
            _ => None,
        }
    }

    fn unwrap_json<'t>(
        &'t self,
        line: &str,
        via: Option<&'t str>,
        docker: bool,
    ) -> Option<Parsed<'t>> {
        let data = json::parse(line.as_bytes(), Mode::Strict).ok()?;
        if !matches!(data, Value::Object(_)) {
            return None;
        }
        let docker_line = if docker {
            data.get(&self.docker_json_key).and_then(Value::as_str)
        } else {
            None
        };
        if let Some(inner) = docker_line {
            let inner = self.clean(inner.trim_end_matches('\n')).into_owned();
            let via: &'t str = via
                .filter(|v| !v.is_empty())
                .unwrap_or(&self.docker_json_via);
            let mut scratch = self.scratch();
            if let Some((message, level, source)) =
                self.match_format(&inner, Some(via), false, &mut scratch)
            {
                return Some((
                    Cow::Owned(message.into_owned()),
                    level,
                    source.map(owned_source),
                ));
            }
            let plain = Source {
                format: Cow::Borrowed("plain"),
                via: Some(Cow::Borrowed(via)),
                ..Source::default()
            };
            return Some((Cow::Owned(inner), None, Some(plain)));
        }
        self.json_record(&data, via)
    }

    /// A structured logger's JSON record (the first of `json_formats` it fits), or None.
    fn json_record<'t>(&'t self, data: &Value, via: Option<&'t str>) -> Option<Parsed<'t>> {
        let text = |key: &str| data.get(key).and_then(Value::as_str);
        let owned = |key: &str| text(key).map(|s| Cow::Owned(s.to_string()));
        for fmt in &self.json_formats {
            let Some(message) = text(&fmt.message) else {
                continue;
            };
            if !fmt.marks.is_empty() && !fmt.marks.iter().any(|key| text(key).is_some()) {
                continue;
            }
            let mut source = Source {
                format: Cow::Borrowed(fmt.name.as_str()),
                ..Source::default()
            };
            source.logger = owned(&fmt.logger);
            if let Some(file) = fmt.file.as_deref().and_then(owned) {
                source.file = Some(file);
                source.line = fmt
                    .line
                    .as_deref()
                    .and_then(|key| data.get(key))
                    .and_then(Value::as_int);
            }
            source.time = owned(&fmt.time);
            source.via = via.filter(|v| !v.is_empty()).map(Cow::Borrowed);
            let mut message = message.to_string();
            if let Some(exception) = fmt.exception.as_deref().and_then(text) {
                if !exception.is_empty() {
                    message.push('\n');
                    message.push_str(exception);
                }
            }
            let level = text(&fmt.level).and_then(|w| self.level(w));
            return Some((Cow::Owned(message), level, Some(source)));
        }
        None
    }

    fn match_format<'t>(
        &'t self,
        line: &'t str,
        via: Option<&'t str>,
        docker: bool,
        scratch: &mut PrefixScratch,
    ) -> Option<Parsed<'t>> {
        let mut chars = line.chars();
        let first = chars.next()?;
        if first == '{' {
            return if chars.next() == Some('"') {
                self.unwrap_json(line, via, docker)
            } else {
                None
            };
        }
        if self.lost_bracket_letters.contains(&first) {
            let mut rest = line.chars().skip(1);
            if rest.next() == Some(' ')
                && rest.next().is_some_and(|c| c.is_ascii_digit())
                && head(line, self.lost_bracket_within).contains("] ")
            {
                let bracketed = format!("[{line}");
                return self.match_text(&bracketed, '[', via, scratch).map(
                    |(message, level, source)| {
                        (
                            Cow::Owned(message.into_owned()),
                            level,
                            source.map(owned_source),
                        )
                    },
                );
            }
        }
        self.match_text(line, first, via, scratch)
    }

    fn match_text<'t>(
        &'t self,
        text: &'t str,
        first: char,
        via: Option<&'t str>,
        scratch: &mut PrefixScratch,
    ) -> Option<Parsed<'t>> {
        for (index, fmt) in self.app.iter().enumerate() {
            if !fmt.starts.contains(&first) {
                continue;
            }
            let locations = &mut scratch.locations[index];
            if fmt.regex.captures_read(locations, text).is_none() {
                continue;
            }
            let group = |i: usize| -> Option<&'t str> {
                let (start, end) = locations.get(fmt.groups[i]?)?;
                Some(&text[start..end])
            };
            let (_, whole_end) = locations.get(0)?;
            let level = group(0).and_then(|w| self.level(w));
            let mut source = Source {
                format: Cow::Borrowed(fmt.name.as_str()),
                ..Source::default()
            };
            source.logger = group(2).filter(|s| !s.is_empty()).map(Cow::Borrowed);
            match group(3).filter(|s| !s.is_empty()) {
                Some(file) => {
                    source.file = Some(Cow::Borrowed(file));
                    source.line = Some(group(4)?.parse().ok()?);
                }
                None => {
                    if let Some(name) = &fmt.name_without_file {
                        source.format = Cow::Borrowed(name.as_str());
                    }
                }
            }
            source.time = group(1).map(Cow::Borrowed);
            source.via = via.filter(|v| !v.is_empty()).map(Cow::Borrowed);
            return Some((Cow::Borrowed(&text[whole_end..]), level, Some(source)));
        }
        None
    }

    /// Split one log line (or multi-line record) into message, level and source.
    pub fn parse_line<'t>(&'t self, line: &'t str, scratch: &mut PrefixScratch) -> Parsed<'t> {
        match self.clean(line) {
            Cow::Borrowed(cleaned) => self.parse_clean(cleaned, scratch),
            Cow::Owned(cleaned) => {
                let (message, level, source) = self.parse_clean(&cleaned, scratch);
                (
                    Cow::Owned(message.into_owned()),
                    level,
                    source.map(owned_source),
                )
            }
        }
    }

    fn parse_clean<'t>(&'t self, line: &'t str, scratch: &mut PrefixScratch) -> Parsed<'t> {
        if let Some(parsed) = self.match_format(line, None, true, scratch) {
            return parsed;
        }
        let mut current = line;
        let mut via: Option<&'t str> = None;
        for _ in 0..self.max_supervisors {
            let Some((rest, found)) = self.strip_supervisor(current) else {
                break;
            };
            if via.is_none() {
                via = Some(found);
            }
            let rest = lstrip(rest);
            if let Some(parsed) = self.match_format(rest, via, true, scratch) {
                return parsed;
            }
            current = rest;
        }
        let source = via.map(|via| Source {
            format: Cow::Borrowed("plain"),
            via: Some(Cow::Borrowed(via)),
            ..Source::default()
        });
        (Cow::Borrowed(current), None, source)
    }
}

/// A source that owns its text (when the line it came from is a temporary).
pub fn owned_source(source: Source<'_>) -> Source<'static> {
    let own = |c: Cow<'_, str>| Cow::Owned(c.into_owned());
    Source {
        format: own(source.format),
        logger: source.logger.map(own),
        file: source.file.map(own),
        line: source.line,
        time: source.time.map(own),
        via: source.via.map(own),
    }
}

/// The line a rule matches: the first line of a record, or the first non-blank line when the
/// message starts with a blank one (as some JupyterHub warnings do).
pub fn first_line(message: &str) -> &str {
    let Some(end) = message.find('\n') else {
        return message;
    };
    let first = &message[..end];
    if !crate::pystr::strip(first).is_empty() {
        return first;
    }
    for part in message[end + 1..].split('\n') {
        let stripped = crate::pystr::strip(part);
        if !stripped.is_empty() {
            return stripped;
        }
    }
    first
}

/// The last line of a multi-line record when it names an exception (a traceback's summary).
pub fn last_exception<'a>(message: &'a str, exception: &Regex) -> Option<&'a str> {
    let tail = rstrip(message);
    let line = crate::pystr::strip(&tail[tail.rfind('\n').map_or(0, |i| i + 1)..]);
    exception.is_match(line).then_some(line)
}
