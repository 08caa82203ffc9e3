//! The compiled rule table and the hot path: pick the rule that decides a message, extract its
//! fields, adjust its severity — the same steps as `app/matcher.py`.
//!
//! A multi-literal prefilter (Aho-Corasick over every rule's guard literals) finds in one pass
//! which rules can match a line; only those rules' regexes run, in precedence order, after a
//! check of the line's first character against the rule's first-character gate.

use std::borrow::Cow;
use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::{CaptureLocations, Regex};

use crate::pep440::Version;
use crate::prefix::{first_line, last_exception, Source};
use crate::pystr::{py_float, py_int, unquote};
use crate::Severity;

/// A value a rule extracted from a line.
#[derive(Clone, Debug, PartialEq)]
pub enum Field<'t> {
    Str(Cow<'t, str>),
    Int(i64),
    Float(f64),
}

/// Field names (the rule's group names) and values (slices of the line, or converted).
pub type Fields<'m, 't> = Vec<(&'m str, Field<'t>)>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conversion {
    Int,
    Float,
    UrlDecode,
    Keep,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adjust {
    Set,
    Cap,
    Floor,
}

pub enum Condition {
    Range {
        field: String,
        low: Option<f64>,
        high: Option<f64>,
        severity: Severity,
    },
    Boundary {
        first: String,
        second: String,
        boundaries: Vec<Version>,
        severity: Severity,
    },
}

pub struct Rule {
    pub id: String,
    pub regex: Regex,
    /// the regex's group names, by group index
    pub names: Vec<Option<String>>,
    /// each derivation's group names, by group index
    pub derive_names: Vec<Vec<Option<String>>>,
    /// the characters a matching line can start with ("" among them: the empty line)
    pub first_chars: Option<Vec<String>>,
    pub plain: bool,
    pub loggers: Option<Vec<String>>,
    pub levels: Option<Vec<Severity>>,
    pub formats: Option<Vec<String>>,
    pub derive: Vec<(String, Regex)>,
    pub convert: Vec<(String, Conversion)>,
    pub conditions: Vec<Condition>,
    /// None: keep the logged level
    pub severity: Option<Severity>,
    pub adjust: Adjust,
    pub category: String,
}

pub struct Matcher {
    pub rules: Vec<Rule>,
    automaton: Option<AhoCorasick>,
    /// for each guard literal, the rules it lets through (with the unguarded ones), as a bitset
    by_key: Vec<Vec<u64>>,
    unguarded: Vec<u64>,
    exception: Regex,
    digit_zeros: Vec<u32>,
}

/// What decided a message.
pub struct Found<'m, 't> {
    pub rule: usize,
    pub fields: Fields<'m, 't>,
    pub severity: Severity,
}

/// Buffers the matcher reuses from line to line within a batch.
#[derive(Default)]
pub struct MatchScratch {
    candidates: Vec<usize>,
    locations: Vec<Option<CaptureLocations>>,
}

impl Matcher {
    pub fn new(
        rules: Vec<Rule>,
        guards: Vec<Option<Vec<String>>>,
        exception: Regex,
        digit_zeros: Vec<u32>,
    ) -> Result<Matcher, String> {
        let mut keys: Vec<String> = Vec::new();
        let mut key_rules: HashMap<String, Vec<usize>> = HashMap::new();
        let mut unguarded = Vec::new();
        for (index, guard) in guards.iter().enumerate() {
            match guard {
                None => unguarded.push(index),
                Some(literals) => {
                    for literal in literals {
                        let entry = key_rules.entry(literal.clone()).or_insert_with(|| {
                            keys.push(literal.clone());
                            Vec::new()
                        });
                        entry.push(index);
                    }
                }
            }
        }
        let automaton = if keys.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::DFA))
                    .prefilter(false)
                    .build(&keys)
                    .map_err(|e| format!("prefilter: {e}"))?,
            )
        };
        let words = rules.len().div_ceil(64);
        let bits = |indexes: &[usize]| {
            let mut set = vec![0u64; words];
            for &i in indexes {
                set[i / 64] |= 1 << (i % 64);
            }
            set
        };
        let unguarded_bits = bits(&unguarded);
        let by_key = keys
            .iter()
            .map(|key| {
                let mut set = bits(&key_rules[key]);
                for (word, extra) in set.iter_mut().zip(&unguarded_bits) {
                    *word |= extra;
                }
                set
            })
            .collect();
        Ok(Matcher {
            rules,
            automaton,
            by_key,
            unguarded: unguarded_bits,
            exception,
            digit_zeros,
        })
    }

    /// Indexes of the rules whose guard literals occur in text, in precedence order.
    fn candidates(&self, text: &str, out: &mut Vec<usize>) {
        out.clear();
        let mut set = [0u64; 16];
        let words = self.unguarded.len();
        let mut wide;
        let bits: &mut [u64] = if words <= set.len() {
            &mut set[..words]
        } else {
            wide = vec![0u64; words];
            &mut wide
        };
        bits.copy_from_slice(&self.unguarded);
        if let Some(automaton) = &self.automaton {
            for m in automaton.find_overlapping_iter(text) {
                for (word, key) in bits.iter_mut().zip(&self.by_key[m.pattern().as_usize()]) {
                    *word |= key;
                }
            }
        }
        for (i, &word) in bits.iter().enumerate() {
            let mut rest = word;
            while rest != 0 {
                out.push(i * 64 + rest.trailing_zeros() as usize);
                rest &= rest - 1;
            }
        }
    }

    /// How many rules the prefilter lets through for this text (for measuring).
    pub fn candidate_count(&self, text: &str) -> usize {
        let mut scratch = Vec::new();
        self.candidates(text, &mut scratch);
        scratch.len()
    }

    /// The deciding rule, its fields and the adjusted severity; None when no rule matches.
    pub fn find<'m, 't>(
        &'m self,
        message: &'t str,
        level: Option<Severity>,
        source: Option<&Source<'_>>,
        scratch: &mut MatchScratch,
    ) -> Option<Found<'m, 't>> {
        let multi_line = memchr::memchr(b'\n', message.as_bytes()).is_some();
        let text = if multi_line {
            first_line(message)
        } else {
            message
        };
        let head = &text[..text.chars().next().map_or(0, char::len_utf8)];
        let mut candidates = std::mem::take(&mut scratch.candidates);
        self.candidates(text, &mut candidates);
        if scratch.locations.len() < self.rules.len() {
            scratch.locations.resize_with(self.rules.len(), || None);
        }
        let mut found = None;
        for &index in &candidates {
            let rule = &self.rules[index];
            if let Some(gate) = &rule.first_chars {
                if !gate.iter().any(|c| c == head) {
                    continue;
                }
            }
            if !rule.plain && !filters_pass(rule, level, source) {
                continue;
            }
            let locations =
                scratch.locations[index].get_or_insert_with(|| rule.regex.capture_locations());
            if rule.regex.captures_read(locations, text).is_none() {
                continue;
            }
            let mut fields = groups(rule, locations, text);
            if !rule.plain {
                self.derive_and_convert(rule, &mut fields);
            }
            if multi_line && !fields.iter().any(|(name, _)| *name == "exception") {
                if let Some(line) = last_exception(message, &self.exception) {
                    fields.push(("exception", Field::Str(Cow::Borrowed(line))));
                }
            }
            let severity = adjust_severity(rule, level, &fields);
            found = Some(Found {
                rule: index,
                fields,
                severity,
            });
            break;
        }
        scratch.candidates = candidates;
        found
    }

    fn derive_and_convert<'m, 't>(&'m self, rule: &'m Rule, fields: &mut Fields<'m, 't>) {
        for (number, (source, regex)) in rule.derive.iter().enumerate() {
            let Some(Field::Str(Cow::Borrowed(value))) = fields
                .iter()
                .find(|(n, _)| n == source)
                .map(|(_, v)| v.clone())
            else {
                continue;
            };
            let mut locations = regex.capture_locations();
            if regex.captures_read(&mut locations, value).is_some() {
                for (index, name) in rule.derive_names[number].iter().enumerate() {
                    let (Some(name), Some((start, end))) = (name, locations.get(index)) else {
                        continue;
                    };
                    if end > start && !fields.iter().any(|(n, _)| n == name) {
                        fields.push((name.as_str(), Field::Str(Cow::Borrowed(&value[start..end]))));
                    }
                }
            }
        }
        for (name, conversion) in &rule.convert {
            let Some(position) = fields.iter().position(|(n, _)| n == name) else {
                continue;
            };
            let Field::Str(value) = &fields[position].1 else {
                continue;
            };
            let converted = match conversion {
                Conversion::Int => py_int(value, &self.digit_zeros)
                    .and_then(|n| i64::try_from(n).ok())
                    .map(Field::Int),
                Conversion::Float => py_float(value, &self.digit_zeros).map(Field::Float),
                Conversion::UrlDecode => Some(Field::Str(Cow::Owned(unquote(value)))),
                Conversion::Keep => Some(Field::Str(value.clone())),
            };
            match converted {
                Some(field) => fields[position].1 = field,
                None => {
                    fields.remove(position);
                }
            }
        }
    }
}

/// A filter applies only when the line says what it filters on: a bare message with no
/// prefix passes logger, level and format filters.
fn filters_pass(rule: &Rule, level: Option<Severity>, source: Option<&Source<'_>>) -> bool {
    if let Some(source) = source {
        if let (Some(loggers), Some(logger)) = (&rule.loggers, &source.logger) {
            if !loggers.iter().any(|l| l == logger) {
                return false;
            }
        }
        if let Some(formats) = &rule.formats {
            if !formats.iter().any(|f| *f == source.format) {
                return false;
            }
        }
    }
    if let (Some(levels), Some(level)) = (&rule.levels, level) {
        if !levels.contains(&level) {
            return false;
        }
    }
    true
}

/// Named groups that took part and are not empty, in the pattern's order.
fn groups<'m, 't>(rule: &'m Rule, locations: &CaptureLocations, text: &'t str) -> Fields<'m, 't> {
    let mut out = Vec::with_capacity(rule.names.len());
    for (index, name) in rule.names.iter().enumerate() {
        let (Some(name), Some((start, end))) = (name, locations.get(index)) else {
            continue;
        };
        if end > start {
            out.push((name.as_str(), Field::Str(Cow::Borrowed(&text[start..end]))));
        }
    }
    out
}

/// Whether an integer is at least / at most a float, compared exactly (as Python compares them).
fn int_vs_float(value: i64, bound: f64) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    if bound.is_nan() {
        return Ordering::Equal; // never reached: bounds come from TOML numbers
    }
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if bound >= TWO_63 {
        return Ordering::Less;
    }
    if bound < -TWO_63 {
        return Ordering::Greater;
    }
    let floor = bound.floor();
    let whole = floor as i64;
    match value.cmp(&whole) {
        Ordering::Equal if bound > floor => Ordering::Less,
        other => other,
    }
}

fn in_range(value: &Field<'_>, low: Option<f64>, high: Option<f64>) -> bool {
    use std::cmp::Ordering;
    match value {
        Field::Int(n) => {
            low.is_none_or(|l| int_vs_float(*n, l) != Ordering::Less)
                && high.is_none_or(|h| int_vs_float(*n, h) != Ordering::Greater)
        }
        Field::Float(x) => low.is_none_or(|l| *x >= l) && high.is_none_or(|h| *x <= h),
        Field::Str(_) => false,
    }
}

fn field<'a, 't>(fields: &'a Fields<'_, 't>, name: &str) -> Option<&'a Field<'t>> {
    fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
}

fn holds(condition: &Condition, fields: &Fields<'_, '_>) -> Option<Severity> {
    match condition {
        Condition::Range {
            field: name,
            low,
            high,
            severity,
        } => field(fields, name)
            .filter(|v| in_range(v, *low, *high))
            .map(|_| *severity),
        Condition::Boundary {
            first,
            second,
            boundaries,
            severity,
        } => {
            let (Some(Field::Str(a)), Some(Field::Str(b))) =
                (field(fields, first), field(fields, second))
            else {
                return None;
            };
            let (va, vb) = (Version::parse(a)?, Version::parse(b)?);
            let (low, high) = if va <= vb { (va, vb) } else { (vb, va) };
            boundaries
                .iter()
                .any(|boundary| low < *boundary && *boundary <= high)
                .then_some(*severity)
        }
    }
}

pub fn adjust_severity(rule: &Rule, level: Option<Severity>, fields: &Fields<'_, '_>) -> Severity {
    for condition in &rule.conditions {
        if let Some(severity) = holds(condition, fields) {
            return severity;
        }
    }
    let Some(target) = rule.severity else {
        return level.unwrap_or(Severity::Info);
    };
    match (level, rule.adjust) {
        (None, _) | (_, Adjust::Set) => target,
        (Some(logged), Adjust::Cap) => logged.min(target),
        (Some(logged), Adjust::Floor) => logged.max(target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    #[test]
    fn exact_int_float_comparison() {
        assert_eq!(int_vs_float(5, 5.0), Ordering::Equal);
        assert_eq!(int_vs_float(5, 5.5), Ordering::Less);
        assert_eq!(int_vs_float(6, 5.5), Ordering::Greater);
        assert_eq!(int_vs_float(-5, -5.5), Ordering::Greater);
        assert_eq!(
            int_vs_float(i64::MAX, 9_223_372_036_854_775_808.0),
            Ordering::Less
        );
        assert_eq!(
            int_vs_float((1 << 53) + 1, 9007199254740992.0),
            Ordering::Greater
        );
    }
}
