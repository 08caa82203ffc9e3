"""Add the enrichment to records, in the default or the ECS profile (DESIGN.md §4).

Records are plain decoded dicts; the enricher adds keys and never changes a value it did not
write. A record that is not an object, has no string message, or whose output key holds a
non-object value passes through unchanged. Enriching an enriched record gives the same record.
"""

from dataclasses import dataclass
from typing import Any, Final, Literal

from app.compiler import CompiledRule, Table
from app.constraints import Profile
from app.matcher import Matcher
from app.prefix import parse_line
from app.severity import SYSLOG, Severity

UNCLASSIFIED: Final = "unclassified"
DEFAULT_MESSAGE_FIELDS: Final = ("message", "log", "msg")
DEFAULT_MAX_MESSAGE_BYTES: Final = 16 * 1024

Outcome = Literal["classified", "unclassified", "passthrough"]


@dataclass(frozen=True, slots=True)
class EnrichOptions:
    profile: Profile = "default"
    key: str = "enrichment"  # default profile: where the enrichment object goes
    message_fields: tuple[str, ...] = DEFAULT_MESSAGE_FIELDS  # first string found wins; dotted paths allowed
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES


@dataclass(frozen=True, slots=True)
class Result:
    """What happened to one record: its outcome and, unless it passed through, the decision."""

    outcome: Outcome
    classification: str | None = None
    category: str | None = None
    severity: Severity | None = None


PASSTHROUGH: Final = Result("passthrough")


def cap_text(text: str, limit: int) -> str:
    """At most `limit` bytes of UTF-8 from the start of text, cut on a character boundary."""
    if len(text) <= limit // 4:
        return text
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", "ignore")


_SEVERITY_WORDS: Final[tuple[Severity, ...]] = ("debug", "info", "warning", "error", "critical")


class Enricher:
    """Applies one compiled table with one set of options; immutable, shareable."""

    __slots__ = ("_getters", "_results", "_unclassified", "matcher", "options", "table")

    def __init__(self, table: Table, options: EnrichOptions | None = None) -> None:
        self.table = table
        self.matcher = Matcher(table)
        self.options = options or EnrichOptions()
        self._getters = tuple(tuple(path.split(".")) for path in self.options.message_fields)
        # Results are immutable: one per (rule, severity) and per logged level, made once
        self._results: tuple[dict[str, Result], ...] = tuple(
            {word: Result("classified", rule.id, rule.spec.category, word) for word in _SEVERITY_WORDS}
            for rule in table.rules
        )
        self._unclassified: dict[str | None, Result] = {
            word: Result("unclassified", UNCLASSIFIED, None, word) for word in (None, *_SEVERITY_WORDS)
        }

    def message_of(self, record: dict[str, Any]) -> str | None:
        for path in self._getters:
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

    def enrich_record(self, record: Any) -> Result:
        """Enrich one record in place; say what happened."""
        if not isinstance(record, dict):
            return PASSTHROUGH
        message = self.message_of(record)
        if message is None:
            return PASSTHROUGH
        options = self.options
        if (
            options.profile == "default"
            and options.key in record
            and not isinstance(record[options.key], dict)
        ):
            return PASSTHROUGH
        text, level, source = parse_line(cap_text(message, options.max_message_bytes))
        found = self.matcher.match(text, level, source)
        if options.profile == "default":
            if found is None:
                record[options.key] = _unclassified(level, source)
                return self._unclassified[level]
            rule, fields, severity = found
            record[options.key] = _classified(rule, severity, level, fields, source)
            return self._results[rule.index][severity]
        if found is None:
            _write_ecs(record, None, level, level, {}, source)
            return self._unclassified[level]
        rule, fields, severity = found
        _write_ecs(record, rule, severity, level, fields, source)
        return self._results[rule.index][severity]

    def enrich_batch(self, records: list[Any]) -> list[Result]:
        enrich = self.enrich_record
        return [enrich(record) for record in records]


def _classified(
    rule: CompiledRule,
    severity: Severity,
    level: Severity | None,
    fields: dict[str, Any],
    source: dict[str, Any] | None,
) -> dict[str, Any]:
    c = rule.constants
    out: dict[str, Any] = {
        "classification": c["classification"],
        "title": c["title"],
        "category": c["category"],
        "severity": severity,
    }
    if level is not None:
        out["original_severity"] = level
    out["doc_url"] = c["doc_url"]
    out["summary"] = c["summary"]
    out["action"] = c["action"]
    out["fields"] = fields
    if source is not None:
        out["source"] = source
    out["ruleset"] = c["ruleset"]
    out["ruleset_version"] = c["ruleset_version"]
    return out


def _unclassified(level: Severity | None, source: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"classification": UNCLASSIFIED}
    if level is not None:
        out["severity"] = level
        out["original_severity"] = level
    if source is not None:
        out["source"] = source
    return out


def _object_at(record: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The object under key, created when absent; None when a non-object value is there."""
    if key not in record:
        created: dict[str, Any] = {}
        record[key] = created
        return created
    current = record[key]
    return current if isinstance(current, dict) else None


def _write_ecs(
    record: dict[str, Any],
    rule: CompiledRule | None,
    severity: Severity | None,
    level: Severity | None,
    fields: dict[str, Any],
    source: dict[str, Any] | None,
) -> None:
    """ECS fields; an existing non-object value at rule/event/log/logenrich is left alone."""
    target = _object_at(record, "rule")
    if target is not None:
        if rule is None:
            target["id"] = UNCLASSIFIED
        else:
            c = rule.constants
            target["id"] = c["classification"]
            target["name"] = c["title"]
            target["category"] = c["category"]
            target["reference"] = c["doc_url"]
            target["description"] = c["summary"]
            target["ruleset"] = c["ruleset"]
            target["version"] = c["ruleset_version"]
    if severity is not None or rule is not None:
        event = _object_at(record, "event")
        if event is not None:
            if severity is not None:
                event["severity"] = SYSLOG[severity]
            if rule is not None:
                event["reference"] = rule.doc_url
    if level is not None or source is not None:
        log = _object_at(record, "log")
        if log is not None:
            if level is not None:
                log.setdefault("level", level)
            if source is not None:
                if "logger" in source:
                    log.setdefault("logger", source["logger"])
                if "file" in source:
                    origin = _object_at(log, "origin")
                    file = _object_at(origin, "file") if origin is not None else None
                    if file is not None:
                        file.setdefault("name", source["file"])
                        file.setdefault("line", source["line"])
    extra = _object_at(record, "logenrich")
    if extra is not None:
        if severity is not None:
            extra["severity"] = severity
        if level is not None:
            extra["original_severity"] = level
        if rule is not None:
            extra["category"] = rule.constants["category"]
            extra["action"] = rule.constants["action"]
            extra["fields"] = fields
        if source is not None:
            extra["source"] = source
