"""Check a rule table end to end: load, compile, then run every rule's examples through the
whole table (so a rule shadowed by an earlier one is caught), collecting every problem.

``check_paths`` collects; ``load_table`` refuses a table with any error (used by serve and enrich).
"""

from pathlib import Path
from typing import Any

from app.catalog import builtin_paths, load_rulesets
from app.compiler import CompiledRule, Table, compile_table
from app.errors import Issue, TableError
from app.matcher import Matcher, try_rule
from app.patterns import is_anchored
from app.prefix import first_line, parse_line


def rule_paths(paths: list[Path] | None, builtin: bool = True) -> list[Path]:
    """Operator files first (they take precedence), then the built-in set."""
    return [*(paths or []), *(builtin_paths() if builtin else [])]


def _describe(value: Any) -> str:
    return repr(value)


def check_examples(table: Table) -> list[Issue]:
    matcher = Matcher(table)
    issues: list[Issue] = []
    for rule in table.rules:
        issues.extend(_check_rule(matcher, rule))
    return issues


def _check_rule(matcher: Matcher, rule: CompiledRule) -> list[Issue]:
    issues: list[Issue] = []

    def add(message: str, warning: bool = False) -> None:
        issues.append(Issue(rule.path, rule.line, rule.id, message, warning))

    if rule.guard is None and not is_anchored(rule.spec.pattern):
        add(
            "pattern has no literal of 3+ characters that every match contains and is not anchored with ^, "
            "so it is searched through every line",
            warning=True,
        )
    for number, example in enumerate(rule.spec.examples, 1):
        text, level, source = parse_line(example.line)
        line = first_line(text)
        found = matcher.match(text, level, source)
        if found is None or found[0] is not rule:
            own = try_rule(rule, line, level, source)
            if own is None:
                add(f"example {number} does not match the rule: {example.line!r}")
            elif found is not None:
                other = found[0]
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
        _, fields, severity = found
        if example.severity is not None and severity != example.severity:
            add(f"example {number} gets severity {severity!r}, expected {example.severity!r}")
        if example.fields is not None and fields != example.fields:
            add(f"example {number} extracts {_describe(fields)}, expected {_describe(example.fields)}")
    for number, line_text in enumerate(rule.spec.rejects, 1):
        text, level, source = parse_line(line_text)
        if try_rule(rule, first_line(text), level, source) is not None:
            add(f"reject {number} matches the rule but must not: {line_text!r}")
    return issues


def check_paths(paths: list[Path]) -> tuple[Table | None, list[Issue]]:
    """Every problem of the table made of these files (errors and warnings)."""
    loaded, issues = load_rulesets(paths)
    table, compile_issues = compile_table(loaded)
    issues += compile_issues
    issues += check_examples(table)
    issues.sort(key=lambda issue: (issue.path, issue.line or 0))
    if any(not issue.warning for issue in issues):
        return None, issues
    return table, issues


def load_table(paths: list[Path]) -> Table:
    """The checked table, or TableError naming every problem."""
    table, issues = check_paths(paths)
    if table is None or any(not issue.warning for issue in issues):
        raise TableError(issues)
    return table
