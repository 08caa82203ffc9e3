"""Compile loaded rulesets into one immutable ``Table``: regexes compiled, precedence fixed,
prefilter built. Everything per-record lives in ``app.matcher``; this module runs once per load.

Precedence: rules sort by ``priority`` (higher first), then by file order (files given with
``--rules`` come before the built-in set, so an operator's rule can override a shipped one), then
by their order in the file. The first rule that matches a line decides.
"""

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin

from packaging.version import Version

from app.catalog import LoadedRuleset
from app.constraints import HTTPS_LINK_PATTERN
from app.errors import Issue
from app.patterns import check_pattern, first_chars, literal_guards
from app.regexes import LazyPattern, pattern_problem
from app.severity import Severity
from app.spec import NumberRange, RuleSpec, VersionBoundary

_HTTPS_LINK = re.compile(HTTPS_LINK_PATTERN)


@lru_cache(maxsize=4096)
def parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except ValueError:  # InvalidVersion, or a release number too long to convert
        return None


@dataclass(frozen=True, slots=True)
class CompiledBoundary:
    first: str
    second: str
    boundaries: tuple[Version, ...]
    severity: Severity

    def holds(self, fields: dict[str, Any]) -> bool:
        a, b = fields.get(self.first), fields.get(self.second)
        if not isinstance(a, str) or not isinstance(b, str):
            return False
        va, vb = parse_version(a), parse_version(b)
        if va is None or vb is None:
            return False
        low, high = (va, vb) if va <= vb else (vb, va)
        return any(low < boundary <= high for boundary in self.boundaries)


@dataclass(frozen=True, slots=True)
class CompiledRange:
    field: str
    low: float | None
    high: float | None
    severity: Severity

    def holds(self, fields: dict[str, Any]) -> bool:
        value = fields.get(self.field)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


CompiledCondition = CompiledBoundary | CompiledRange


@dataclass(frozen=True, slots=True)
class CompiledRule:
    index: int
    id: str
    spec: RuleSpec
    ruleset: str
    ruleset_version: str
    path: str
    line: int
    regex: LazyPattern  # compiled for the Python engine on its first use
    doc_url: str
    guard: tuple[str, ...] | None  # the prefilter's literals: one of them is in every match
    requires: tuple[tuple[str, ...], ...]  # the other literals every match holds, one of each tuple
    first_chars: frozenset[str] | None  # a `^…` rule can only match text starting with one of these
    plain: bool  # no filters, derivations or conversions: the matcher takes a shorter path
    loggers: frozenset[str] | None
    levels: frozenset[str] | None
    formats: frozenset[str] | None
    derive: tuple[tuple[str, LazyPattern], ...]
    convert: tuple[tuple[str, str], ...]
    conditions: tuple[CompiledCondition, ...]
    # constant part of every default-profile enrichment this rule writes
    constants: dict[str, str] = field(hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class Table:
    rules: tuple[CompiledRule, ...]
    version: str  # "jupyterhub@2026.11.0" (+ "+name@version" for each further ruleset)
    rulesets: tuple[tuple[str, str, str], ...]  # (name, version, path)


def _compile_condition(spec: VersionBoundary | NumberRange) -> CompiledCondition:
    if isinstance(spec, VersionBoundary):
        versions = tuple(v for v in map(parse_version, spec.boundaries) if v is not None)
        return CompiledBoundary(spec.fields[0], spec.fields[1], versions, spec.severity)
    return CompiledRange(spec.field, spec.min, spec.max, spec.severity)


def _compile(pattern: str) -> tuple[LazyPattern | None, list[str]]:
    """The pattern, checked, and every reason it is outside the subset (None: unusable). The
    native engine compiles it here; the Python engine when it first runs it (`python_patterns`
    in app.check compiles them all up front)."""
    problems = check_pattern(pattern)
    if problems:
        return None, problems
    native = pattern_problem(pattern)
    if native is not None:
        return None, [f"the native engine cannot compile the pattern: {native.splitlines()[-1]}"]
    return LazyPattern(pattern), []


def _rule_issues(
    rule: RuleSpec, path: str, line: int
) -> tuple[list[Issue], LazyPattern | None, tuple[tuple[str, LazyPattern], ...]]:
    """Problems that stop one rule from compiling; its regex and derivations when there are none."""
    issues: list[Issue] = []

    def add(message: str) -> None:
        issues.append(Issue(path, line, rule.id, message))

    regex, problems = _compile(rule.pattern)
    for problem in problems:
        add(problem)
    captures: set[str] = set(regex.names) if regex is not None else set()
    derived: list[tuple[str, LazyPattern]] = []
    for derive in rule.derive:
        derive_regex, derive_problems = _compile(derive.pattern)
        for problem in derive_problems:
            add(f"derive from {derive.source}: {problem}")
        if derive.source not in captures:
            add(f"derive reads field {derive.source!r}, which the pattern does not capture")
        if derive_regex is not None:
            captures |= derive_regex.names
            derived.append((derive.source, derive_regex))
    if issues or regex is None:
        return issues, None, ()
    for name in rule.convert:
        if name not in captures:
            add(f"convert names field {name!r}, which the pattern does not capture")
    for condition in rule.conditions:
        names = condition.fields if isinstance(condition, VersionBoundary) else (condition.field,)
        for name in names:
            if name not in captures:
                add(f"condition reads field {name!r}, which the pattern does not capture")
        if isinstance(condition, VersionBoundary):
            for boundary in condition.boundaries:
                if parse_version(boundary) is None:
                    add(f"boundary {boundary!r} is not a version")
    for number, example in enumerate(rule.examples, 1):
        for name in example.fields or {}:
            if name not in captures and name != "exception":  # `exception` comes from any traceback
                add(f"example {number} expects field {name!r}, which the pattern does not capture")
    return issues, regex, tuple(derived)


def _precedence(rulesets: list[LoadedRuleset]) -> list[tuple[RuleSpec, LoadedRuleset, int]]:
    entries = [
        (rule, loaded, loaded.rule_lines[i], file_no, i)
        for file_no, loaded in enumerate(rulesets)
        for i, rule in enumerate(loaded.spec.rules)
    ]
    entries.sort(key=lambda e: (-e[0].priority, e[3], e[4]))
    return [(rule, loaded, line) for rule, loaded, line, _, _ in entries]


def compile_table(rulesets: list[LoadedRuleset]) -> tuple[Table, list[Issue]]:
    """Compile every rule; return the table of the rules that compiled and every problem found.
    A caller that needs a whole table refuses it when there is any issue."""
    issues: list[Issue] = []
    seen: dict[str, str] = {}
    compiled: list[CompiledRule] = []
    for rule, loaded, line in _precedence(rulesets):
        where = f"{loaded.path}:{line}"
        if rule.id in seen:
            issues.append(
                Issue(
                    loaded.path,
                    line,
                    rule.id,
                    f"duplicate rule id (first defined at {seen[rule.id]}) — ids are global; rename one",
                )
            )
            continue
        seen[rule.id] = where
        found, regex, derived = _rule_issues(rule, loaded.path, line)
        if found or regex is None:
            issues.extend(found)
            continue
        header = loaded.spec.ruleset
        guard, requires = literal_guards(rule.pattern)
        doc_url = urljoin(header.doc_base, rule.doc_url)
        if not _HTTPS_LINK.match(doc_url):
            issues.append(
                Issue(loaded.path, line, rule.id, f"doc_url {doc_url!r} is not an https:// link — write one")
            )
            continue
        constants = {
            "classification": rule.id,
            "title": rule.title,
            "category": rule.category,
            "doc_url": doc_url,
            "summary": rule.summary,
            "action": rule.action,
            "ruleset": header.name,
            "ruleset_version": header.version,
        }
        compiled.append(
            CompiledRule(
                index=len(compiled),
                id=rule.id,
                spec=rule,
                ruleset=header.name,
                ruleset_version=header.version,
                path=loaded.path,
                line=line,
                regex=regex,
                doc_url=doc_url,
                guard=guard,
                requires=requires,
                first_chars=first_chars(rule.pattern),
                plain=not (rule.loggers or rule.levels or rule.formats or rule.derive or rule.convert),
                loggers=frozenset(rule.loggers) if rule.loggers is not None else None,
                levels=frozenset(rule.levels) if rule.levels is not None else None,
                formats=frozenset(rule.formats) if rule.formats is not None else None,
                derive=derived,
                convert=tuple(rule.convert.items()),
                conditions=tuple(map(_compile_condition, rule.conditions)),
                constants=constants,
            )
        )
    # one ruleset may span several files (same name and version): it counts once
    version = "+".join(dict.fromkeys(f"{r.spec.ruleset.name}@{r.spec.ruleset.version}" for r in rulesets))
    names = tuple((r.spec.ruleset.name, r.spec.ruleset.version, r.path) for r in rulesets)
    return Table(tuple(compiled), version, names), issues
