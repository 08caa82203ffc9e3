"""Check a rule table end to end: load, compile, then run every rule's examples through the
engine that serves, with the whole table (so a rule shadowed by an earlier one is caught) and
with the rule alone (to tell a shadowed example from one its own rule does not match, and to
run its rejects), collecting every problem.

``check_paths`` collects; ``load_table`` refuses a table with any error (used by serve and enrich).
``logenrich check`` checks everything and compiles every pattern for both engines. Serve and
enrich, which load the table at every start and reload, run every example through the whole table
but run a rule alone only when that is needed to explain a problem, or to run the rejects of a
rule outside the built-in catalog (the test suite runs the built-in ones); the Python engine
compiles its patterns when it first runs them.
"""

import dataclasses
import functools
import re
from pathlib import Path
from typing import Any

import orjson

from app.batch import Answer, Limits
from app.catalog import builtin_paths, load_rulesets
from app.compiler import CompiledRule, Table, compile_table
from app.engine import EngineName, load_engine
from app.errors import Issue, TableError
from app.patterns import is_anchored

Found = tuple[str, str | None, dict[str, Any] | None]
"""(classification, severity, fields) of one line"""


def classify_lines(table: Table, lines: list[str], engine: EngineName = "native") -> list[Found]:
    """Each line as the engine classifies it, through the batch call that serves."""
    body = b"".join(orjson.dumps({"message": line}) + b"\n" for line in lines)
    runner = load_engine(table, None, engine)
    limits = Limits(max_decompressed_bytes=max(len(body), 1024), max_records=max(len(lines), 1))
    result = runner.run(body, "ndjson", Answer(), limits, 0)
    found: list[Found] = []
    for raw in result.body.splitlines():
        enrichment = orjson.loads(raw)["enrichment"]
        found.append((enrichment["classification"], enrichment.get("severity"), enrichment.get("fields")))
    return found


def _alone(table: Table, rule: CompiledRule) -> Table:
    return Table((dataclasses.replace(rule, index=0),), table.version, table.rulesets)


@functools.cache
def _builtin_files() -> frozenset[str]:
    return frozenset(map(str, builtin_paths()))


def _builtin(rule: CompiledRule) -> bool:
    return rule.path in _builtin_files()


def check_examples(table: Table, engine: EngineName = "native", thorough: bool = True) -> list[Issue]:
    """`thorough`: run every rule alone too; else only where a problem or an operator's rejects
    call for it."""
    rules = table.rules
    lines = [example.line for rule in rules for example in rule.spec.examples]
    whole = iter(classify_lines(table, lines, engine) if lines else [])
    by_id = {rule.id: rule for rule in rules}
    issues: list[Issue] = []
    for rule in rules:
        taken = [next(whole) for _ in rule.spec.examples]
        needed = (
            thorough
            or any(found[0] != rule.id for found in taken)
            or (bool(rule.spec.rejects) and not _builtin(rule))
        )
        issues.extend(_check_rule(table, rule, taken, by_id, engine, alone=needed))
    return issues


def _check_rule(
    table: Table,
    rule: CompiledRule,
    taken: list[Found],
    by_id: dict[str, CompiledRule],
    engine: EngineName,
    alone: bool = True,
) -> list[Issue]:
    issues: list[Issue] = []

    def add(message: str, warning: bool = False) -> None:
        issues.append(Issue(rule.path, rule.line, rule.id, message, warning))

    if rule.guard is None and not is_anchored(rule.spec.pattern):
        add(
            "pattern has no literal of 3+ characters that every match contains and is not anchored with ^, "
            "so it is searched through every line",
            warning=True,
        )
    examples, rejects = rule.spec.examples, rule.spec.rejects if alone else ()
    own_lines = [e.line for e in examples] + list(rejects)
    if alone:
        own_found = classify_lines(_alone(table, rule), own_lines, engine)
    else:  # every example was taken by this rule in the whole table: alone it takes them too
        own_found = [(rule.id, None, None)] * len(examples)
    for number, (example, found, own) in enumerate(zip(examples, taken, own_found, strict=False), 1):
        classification, severity, fields = found
        if classification != rule.id:
            if own[0] != rule.id:
                add(f"example {number} does not match the rule: {example.line!r}")
            elif classification in by_id:
                other = by_id[classification]
                where = f"{other.id} ({other.path}:{other.line})"
                if other.ruleset != rule.ruleset:  # another ruleset's rule, given precedence on purpose
                    add(
                        f"example {number} is taken by {where}, which overrides this rule: {example.line!r}",
                        True,
                    )
                else:
                    add(
                        f"example {number} is shadowed by {where}, which comes first and matches it: "
                        f"{example.line!r} — move this rule before it or raise its priority"
                    )
            continue
        if example.severity is not None and severity != example.severity:
            add(f"example {number} gets severity {severity!r}, expected {example.severity!r}")
        if example.fields is not None and fields != example.fields:
            add(f"example {number} extracts {fields!r}, expected {example.fields!r}")
    for number, (line_text, own) in enumerate(zip(rejects, own_found[len(examples) :], strict=True), 1):
        if own[0] == rule.id:
            add(f"reject {number} matches the rule but must not: {line_text!r}")
    return issues


def check_paths(
    paths: list[Path], engine: EngineName = "native", thorough: bool = True
) -> tuple[Table | None, list[Issue]]:
    """Every problem of the table made of these files (errors and warnings). `thorough`: run
    every rule alone and compile every pattern for the Python engine as well."""
    loaded, issues = load_rulesets(paths)
    table, compile_issues = compile_table(loaded)
    issues += compile_issues
    if thorough or engine == "python":
        issues += _python_patterns(table)
    issues += check_examples(table, engine, thorough)
    issues.sort(key=lambda issue: (issue.path, issue.line or 0))
    if any(not issue.warning for issue in issues):
        return None, issues
    return table, issues


def _python_patterns(table: Table) -> list[Issue]:
    """Compile every pattern for the Python engine (it compiles them lazily otherwise)."""
    issues: list[Issue] = []
    for rule in table.rules:
        for regex in (rule.regex, *(derived for _, derived in rule.derive)):
            try:
                regex.compiled  # noqa: B018 - compiled on access
            except re.error as exc:
                issues.append(
                    Issue(
                        rule.path,
                        rule.line,
                        rule.id,
                        f"the Python engine cannot compile {regex.pattern!r}: {exc}",
                    )
                )
    return issues


def load_table(paths: list[Path], engine: EngineName = "native") -> Table:
    """The checked table, or TableError naming every problem (the checks that serve and enrich
    run at every load: see the module's docstring)."""
    table, issues = check_paths(paths, engine, thorough=False)
    if table is None or any(not issue.warning for issue in issues):
        raise TableError(issues)
    return table
