"""The hot path: pick the rule that decides a message, extract its fields, adjust its severity.

A multi-literal prefilter (Aho-Corasick over every rule's guard literals, see
``app.patterns.guard_keys``) finds in one pass which rules can match a line; only those rules'
regexes run, in precedence order, and the first that matches decides. Rules without a usable
literal are tried on every line (``logenrich check`` warns about them).
"""

from typing import Any, Final
from urllib.parse import unquote

import ahocorasick_rs

from app.compiler import CompiledRule, Table
from app.prefix import first_line
from app.regexes import compile_pattern
from app.severity import RANK, Severity


class Matcher:
    """The table's prefilter and rules. Safe to share between threads and requests: the only
    state that changes after construction is a bounded cache of candidate lists per combination
    of guard literals found, filled on the hot path (a lost race only computes one twice)."""

    __slots__ = ("_automaton", "_by_key", "_combined", "_unguarded", "rules", "table")

    def __init__(self, table: Table) -> None:
        self.table = table
        self.rules = table.rules
        keys: dict[str, set[int]] = {}
        unguarded: set[int] = set()
        for rule in table.rules:
            if rule.guard is None:
                unguarded.add(rule.index)
                continue
            for key in rule.guard:
                keys.setdefault(key, set()).add(rule.index)
        patterns = list(keys)
        self._automaton = ahocorasick_rs.AhoCorasick(patterns) if patterns else None
        # for each key, the candidates when it is the only key found (with the unguarded rules), in order
        self._by_key: tuple[tuple[int, ...], ...] = tuple(
            tuple(sorted(keys[p] | unguarded)) for p in patterns
        )
        self._unguarded: tuple[int, ...] = tuple(sorted(unguarded))
        # candidates of each combination of keys seen so far (bounded; filled on the hot path)
        self._combined: dict[tuple[int, ...], tuple[int, ...]] = {}

    def candidates(self, text: str) -> tuple[int, ...]:
        """Indexes of the rules whose guard literals occur in text, in precedence order."""
        if self._automaton is None:
            return self._unguarded
        hits = self._automaton.find_matches_as_indexes(text, overlapping=True)
        if not hits:
            return self._unguarded
        if len(hits) == 1:
            return self._by_key[hits[0][0]]
        combination = tuple([hit[0] for hit in hits])
        found = self._combined.get(combination)
        if found is None:
            merged: set[int] = set()
            for key in combination:
                merged.update(self._by_key[key])
            found = tuple(sorted(merged))
            if len(self._combined) >= 65536:  # a safety bound; real traffic has a few hundred combinations
                self._combined.clear()
            self._combined[combination] = found
        return found

    def match(
        self, message: str, level: Severity | None, source: dict[str, Any] | None
    ) -> tuple[CompiledRule, dict[str, Any], Severity] | None:
        """The deciding rule, the fields it extracts and the adjusted severity; None when no rule matches.

        Rules match the first line of the message; in a multi-line record (a traceback) the last line,
        when it names an exception, becomes the `exception` field.
        """
        multi_line = "\n" in message
        text = first_line(message) if multi_line else message
        head = text[:1]
        rules = self.rules
        for index in self.candidates(text):
            rule = rules[index]
            gate = rule.first_chars
            if gate is not None and head not in gate:
                continue
            if rule.requires and not all(any(key in text for key in keys) for keys in rule.requires):
                continue
            if rule.plain:  # no filters, derivations or conversions: the common case, inline
                m = rule.regex.search(text)
                if m is None:
                    continue
                found: dict[str, Any] | None = {k: v for k, v in m.groupdict().items() if v}
            else:
                found = try_rule(rule, text, level, source)
            if found is not None:
                if multi_line and "exception" not in found:
                    exception = last_exception(message)
                    if exception is not None:
                        found["exception"] = exception
                return rule, found, adjust_severity(rule, level, found)
        return None


def try_rule(
    rule: CompiledRule, text: str, level: Severity | None, source: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The fields when this one rule matches (filters, then pattern); None otherwise.

    A filter applies only when the line says what it filters on: a bare message with no prefix
    passes logger, level and format filters.
    """
    if source is not None:
        if rule.loggers is not None:
            logger = source.get("logger")
            if logger is not None and logger not in rule.loggers:
                return None
        if rule.formats is not None and source["format"] not in rule.formats:
            return None
    if rule.levels is not None and level is not None and level not in rule.levels:
        return None
    m = rule.regex.search(text)
    if m is None:
        return None
    return extract_fields(rule, m.groupdict())


# "TimeoutError: pod x did not start", "tornado.httpclient.HTTPClientError: HTTP 403", "KeyError: 'items'"
EXCEPTION_LINE: Final = (
    r"(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Timeout|Failure)\w*(?::.*)?"
)
_EXCEPTION_LINE = compile_pattern(rf"\A(?:{EXCEPTION_LINE})$")  # the line has no newline


def last_exception(message: str) -> str | None:
    """The last line of a multi-line record when it names an exception (a traceback's summary)."""
    tail = message.rstrip()
    line = tail[tail.rfind("\n") + 1 :].strip()
    return line if _EXCEPTION_LINE.match(line) else None


_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1


def extract_fields(rule: CompiledRule, groups: dict[str, str | None]) -> dict[str, Any]:
    """Named groups that took part and are not empty, then derived fields, then conversions."""
    fields: dict[str, Any] = {name: value for name, value in groups.items() if value}
    for source, regex in rule.derive:
        value = fields.get(source)
        if value is None:
            continue
        m = regex.search(value)
        if m is not None:
            for name, found in m.groupdict().items():
                if found and name not in fields:
                    fields[name] = found
    for name, conversion in rule.convert:
        value = fields.get(name)
        if value is None:
            continue
        if conversion == "int":
            try:
                number = int(value)
            except ValueError:  # not a number, or more digits than Python converts
                number = None
            if number is None or not _INT64_MIN <= number <= _INT64_MAX:  # JSON stores and VRL hold 64 bits
                del fields[name]
            else:
                fields[name] = number
        elif conversion == "float":
            try:
                fields[name] = float(value)
            except ValueError:
                del fields[name]
        elif conversion == "urldecode":
            fields[name] = unquote(value)
    return fields


def adjust_severity(rule: CompiledRule, level: Severity | None, fields: dict[str, Any]) -> Severity:
    for condition in rule.conditions:
        if condition.holds(fields):
            return condition.severity
    target = rule.spec.severity
    if target == "keep":
        return level or "info"
    adjust = rule.spec.adjust
    if level is None or adjust == "set":
        return target
    if adjust == "cap":
        return level if RANK[level] < RANK[target] else target
    return level if RANK[level] > RANK[target] else target
