//! The compiled rule table and the hot path: pick the rule that decides a message, extract its
//! fields, adjust its severity — the same steps as `app/matcher.py`.
//!
//! A multi-literal prefilter (Aho-Corasick over every rule's guard literals) finds in one pass
//! which rules can match a line; only those rules' regexes run, in precedence order, after a
//! check of the line's first character against the rule's first-character gate.

use std::borrow::Cow;
use std::collections::HashMap;

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::contiguous::NFA;
use aho_corasick::{AhoCorasick, AhoCorasickKind, Anchored, MatchKind};
use std::sync::OnceLock;

use regex::{CaptureLocations, Regex};
use regex_automata::nfa::thompson::backtrack::{self, BoundedBacktracker};
use regex_automata::util::primitives::NonMaxUsize;
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::Look;

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

/// The characters a matching line can start with, as a set to test a line's first character
/// against ("" among them: the empty line).
pub struct FirstChars {
    ascii: u128,
    other: Vec<char>,
    empty: bool,
}

impl FirstChars {
    /// None when an entry is neither one character nor empty (no gate then).
    pub fn new(entries: &[String]) -> Option<FirstChars> {
        let mut gate = FirstChars {
            ascii: 0,
            other: Vec::new(),
            empty: false,
        };
        for entry in entries {
            let mut chars = entry.chars();
            match (chars.next(), chars.next()) {
                (None, _) => gate.empty = true,
                (Some(c), None) if c.is_ascii() => gate.ascii |= 1 << (c as u32),
                (Some(c), None) => gate.other.push(c),
                _ => return None,
            }
        }
        Some(gate)
    }

    pub fn allows(&self, text: &str) -> bool {
        match text.as_bytes().first() {
            None => self.empty,
            Some(&byte) if byte.is_ascii() => self.ascii >> byte & 1 == 1,
            Some(_) => text.chars().next().is_some_and(|c| self.other.contains(&c)),
        }
    }
}

/// The prefilter automata search literals' heads of at most this many bytes: short keys keep the
/// automata small enough to stay in the CPU's caches (the whole literals made 3.7 MB of
/// transition tables, a cache miss at nearly every byte). Where a head is found, the rest of each
/// literal that begins with it is compared in place, so a rule is a candidate only where its
/// whole literal occurs: rules that share a head (`Failed to start` and `Failed to stop`) do not
/// all run their patterns.
const LITERAL_BYTES: usize = 8;

/// The rules one literal head lets through: those whose literal is the head itself, as a bitset,
/// and the others with the rest of their literal, to compare after the head.
struct HeadRules {
    exact: Vec<u64>,
    tails: Vec<(usize, Box<[u8]>)>,
}

impl HeadRules {
    /// Mark the rules whose whole literal occurs where this head ends at `end` of `text`.
    #[inline]
    fn mark(&self, text: &[u8], end: usize, bits: &mut [u64]) {
        for (word, key) in bits.iter_mut().zip(&self.exact) {
            *word |= key;
        }
        let rest = &text[end..];
        for (rule, tail) in &self.tails {
            if rest.starts_with(tail) {
                bits[rule / 64] |= 1 << (rule % 64);
            }
        }
    }
}

/// Lines longer than this have their fields read by a backtracker with room for the whole
/// default message cap: the `regex` crate's own backtracker stops at a few KiB for the larger
/// patterns and hands over to its PikeVM, ten times slower per byte.
const LONG_LINE: usize = 4096;
/// The backtracker's visited set for long lines: 4 MiB, one per thread, reused by every rule.
const LONG_VISITED: usize = 4 << 20;

pub struct Rule {
    pub id: String,
    pub regex: Regex,
    /// the pattern's backtracker for long lines, built on the first one
    pub long: OnceLock<Option<BoundedBacktracker>>,
    /// the regex's group names, by group index
    pub names: Vec<Option<String>>,
    /// each derivation's group names, by group index
    pub derive_names: Vec<Vec<Option<String>>>,
    /// the characters a matching line can start with
    pub first_chars: Option<FirstChars>,
    /// literals every match holds besides the prefilter's: for each, one of its alternatives
    pub requires: Vec<Vec<memchr::memmem::Finder<'static>>>,
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
    /// the guard literals of the rules not led by literals, searched anywhere in a line
    automaton: Option<AhoCorasick>,
    /// for each guard literal head, the rules it lets through
    by_key: Vec<HeadRules>,
    /// the literals rules anchored at the start of the line begin with, searched there only
    leading: Option<NFA>,
    /// for each leading literal head, the rules that may begin with it
    by_lead: Vec<HeadRules>,
    /// the rules every line is a candidate for
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
    /// long lines: the backtracker's cache (reset for each rule) and capture slots
    long_cache: Option<backtrack::Cache>,
    long_slots: Vec<Option<NonMaxUsize>>,
    /// for each rule, its derivations' capture slots
    derived: Vec<Vec<CaptureLocations>>,
}

impl Matcher {
    pub fn new(
        rules: Vec<Rule>,
        guards: Vec<Option<Vec<String>>>,
        exception: Regex,
        digit_zeros: Vec<u32>,
    ) -> Result<Matcher, String> {
        let leads: Vec<Option<Vec<Vec<u8>>>> = rules
            .iter()
            .map(|rule| leading_literals(rule.regex.as_str()))
            .collect();
        let (keys, key_rules) =
            literal_index(guards.iter().enumerate().filter_map(|(index, guard)| {
                match (&leads[index], guard) {
                    (None, Some(literals)) => Some((
                        index,
                        literals.iter().map(|l| l.as_bytes().to_vec()).collect(),
                    )),
                    _ => None,
                }
            }));
        let (lead_keys, lead_rules) = literal_index(
            leads
                .iter()
                .enumerate()
                .filter_map(|(index, lead)| lead.clone().map(|lead| (index, lead))),
        );
        let unguarded: Vec<usize> = (0..rules.len())
            .filter(|&index| leads[index].is_none() && guards[index].is_none())
            .collect();
        let words = rules.len().div_ceil(64);
        let bits = |indexes: &[usize]| {
            let mut set = vec![0u64; words];
            for &i in indexes {
                set[i / 64] |= 1 << (i % 64);
            }
            set
        };
        let automaton = build_automaton(&keys)?;
        let leading = build_anchored(&lead_keys)?;
        let heads = |rules: Vec<Vec<(usize, Vec<u8>)>>| -> Vec<HeadRules> {
            rules
                .into_iter()
                .map(|rules| {
                    let exact: Vec<usize> = rules
                        .iter()
                        .filter(|(_, tail)| tail.is_empty())
                        .map(|&(rule, _)| rule)
                        .collect();
                    let tails = rules
                        .into_iter()
                        .filter(|(rule, tail)| !tail.is_empty() && !exact.contains(rule))
                        .map(|(rule, tail)| (rule, tail.into_boxed_slice()))
                        .collect();
                    HeadRules {
                        exact: bits(&exact),
                        tails,
                    }
                })
                .collect()
        };
        let by_key = heads(key_rules);
        let by_lead = heads(lead_rules);
        let unguarded = bits(&unguarded);
        Ok(Matcher {
            rules,
            automaton,
            by_key,
            leading,
            by_lead,
            unguarded,
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
        let bytes = text.as_bytes();
        if let Some(leading) = &self.leading {
            // every leading literal the line begins with: walk the automaton from the start
            if let Ok(mut state) = leading.start_state(Anchored::Yes) {
                for (at, &byte) in bytes.iter().enumerate() {
                    state = leading.next_state(Anchored::Yes, state, byte);
                    if leading.is_dead(state) {
                        break;
                    }
                    if !leading.is_match(state) {
                        continue;
                    }
                    for i in 0..leading.match_len(state) {
                        self.by_lead[leading.match_pattern(state, i).as_usize()].mark(
                            bytes,
                            at + 1,
                            bits,
                        );
                    }
                }
            }
        }
        if let Some(automaton) = &self.automaton {
            for m in automaton.find_overlapping_iter(text) {
                self.by_key[m.pattern().as_usize()].mark(bytes, m.end(), bits);
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

    /// Bytes held by the two literal automata (for measuring).
    pub fn automata_bytes(&self) -> (usize, usize) {
        (
            self.leading.as_ref().map_or(0, |a| a.memory_usage()),
            self.automaton.as_ref().map_or(0, |a| a.memory_usage()),
        )
    }

    /// The rules the prefilter lets through for this text, in precedence order (for measuring).
    pub fn candidate_rules(&self, text: &str) -> Vec<usize> {
        let mut out = Vec::new();
        self.candidates(text, &mut out);
        out
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
        let mut candidates = std::mem::take(&mut scratch.candidates);
        self.candidates(text, &mut candidates);
        if scratch.locations.len() < self.rules.len() {
            scratch.locations.resize_with(self.rules.len(), || None);
        }
        let mut found = None;
        for &index in &candidates {
            let rule = &self.rules[index];
            if rule.first_chars.as_ref().is_some_and(|g| !g.allows(text)) {
                continue;
            }
            if !rule.plain && !filters_pass(rule, level, source) {
                continue;
            }
            if !rule
                .requires
                .iter()
                .all(|keys| keys.iter().any(|key| key.find(text.as_bytes()).is_some()))
            {
                continue;
            }
            let mut fields = if text.len() > LONG_LINE {
                match long_groups(rule, text, &mut scratch.long_cache, &mut scratch.long_slots) {
                    Some(Some(fields)) => fields,
                    Some(None) => continue,
                    None => {
                        let locations = scratch.locations[index]
                            .get_or_insert_with(|| rule.regex.capture_locations());
                        if rule.regex.captures_read(locations, text).is_none() {
                            continue;
                        }
                        groups(rule, |i| locations.get(i), text)
                    }
                }
            } else {
                let locations =
                    scratch.locations[index].get_or_insert_with(|| rule.regex.capture_locations());
                if rule.regex.captures_read(locations, text).is_none() {
                    continue;
                }
                groups(rule, |i| locations.get(i), text)
            };
            if !rule.plain {
                if scratch.derived.len() < self.rules.len() {
                    scratch.derived.resize_with(self.rules.len(), Vec::new);
                }
                let derived = &mut scratch.derived[index];
                if derived.len() < rule.derive.len() {
                    *derived = rule
                        .derive
                        .iter()
                        .map(|(_, r)| r.capture_locations())
                        .collect();
                }
                self.derive_and_convert(rule, &mut fields, derived);
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

    fn derive_and_convert<'m, 't>(
        &'m self,
        rule: &'m Rule,
        fields: &mut Fields<'m, 't>,
        derived: &mut [CaptureLocations],
    ) {
        for (number, ((source, regex), locations)) in rule.derive.iter().zip(derived).enumerate() {
            let Some(&Field::Str(Cow::Borrowed(value))) =
                fields.iter().find(|(n, _)| n == source).map(|(_, v)| v)
            else {
                continue;
            };
            if regex.captures_read(locations, value).is_some() {
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

/// Distinct literal heads (at most `LITERAL_BYTES` bytes) and, for each, the rules with a
/// literal that begins with it and the rest of that literal (in rule order, no pair twice).
#[allow(clippy::type_complexity)]
fn literal_index(
    rules: impl Iterator<Item = (usize, Vec<Vec<u8>>)>,
) -> (Vec<Vec<u8>>, Vec<Vec<(usize, Vec<u8>)>>) {
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut positions: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut key_rules: Vec<Vec<(usize, Vec<u8>)>> = Vec::new();
    for (index, literals) in rules {
        for literal in literals {
            let (head, tail) = literal.split_at(literal.len().min(LITERAL_BYTES));
            let position = *positions.entry(head.to_vec()).or_insert_with(|| {
                keys.push(head.to_vec());
                key_rules.push(Vec::new());
                keys.len() - 1
            });
            let entry = (index, tail.to_vec());
            if !key_rules[position].contains(&entry) {
                key_rules[position].push(entry);
            }
        }
    }
    (keys, key_rules)
}

fn build_automaton(keys: &[Vec<u8>]) -> Result<Option<AhoCorasick>, String> {
    if keys.is_empty() {
        return Ok(None);
    }
    AhoCorasick::builder()
        .match_kind(MatchKind::Standard)
        .kind(Some(AhoCorasickKind::DFA))
        .prefilter(false)
        .build(keys)
        .map(Some)
        .map_err(|e| format!("prefilter: {e}"))
}

/// The leading literals' automaton: a contiguous NFA, a fraction of a DFA's size (its walk
/// ends within a few bytes of the line's start, so its slower steps cost little).
fn build_anchored(keys: &[Vec<u8>]) -> Result<Option<NFA>, String> {
    if keys.is_empty() {
        return Ok(None);
    }
    NFA::builder()
        .match_kind(MatchKind::Standard)
        .prefilter(false)
        .build(keys)
        .map(Some)
        .map_err(|e| format!("leading literals: {e}"))
}

/// The literals every match of a pattern anchored at the start of the line begins with (each
/// match begins with one of them); None when the pattern is not anchored there, or its matches
/// may begin with anything.
fn leading_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    if !hir.properties().look_set_prefix().contains(Look::Start) {
        return None;
    }
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
    let literals = seq.literals()?;
    if literals.is_empty() || literals.iter().any(|l| l.as_bytes().is_empty()) {
        return None;
    }
    let mut out: Vec<Vec<u8>> = literals.iter().map(|l| l.as_bytes().to_vec()).collect();
    out.sort();
    out.dedup();
    Some(out)
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

/// A long line's fields: the match found by the regex's DFA, then its groups read by the rule's
/// own backtracker over the match only. Some(None): no match; None: this path cannot serve
/// (the match is longer than the backtracker takes), the caller reads the groups itself.
#[allow(clippy::option_option)]
fn long_groups<'m, 't>(
    rule: &'m Rule,
    text: &'t str,
    cache: &mut Option<backtrack::Cache>,
    slots: &mut Vec<Option<NonMaxUsize>>,
) -> Option<Option<Fields<'m, 't>>> {
    let engine = rule
        .long
        .get_or_init(|| {
            BoundedBacktracker::builder()
                .configure(BoundedBacktracker::config().visited_capacity(LONG_VISITED))
                .build(rule.regex.as_str())
                .ok()
        })
        .as_ref()?;
    let Some(found) = rule.regex.find(text) else {
        return Some(None);
    };
    if found.len() >= engine.max_haystack_len() {
        return None;
    }
    let cache = cache.get_or_insert_with(|| engine.create_cache());
    cache.reset(engine);
    slots.clear();
    slots.resize(engine.get_nfa().group_info().slot_len(), None);
    let input = regex_automata::Input::new(text)
        .span(found.range())
        .anchored(regex_automata::Anchored::Yes);
    engine.try_search_slots(cache, &input, slots).ok()??;
    let slot = |i: usize| -> Option<(usize, usize)> {
        Some((
            slots.get(2 * i)?.as_ref()?.get(),
            slots.get(2 * i + 1)?.as_ref()?.get(),
        ))
    };
    Some(Some(groups(rule, slot, text)))
}

/// Named groups that took part and are not empty, in the pattern's order; `span` gives group
/// i's (start, end).
fn groups<'m, 't>(
    rule: &'m Rule,
    span: impl Fn(usize) -> Option<(usize, usize)>,
    text: &'t str,
) -> Fields<'m, 't> {
    let mut out = Vec::with_capacity(rule.names.len());
    for (index, name) in rule.names.iter().enumerate() {
        let (Some(name), Some((start, end))) = (name, span(index)) else {
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

    fn rule(id: &str, pattern: &str) -> Rule {
        Rule {
            id: id.into(),
            regex: Regex::new(pattern).unwrap(),
            long: OnceLock::new(),
            names: Vec::new(),
            derive_names: Vec::new(),
            first_chars: None,
            requires: Vec::new(),
            plain: true,
            loggers: None,
            levels: None,
            formats: None,
            derive: Vec::new(),
            convert: Vec::new(),
            conditions: Vec::new(),
            severity: None,
            adjust: Adjust::Set,
            category: "benign".into(),
        }
    }

    #[test]
    fn rules_sharing_a_literal_head_are_candidates_only_where_their_whole_literal_is() {
        let rules = vec![
            rule("start", r"^Failed to start (?P<x>\S+)"),
            rule("stop", r"^Failed to stop (?P<x>\S+)"),
            rule("poll-guarded", r"(?:^|: )Failed to poll (?P<x>\S+)"),
            rule("poll-head", r"(?:^|: )Failed t"),
        ];
        let guards = vec![
            None,
            None,
            Some(vec!["Failed to poll ".to_string()]),
            Some(vec!["Failed t".to_string()]),
        ];
        let matcher = Matcher::new(rules, guards, Regex::new("x").unwrap(), Vec::new()).unwrap();
        assert_eq!(matcher.candidate_rules("Failed to start a"), vec![0, 3]);
        assert_eq!(matcher.candidate_rules("Failed to stop a"), vec![1, 3]);
        assert_eq!(matcher.candidate_rules("x: Failed to poll a"), vec![2, 3]);
        assert_eq!(matcher.candidate_rules("x: Failed to start a"), vec![3]);
        assert_eq!(matcher.candidate_rules("Failed to"), vec![3]);
        assert!(matcher.candidate_rules("Failed").is_empty());
    }

    #[test]
    fn leading_literals_only_for_patterns_anchored_on_literals() {
        let lits = |p: &str| {
            leading_literals(p).map(|l| {
                l.into_iter()
                    .map(|b| String::from_utf8(b).unwrap())
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            lits(r"^Fail (?:GET|PUT) (?P<path>\S+)"),
            Some(vec!["Fail GET ".into(), "Fail PUT ".into()])
        );
        // whole literals: the automaton searches their heads, the rest is compared in place
        assert_eq!(
            lits(r"^Failing (?:GET|PUT) (?P<path>\S+)"),
            Some(vec!["Failing GET ".into(), "Failing PUT ".into()])
        );
        assert_eq!(lits(r"^(?P<user>.+?)'s server failed"), None);
        assert_eq!(lits(r"Failing"), None);
        assert_eq!(lits(r"(?:^|: )Failing"), None);
        assert_eq!(lits(r"^\s*$"), None);
        assert_eq!(lits(r"^x|^y"), Some(vec!["x".into(), "y".into()]));
    }

    #[test]
    fn first_chars_gate() {
        let gate = FirstChars::new(&["[".into(), "é".into(), String::new()]).unwrap();
        assert!(gate.allows("[W 2024") && gate.allows("été") && gate.allows(""));
        assert!(!gate.allows("W") && !gate.allows("ü"));
        assert!(FirstChars::new(&["ab".into()]).is_none());
    }

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
