//! The table as the Python package hands it over (JSON, built by `app/native.py`), turned into
//! an [`Engine`](crate::Engine). Every pattern is compiled here once; a pattern the `regex`
//! crate refuses is an error naming the rule.

use regex::{Regex, RegexBuilder};

use crate::json::{self, Mode, Value};
use crate::pep440::Version;
use crate::prefix::{AppFormat, Formats, JsonFormat, Supervisor};
use crate::rules::{Adjust, Condition, Conversion, FirstChars, Matcher, Rule};
use crate::Severity;

pub type Result<T> = std::result::Result<T, String>;

/// Compile a pattern as the engine uses it (`search` semantics).
pub fn compile(pattern: &str) -> Result<Regex> {
    RegexBuilder::new(pattern)
        .size_limit(64 << 20)
        .build()
        .map_err(|e| e.to_string())
}

fn anchored(pattern: &str) -> Result<Regex> {
    compile(&format!(r"\A(?:{pattern})"))
}

fn text<'a>(value: &'a Value, what: &str) -> Result<&'a str> {
    value
        .as_str()
        .ok_or_else(|| format!("{what}: a string expected"))
}

fn field<'a>(value: &'a Value, key: &str) -> Result<&'a Value> {
    value.get(key).ok_or_else(|| format!("missing {key}"))
}

fn strings(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        ),
        _ => None,
    }
}

fn severity(value: &Value, what: &str) -> Result<Severity> {
    Severity::from_word(text(value, what)?).ok_or_else(|| format!("{what}: not a severity"))
}

fn number(value: &Value) -> Option<f64> {
    value.as_f64()
}

fn usize_of(value: &Value, what: &str) -> Result<usize> {
    value
        .as_int()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("{what}: a count expected"))
}

fn chars(value: &Value, what: &str) -> Result<Vec<char>> {
    Ok(text(value, what)?.chars().collect())
}

fn rule(value: &Value) -> Result<(Rule, Option<Vec<String>>, crate::engine::RuleValues)> {
    let id = text(field(value, "id")?, "id")?.to_string();
    let context = |e: String| format!("rule {id}: {e}");
    let regex = compile(text(field(value, "pattern")?, "pattern")?).map_err(context)?;
    let mut derive = Vec::new();
    for pair in field(value, "derive")?.as_array() {
        let items = pair.as_array();
        let (Some(source), Some(pattern)) = (items.first(), items.get(1)) else {
            return Err(context("derive: [from, pattern] expected".into()));
        };
        derive.push((
            text(source, "derive")?.to_string(),
            compile(text(pattern, "derive")?).map_err(context)?,
        ));
    }
    let mut convert = Vec::new();
    for pair in field(value, "convert")?.as_array() {
        let items = pair.as_array();
        let name = items
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let conversion = match items.get(1).and_then(Value::as_str) {
            Some("int") => Conversion::Int,
            Some("float") => Conversion::Float,
            Some("urldecode") => Conversion::UrlDecode,
            _ => Conversion::Keep,
        };
        convert.push((name, conversion));
    }
    let mut conditions = Vec::new();
    for condition in field(value, "conditions")?.as_array() {
        let target = severity(field(condition, "severity")?, "condition severity")?;
        match condition.get("kind").and_then(Value::as_str) {
            Some("range") => conditions.push(Condition::Range {
                field: text(field(condition, "field")?, "field")?.to_string(),
                low: condition.get("min").and_then(number),
                high: condition.get("max").and_then(number),
                severity: target,
            }),
            Some("version-boundary") => {
                let names = strings(field(condition, "fields")?).unwrap_or_default();
                let boundaries = strings(field(condition, "boundaries")?)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|b| Version::parse(b))
                    .collect();
                conditions.push(Condition::Boundary {
                    first: names.first().cloned().unwrap_or_default(),
                    second: names.get(1).cloned().unwrap_or_default(),
                    boundaries,
                    severity: target,
                });
            }
            other => return Err(context(format!("unknown condition {other:?}"))),
        }
    }
    let level_filter = strings(field(value, "levels")?).map(|words| {
        words
            .iter()
            .filter_map(|w| Severity::from_word(w))
            .collect()
    });
    let adjust = match value.get("adjust").and_then(Value::as_str) {
        Some("cap") => Adjust::Cap,
        Some("floor") => Adjust::Floor,
        _ => Adjust::Set,
    };
    let severity_word = text(field(value, "severity")?, "severity")?;
    let values = field(value, "values")?;
    let get = |key: &str| {
        values
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let constants = crate::engine::RuleValues {
        id: id.clone(),
        title: get("title"),
        category: get("category"),
        doc_url: get("doc_url"),
        summary: get("summary"),
        action: get("action"),
        ruleset: get("ruleset"),
        ruleset_version: get("ruleset_version"),
        tokens: Vec::new(),
    }
    .with_tokens();
    let names = regex
        .capture_names()
        .map(|n| n.map(str::to_string))
        .collect();
    let derive_names = derive
        .iter()
        .map(|(_, r): &(String, Regex)| r.capture_names().map(|n| n.map(str::to_string)).collect())
        .collect();
    let rule = Rule {
        long: std::sync::OnceLock::new(),
        id,
        names,
        derive_names,
        regex,
        first_chars: strings(field(value, "first_chars")?).and_then(|c| FirstChars::new(&c)),
        requires: value
            .get("requires")
            .map(|all| {
                all.as_array()
                    .iter()
                    .filter_map(strings)
                    .map(|keys| {
                        keys.iter()
                            .map(|k| memchr::memmem::Finder::new(k.as_bytes()).into_owned())
                            .collect()
                    })
                    .collect()
            })
            .unwrap_or_default(),
        plain: field(value, "plain")?.as_bool().unwrap_or(false),
        loggers: strings(field(value, "loggers")?),
        levels: level_filter,
        formats: strings(field(value, "formats")?),
        derive,
        convert,
        conditions,
        severity: Severity::from_word(severity_word),
        adjust,
        category: constants.category.clone(),
    };
    Ok((rule, strings(field(value, "guard")?), constants))
}

fn formats(value: &Value) -> Result<Formats> {
    let get = |key: &str| field(value, key);
    let mut app = Vec::new();
    for fmt in get("app")?.as_array() {
        let regex = anchored(text(field(fmt, "pattern")?, "pattern")?)?;
        let index = |name: &str| regex.capture_names().position(|n| n == Some(name));
        let groups = [
            index("level"),
            index("time"),
            index("logger"),
            index("file"),
            index("line"),
        ];
        app.push(AppFormat {
            name: text(field(fmt, "name")?, "name")?.to_string(),
            starts: chars(field(fmt, "starts")?, "starts")?,
            regex,
            name_without_file: fmt
                .get("name_without_file")
                .and_then(Value::as_str)
                .map(str::to_string),
            groups,
        });
    }
    let mut supervisors = Vec::new();
    for sup in get("supervisors")?.as_array() {
        supervisors.push(Supervisor {
            name: text(field(sup, "name")?, "name")?.to_string(),
            regex: anchored(text(field(sup, "pattern")?, "pattern")?)?,
            starts: sup
                .get("starts")
                .and_then(Value::as_str)
                .map(|s| s.chars().collect()),
            within: sup
                .get("within")
                .and_then(Value::as_str)
                .map(str::to_string),
            within_chars: usize_of(field(sup, "within_chars")?, "within_chars")?,
        });
    }
    let mut json_formats = Vec::new();
    for fmt in get("json_formats")?.as_array() {
        let key = |role: &str| -> Result<String> { Ok(text(field(fmt, role)?, role)?.to_string()) };
        let optional = |role: &str| fmt.get(role).and_then(Value::as_str).map(str::to_string);
        json_formats.push(JsonFormat {
            name: key("name")?,
            message: key("message")?,
            level: key("level")?,
            logger: key("logger")?,
            time: key("time")?,
            file: optional("file"),
            line: optional("line"),
            exception: optional("exception"),
            marks: strings(field(fmt, "marks")?).unwrap_or_default(),
        });
    }
    let mut level_words = Vec::new();
    if let Value::Object(members) = get("level_words")? {
        for (word, target) in members {
            level_words.push((word.clone(), severity(target, "level word")?));
        }
    }
    Ok(Formats {
        app,
        supervisors,
        lost_bracket_letters: chars(get("lost_bracket_letters")?, "lost_bracket_letters")?,
        lost_bracket_within: usize_of(get("lost_bracket_within")?, "lost_bracket_within")?,
        embedded_hub: compile(text(get("embedded_hub")?, "embedded_hub")?)?,
        embedded_hub_literal: text(get("embedded_hub_literal")?, "literal")?.to_string(),
        embedded_chp: compile(text(get("embedded_chp")?, "embedded_chp")?)?,
        embedded_chp_literal: text(get("embedded_chp_literal")?, "literal")?.to_string(),
        embedded_within: usize_of(get("embedded_within")?, "embedded_within")?,
        embedded_via: text(get("embedded_via")?, "embedded_via")?.to_string(),
        max_supervisors: usize_of(get("max_supervisors")?, "max_supervisors")?,
        ansi: compile(text(get("ansi")?, "ansi")?)?,
        ansi_literals: strings(get("ansi_literals")?).unwrap_or_default(),
        border: chars(get("border")?, "border")?
            .first()
            .copied()
            .unwrap_or('│'),
        border_strip: chars(get("border_strip")?, "border_strip")?,
        docker_json_key: text(get("docker_json_key")?, "docker_json_key")?.to_string(),
        docker_json_via: text(get("docker_json_via")?, "docker_json_via")?.to_string(),
        json_formats,
        level_words,
    })
}

fn profile(value: &Value) -> Result<crate::engine::Profile> {
    let mut targets = Vec::new();
    for target in field(value, "targets")?.as_array() {
        let mut slots = Vec::new();
        for slot in field(target, "slots")?.as_array() {
            let items = slot.as_array();
            let key = items
                .first()
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let name = items.get(1).and_then(Value::as_str).unwrap_or_default();
            let value = crate::engine::ValueName::from_name(name)
                .ok_or_else(|| format!("unknown value {name}"))?;
            let keep = items.get(2).and_then(Value::as_bool).unwrap_or(false);
            slots.push(crate::engine::Slot { key, value, keep });
        }
        let needs = strings(field(target, "needs")?)
            .unwrap_or_default()
            .iter()
            .map(|n| {
                crate::engine::ValueName::from_name(n).ok_or_else(|| format!("unknown value {n}"))
            })
            .collect::<Result<Vec<_>>>()?;
        targets.push(crate::engine::Target {
            path: strings(field(target, "path")?).unwrap_or_default(),
            slots,
            replace: field(target, "replace")?.as_bool().unwrap_or(false),
            needs,
        });
    }
    Ok(crate::engine::Profile {
        targets,
        guard_key: value
            .get("guard_key")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// The engine for the table described by `config` (JSON).
pub fn engine(config: &[u8]) -> Result<crate::engine::Engine> {
    let value = json::parse(config, Mode::Lenient).map_err(|e| format!("config: {}", e.message))?;
    let mut rules = Vec::new();
    let mut guards = Vec::new();
    let mut values = Vec::new();
    for item in field(&value, "rules")?.as_array() {
        let (rule, guard, constants) = rule(item)?;
        rules.push(rule);
        guards.push(guard);
        values.push(constants);
    }
    let digit_zeros: Vec<u32> = field(&value, "digit_zeros")?
        .as_array()
        .iter()
        .filter_map(|v| v.as_int().and_then(|n| u32::try_from(n).ok()))
        .collect();
    let exception = anchored(&format!(
        r"(?:{})\z",
        text(field(&value, "exception_line")?, "exception_line")?
    ))?;
    let matcher = Matcher::new(rules, guards, exception, digit_zeros)?;
    let message_fields = field(&value, "message_fields")?
        .as_array()
        .iter()
        .map(|path| strings(path).unwrap_or_default())
        .collect();
    let profile = profile(field(&value, "profile")?)?;
    let single_object = profile
        .single_object()
        .map(|(key, slots)| (key.to_string(), slots));
    Ok(crate::engine::Engine {
        single_object,
        matcher,
        formats: formats(field(&value, "formats")?)?,
        profile,
        values,
        message_fields,
        max_message_bytes: usize_of(field(&value, "max_message_bytes")?, "max_message_bytes")?,
    })
}
