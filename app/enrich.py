"""The Python engine's record step: decide what a record is, then write the decision into it in
the chosen output profile (``app.profiles``).

Records are plain decoded dicts; the enricher adds keys and never changes a value it did not
write. A record that is not an object, has no string message, or whose output key holds a
non-object value passes through unchanged. Enriching an enriched record gives the same record.
"""

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Final, Literal

from app.batch import PASSTHROUGH, Counts
from app.compiler import CompiledRule, Table
from app.constraints import Profile
from app.matcher import Matcher
from app.prefix import parse_line
from app.profiles import ProfileSpec, Value, profile_spec
from app.severity import SYSLOG, Severity

UNCLASSIFIED: Final = "unclassified"
# journald (Fluent Bit's systemd input) keeps its upper-case MESSAGE
DEFAULT_MESSAGE_FIELDS: Final = ("message", "log", "msg", "MESSAGE")
DEFAULT_MAX_MESSAGE_BYTES: Final = 16 * 1024

Outcome = Literal["classified", "unclassified", "passthrough"]


@dataclass(frozen=True, slots=True)
class EnrichOptions:
    profile: Profile = "default"
    key: str = "enrichment"  # default profile: where the enrichment object goes
    message_fields: tuple[str, ...] = DEFAULT_MESSAGE_FIELDS  # first string found wins; dotted paths allowed
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES

    @property
    def spec(self) -> ProfileSpec:
        return profile_spec(self.profile, self.key)


@dataclass(frozen=True, slots=True)
class Decision:
    """What one record is: its outcome and, unless it passed through, what the engine found."""

    outcome: Outcome
    rule: CompiledRule | None = None
    severity: Severity | None = None  # adjusted; the logged level when no rule matched
    level: Severity | None = None  # as logged, normalised
    fields: dict[str, Any] | None = None
    source: dict[str, Any] | None = None

    @property
    def classification(self) -> str | None:
        if self.outcome == "passthrough":
            return None
        return self.rule.id if self.rule is not None else UNCLASSIFIED

    @property
    def category(self) -> str | None:
        return self.rule.spec.category if self.rule is not None else None

    @property
    def doc_url(self) -> str | None:
        return self.rule.doc_url if self.rule is not None else None


PASSED: Final = Decision("passthrough")


def count_decisions(decisions: list[Decision]) -> Counts:
    """How many records of each kind a batch held, as the metrics count them."""
    counts: Counts = Counter()
    for decision in decisions:
        if decision.outcome == "passthrough":
            counts[PASSTHROUGH] += 1
        else:
            key = (decision.classification or "", decision.category or "none", decision.severity or "unknown")
            counts[key] += 1
    return counts


_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def readable(text: str, from_bytes: bool = False) -> str:
    """The message as the engines read it. In a JSON string a lone surrogate escape reads as
    U+FFFD; in a MessagePack string (`from_bytes`, decoded with surrogateescape) invalid UTF-8
    reads as U+FFFD per maximal invalid sequence, as Rust's lossy decoding reads it. Values in
    the record are not touched."""
    if text.isascii() or not _LONE_SURROGATE.search(text):
        return text
    if from_bytes:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return _LONE_SURROGATE.sub("\ufffd", text)


def cap_text(text: str, limit: int) -> str:
    """At most `limit` bytes of UTF-8 from the start of text, cut on a character boundary."""
    if len(text) <= limit // 4:
        return text
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", "ignore")


def message_at(record: Any, getters: tuple[tuple[str, ...], ...]) -> str | None:
    """The record's log line: the first string at one of the paths (each split at its dots)."""
    if not isinstance(record, dict):
        return None
    for path in getters:
        if len(path) == 1:
            value: Any = record.get(path[0])
        else:
            value = record
            for part in path:
                if not isinstance(value, dict):
                    value = None
                    break
                value = value.get(part)
        if isinstance(value, str):
            return value
    return None


def _rule_values(rule: CompiledRule) -> dict[Value, Any]:
    return {
        "classification": rule.id,
        "title": rule.spec.title,
        "category": rule.spec.category,
        "doc_url": rule.doc_url,
        "summary": rule.spec.summary,
        "action": rule.spec.action,
        "ruleset": rule.ruleset,
        "ruleset_version": rule.ruleset_version,
    }


class Enricher:
    """Applies one compiled table with one set of options. Shareable between threads: its
    matcher's combination cache is the only state that changes, and only grows."""

    __slots__ = ("_constants", "_getters", "_targets", "matcher", "options", "spec", "table")

    def __init__(self, table: Table, options: EnrichOptions | None = None) -> None:
        self.table = table
        self.matcher = Matcher(table)
        self.options = options or EnrichOptions()
        self.spec = self.options.spec
        self._getters = tuple(tuple(path.split(".")) for path in self.options.message_fields)
        self._constants = tuple(_rule_values(rule) for rule in table.rules)
        self._targets = tuple(
            (
                target.path,
                target.replace,
                target.needs,
                tuple((slot.key, slot.value, slot.keep_existing) for slot in target.slots),
            )
            for target in self.spec.targets
        )

    def message_of(self, record: Any) -> str | None:
        return message_at(record, self._getters)

    def decide(self, record: Any, from_bytes: bool = False) -> Decision:
        """What the record is, without touching it (`from_bytes`: its strings came from
        MessagePack, see ``readable``)."""
        message = self.message_of(record)
        if message is None:
            return PASSED
        guard = self.spec.guard_key
        if guard is not None and guard in record and not isinstance(record[guard], dict):
            return PASSED
        return self.decide_message(message, from_bytes)

    def decide_message(self, message: str, from_bytes: bool = False) -> Decision:
        text = cap_text(readable(message, from_bytes), self.options.max_message_bytes)
        text, level, source = parse_line(text)
        if source is None and not text.strip():  # a blank line says nothing (Docker's {"log": "\n"})
            return Decision("unclassified", None, level, level, None, source)
        found = self.matcher.match(text, level, source)
        if found is None:
            return Decision("unclassified", None, level, level, None, source)
        rule, fields, severity = found
        return Decision("classified", rule, severity, level, fields, source)

    def write(self, record: dict[str, Any], decision: Decision) -> None:
        """Write a decision into its record, as the profile says."""
        rule = decision.rule
        values: dict[Value, Any] = self._constants[rule.index] if rule is not None else {}
        source = decision.source
        severity = decision.severity
        dynamic: dict[Value, Any] = {
            "classification": rule.id if rule is not None else UNCLASSIFIED,
            "severity": severity,
            "syslog_severity": SYSLOG[severity] if severity is not None else None,
            "level": decision.level,
            "fields": decision.fields,
            "source": source,
        }
        if source is not None:
            dynamic["source_logger"] = source.get("logger")
            dynamic["source_file"] = source.get("file")
            dynamic["source_line"] = source.get("line")
        for path, replace, needs, slots in self._targets:
            if needs and all(dynamic.get(need, values.get(need)) is None for need in needs):
                continue
            target = _object_at(record, path, replace)
            if target is None:
                continue
            for key, name, keep in slots:
                value = dynamic.get(name, values.get(name))
                if value is None:
                    continue
                if keep:
                    target.setdefault(key, value)
                else:
                    target[key] = value

    def enrich_record(self, record: Any, from_bytes: bool = False) -> Decision:
        """Enrich one record in place; say what it is."""
        decision = self.decide(record, from_bytes)
        if decision.outcome != "passthrough":
            self.write(record, decision)
        return decision

    def enrich_batch(self, records: list[Any], from_bytes: bool = False) -> list[Decision]:
        enrich = self.enrich_record
        return [enrich(record, from_bytes) for record in records]


def _object_at(record: dict[str, Any], path: tuple[str, ...], replace: bool) -> dict[str, Any] | None:
    """The object at path, created where absent (a new one at the end when `replace`); None when
    a non-object value is in the way."""
    current = record
    last = len(path) - 1
    for depth, key in enumerate(path):
        if depth == last and replace:
            created: dict[str, Any] = {}
            current[key] = created
            return created
        if key not in current:
            inner: dict[str, Any] = {}
            current[key] = inner
            current = inner
            continue
        found = current[key]
        if not isinstance(found, dict):
            return None
        current = found
    return current
