"""Draft a rule file from mined templates (``app.mining``): one rule per frequent template, written
so that ``logenrich check`` passes it as it is, for the operator to edit and load with ``--rules``.

A template becomes a pattern in the rule subset: ``^``, each constant token escaped, each
variable token a named group of the narrowest class that fits every token seen there
(``\\d+``, a version, a path, a user-like name, ``\\S+``), the separators and surrounding white
space as seen, ``$`` (or a separator, when the messages had more tokens than were kept). The
compiler derives the rule's guard literals from its constant runs. Two kept lines become the
examples, with the fields the pattern extracts; a line of the most similar other template that
the pattern does not match becomes the reject. Each rule has priority -1: loaded with the
built-in set it comes after the catalog's own rules (priority 0) and takes only what they leave.
The draft is then checked like any rule file and exported to VRL; a rule that does not pass is
left out with the reason, so the file written always checks.
"""

import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from app.check import check_paths
from app.engine import EngineName
from app.enrich import EnrichOptions, cap_text, readable
from app.errors import Issue, TableError
from app.export_vrl import export_vrl
from app.matcher import last_exception
from app.mining import Class, Template, joined, narrowest
from app.patterns import check_pattern
from app.prefix import first_line, parse_line
from app.regexes import compile_pattern, pattern_problem

DEFAULT_DOC_BASE: Final = "https://jupyterhub.readthedocs.io/en/stable/"
DEFAULT_DOC_URL: Final = "faq/troubleshooting.html"
DEFAULT_NAME: Final = "site"
MAX_EXAMPLES: Final = 2
DRAFT_PRIORITY: Final = -1
_ROUNDS: Final = 4

_CLASS_PATTERNS: Final[dict[Class, str]] = {
    Class.DIGITS: r"\d+",
    Class.VERSION: r"v?\d+\.[\w.+-]+",  # a superset of what the class admits, and linear
    Class.PATH: r"/\S*",
    Class.NAME: r"[\w.@-]+",
    Class.NONSPACE: r"\S+",
    Class.ANY: r"[^ \t]+",
}
_CLASS_NAMES: Final[dict[Class, str]] = {
    Class.DIGITS: "number",
    Class.VERSION: "version",
    Class.PATH: "path",
    Class.NAME: "name",
    Class.NONSPACE: "value",
    Class.ANY: "value",
}
# escaped wherever they stand: every character with a meaning in Python's re or the regex crate
_META: Final = frozenset("\\.^$*+?()[]{}|#&~-")
_STOP_WORDS: Final = frozenset(
    [
        "a",
        "an",
        "the",
        "for",
        "to",
        "of",
        "on",
        "in",
        "at",
        "from",
        "with",
        "by",
        "is",
        "was",
        "are",
        "be",
        "and",
        "or",
        "as",
        "not",
        "no",
        "into",
        "via",
    ]
)
_WORD: Final = re.compile(r"[a-z][a-z0-9_]{1,30}")


def escape(text: str) -> str:
    """Text as a regex that matches exactly it in Python's re, the regex crate and VRL."""
    out: list[str] = []
    for char in text:
        code = ord(char)
        if char in _META:
            out.append("\\" + char)
        elif char == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code > 0x7F and not char.isprintable():
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    return "".join(out)


def _group_name(previous: str | None, kind: Class, used: set[str]) -> str:
    word = (previous or "").strip(":=,;()[]'\"").lower().replace("-", "_")
    base = word if _WORD.fullmatch(word) and word not in _STOP_WORDS else _CLASS_NAMES[kind]
    name, number = base, 1
    while name in used:
        number += 1
        name = f"{base}_{number}"
    used.add(name)
    return name


def pattern_of(template: Template) -> str:
    """The template as a pattern of the rule subset."""
    parts: list[str] = []
    used: set[str] = set()
    previous: str | None = None
    separator = " " if template.single else "[ \\t]{1,64}"
    for n, (token, variable, classes) in enumerate(
        zip(template.tokens, template.variable, template.classes, strict=True)
    ):
        if n and not template.glued[n]:
            parts.append(separator)
        if variable:
            kind = narrowest(classes)
            parts.append(f"(?P<{_group_name(previous, kind, used)}>{_CLASS_PATTERNS[kind]})")
            previous = None
        else:
            parts.append(escape(token))
            if any(c.isalnum() for c in token):  # a group is named after the word before it
                previous = token
    start = "^[ \\t]*" if template.lead else "^"
    # runs of white space after a token are bounded: `\S+[ \t]+\S+` and `\S+[ \t]*$` are shapes
    # the backtracking check refuses (app.backtracking)
    end = "[ \\t]" if template.truncated else "[ \\t]{0,64}$" if template.trail else "$"
    return start + "".join(parts) + end


def _slug(template: Template) -> str:
    words: list[str] = []
    for token, variable in zip(template.tokens, template.variable, strict=True):
        if variable:
            continue
        words.extend(re.findall(r"[a-z0-9]+", token.lower()))
        if len(words) >= 6:
            break
    slug = "-".join(words[:6])[:48].strip("-")
    return slug or f"template-{template.key}"


def _printable(text: str, limit: int) -> str:
    shown = "".join(c if c.isprintable() else "?" for c in text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def toml_string(text: str) -> str:
    """A TOML basic string (control characters escaped; what TOML cannot hold replaced)."""
    out: list[str] = ['"']
    for char in text:
        code = ord(char)
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF or unicodedata.category(char) == "Cs":
            out.append("\ufffd")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _pattern_string(pattern: str) -> str:
    """A TOML literal string when the pattern allows one (no backslash doubling to read)."""
    if "'" not in pattern and all(c == "\t" or (ord(c) >= 0x20 and ord(c) != 0x7F) for c in pattern):
        return "'" + pattern + "'"
    return toml_string(pattern)


@dataclass(frozen=True, slots=True)
class DraftRule:
    id: str
    template: Template
    pattern: str
    severity: str
    category: str
    examples: tuple[tuple[str, str, dict[str, str]], ...]  # (line, severity, fields)
    reject: str | None

    def toml(self) -> str:
        shown = _printable(self.template.text, 200)
        levels = ", ".join(f"{level} {count}" for level, count in self.template.levels.most_common())
        template = self.template
        constant = [n for n, variable in enumerate(template.variable) if not variable]
        words = joined([template.tokens[n] for n in constant], tuple(template.glued[n] for n in constant))
        title = _printable(words or template.text, 120)
        lines = [
            "[[rules]]",
            f"# {self.template.count} line(s) like: {shown}",
            f"# logged levels: {levels}",
            f"id = {toml_string(self.id)}",
            f"title = {toml_string('Draft: ' + title)}",
            f"pattern = {_pattern_string(self.pattern)}",
            "# after the catalog's own rules (priority 0), so it only takes lines they leave: raise it to"
            " override one",
            f"priority = {DRAFT_PRIORITY}",
            f"severity = {toml_string(self.severity)}",
            f"category = {toml_string(self.category)}  # benign | actionable | misconfiguration | failure"
            " | security",
            "# doc_url is relative to the ruleset's doc_base: point it at your own runbook (https only)",
            f"doc_url = {toml_string(DEFAULT_DOC_URL)}",
            'summary = "Draft: say what this message means."',
            'action = "Draft: say what to do about it, or that nothing is needed."',
        ]
        if self.reject is not None:
            lines.append(f"rejects = [{toml_string(self.reject)}]")
        for line, severity, found in self.examples:
            lines += [
                "",
                "[[rules.examples]]",
                f"line = {toml_string(line)}",
                f"severity = {toml_string(severity)}",
            ]
            if found:
                pairs = ", ".join(f"{name} = {toml_string(value)}" for name, value in found.items())
                lines.append(f"fields = {{ {pairs} }}")
        return "\n".join(lines) + "\n"


@dataclass
class Draft:
    """The drafted file (empty text when no rule was left), and why templates were left out."""

    text: str
    rules: list[DraftRule]
    dropped: list[str] = field(default_factory=list)


def _severity(template: Template) -> str:
    seen = set(template.levels)
    if len(seen) == 1 and "none" not in seen:
        return next(iter(seen))
    return "keep"


def _category(template: Template) -> str:
    worst = {level for level in template.levels if level != "none"}
    if worst & {"error", "critical"}:
        return "failure"
    if "warning" in worst:
        return "actionable"
    return "benign"


def _message(line: str, options: EnrichOptions) -> tuple[str, str | None]:
    """A line's message as the engines read it, and its logged level."""
    text = cap_text(readable(line), options.max_message_bytes)
    message, level, _ = parse_line(text)
    return message, level


def _fields(regex: re.Pattern[str], message: str) -> dict[str, str] | None:
    """What the rule extracts from a message; None when its pattern does not match."""
    found = regex.search(first_line(message) if "\n" in message else message)
    if found is None:
        return None
    fields = {name: value for name, value in found.groupdict().items() if value}
    if "\n" in message and "exception" not in fields:
        exception = last_exception(message)
        if exception is not None:
            fields["exception"] = exception
    return fields


def _similarity(a: Template, b: Template) -> float:
    words_a = {t for t, v in zip(a.tokens, a.variable, strict=True) if not v}
    words_b = {t for t, v in zip(b.tokens, b.variable, strict=True) if not v}
    union = words_a | words_b
    shared = len(words_a & words_b) / len(union) if union else 0.0
    return shared + (0.1 if len(a.tokens) == len(b.tokens) else 0.0)


def _reject(
    template: Template, regex: re.Pattern[str], others: list[Template], options: EnrichOptions
) -> str | None:
    """A line of the most similar other template that the pattern does not match."""
    ranked = sorted(
        (other for other in others if other is not template and other.examples),
        key=lambda other: -_similarity(template, other),
    )
    for other in ranked[:50]:
        for example in other.examples:
            message, _ = _message(example.line, options)
            if _fields(regex, message) is None:
                return example.line
    return None


def _draft_one(
    template: Template, rule_id: str, others: list[Template], options: EnrichOptions
) -> DraftRule | str:
    """The rule, or why there is none."""
    if all(template.variable):
        return "every token varies: no word to match on"
    pattern = pattern_of(template)
    problems = check_pattern(pattern)
    native = pattern_problem(pattern) if not problems else None
    if problems:
        return f"its pattern is outside the rule subset: {problems[0]}"
    if native is not None:
        return f"the native engine cannot compile its pattern: {native.splitlines()[-1]}"
    regex = compile_pattern(pattern)
    severity = _severity(template)
    examples: list[tuple[str, str, dict[str, str]]] = []
    for example in template.examples[:MAX_EXAMPLES]:
        message, level = _message(example.line, options)
        found = _fields(regex, message)
        if found is None:
            return f"its pattern does not match its own example {example.line[:80]!r}"
        examples.append((example.line, (level or "info") if severity == "keep" else severity, found))
    if not examples:
        return "no example line was kept"
    reject = _reject(template, regex, others, options)
    return DraftRule(rule_id, template, pattern, severity, _category(template), tuple(examples), reject)


def render(rules: list[DraftRule], name: str, doc_base: str, messages: int) -> str:
    header = [
        f"# Rules drafted by `logenrich mine --draft` from {messages} unclassified message(s).",
        "# Edit each id, title, category, summary and action; keep the examples (they are real lines),",
        "# run `logenrich check THIS_FILE`, then load it with `logenrich serve --rules THIS_FILE`.",
        "",
        "[ruleset]",
        f"name = {toml_string(name)}",
        'version = "0.1.0"',
        "# doc_base must be https: replace it with your own documentation's address",
        f"doc_base = {toml_string(doc_base)}",
        f"description = {toml_string(f'Rules drafted from {len(rules)} templates of unclassified lines')}",
        "",
    ]
    return "\n".join(header) + "\n" + "\n".join(rule.toml() for rule in rules)


def _rule_errors(issues: list[Issue]) -> dict[str | None, str]:
    errors: dict[str | None, str] = {}
    for issue in issues:
        if not issue.warning:
            errors.setdefault(issue.rule_id, issue.message)
    return errors


def draft_rules(
    templates: list[Template],
    *,
    min_count: int = 2,
    name: str = DEFAULT_NAME,
    doc_base: str = DEFAULT_DOC_BASE,
    options: EnrichOptions | None = None,
    engine: EngineName = "native",
    messages: int = 0,
) -> Draft:
    """One checked rule per template seen at least `min_count` times (most frequent first)."""
    options = options or EnrichOptions()
    dropped: list[str] = []
    rules: list[DraftRule] = []
    ids: set[str] = set()
    for template in templates:
        if template.count < min_count:
            continue
        base = f"{name}.{_slug(template)}"
        rule_id, number = base, 1
        while rule_id in ids:
            number += 1
            rule_id = f"{base}-{number}"
        drafted = _draft_one(template, rule_id, templates, options)
        if isinstance(drafted, str):
            dropped.append(f"{template.text[:100]!r} ({template.count} lines): {drafted}")
            continue
        ids.add(rule_id)
        rules.append(drafted)
    # the first rule that matches decides: the more words a rule fixes, the earlier it comes
    rules.sort(key=lambda rule: (-sum(not v for v in rule.template.variable), -rule.template.count))
    with tempfile.TemporaryDirectory(prefix="logenrich-draft-") as folder:
        path = Path(folder) / "draft.toml"
        for _ in range(_ROUNDS):
            if not rules:
                break
            text = render(rules, name, doc_base, messages)
            path.write_text(text, encoding="utf-8")
            table, issues = check_paths([path], engine)
            errors = _rule_errors(issues)
            if not errors and table is not None:
                export_vrl(table, options)  # the same table as a VRL program: it must export
                return Draft(text, rules, dropped)
            if None in errors or not any(rule.id in errors for rule in rules):
                raise TableError(issues)
            dropped.extend(
                f"{rule.template.text[:100]!r} ({rule.template.count} lines): {errors[rule.id]}"
                for rule in rules
                if rule.id in errors
            )
            rules = [rule for rule in rules if rule.id not in errors]
    return Draft("", [], dropped)
