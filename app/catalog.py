"""Load rule files: TOML text → frozen ``RulesetSpec`` values, with the line of every rule.

``load_rulesets`` never stops at the first bad file: it returns what loaded and an ``Issue`` for
every problem, each naming the file, the line and (when known) the rule id.
"""

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from app.errors import Issue
from app.spec import RulesetHeader, RulesetSpec, RuleSpec

_RULES_HEADER = re.compile(r"^\s*\[\[\s*rules\s*\]\]", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class LoadedRuleset:
    spec: RulesetSpec
    path: str
    rule_lines: tuple[int, ...]  # line of each rule's `[[rules]]` header, by rule index


def builtin_paths() -> list[Path]:
    """The rule files shipped with the package, in precedence order."""
    folder = resources.files("app.rules")
    return sorted(Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".toml"))


def rule_paths(paths: list[Path] | None, builtin: bool = True) -> list[Path]:
    """Operator files first (they take precedence), then the built-in set."""
    return [*(paths or []), *(builtin_paths() if builtin else [])]


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files stay as given; a directory stands for its `*.toml` files in name order."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.suffix == ".toml" and p.is_file()))
        else:
            out.append(path)
    return out


def _rule_lines(text: str) -> tuple[int, ...]:
    return tuple(text.count("\n", 0, m.start()) + 1 for m in _RULES_HEADER.finditer(text))


def _validation_issues(
    path: str, error: ValidationError, line: int | None, rule_id: str | None, prefix: str = ""
) -> list[Issue]:
    issues = []
    for err in error.errors():
        where = ".".join(str(part) for part in err["loc"]) or "value"
        issues.append(Issue(path, line, rule_id, f"{prefix}{where}: {err['msg']}"))
    return issues


def load_ruleset_text(text: str, path: str) -> tuple[LoadedRuleset | None, list[Issue]]:
    """Parse one file. Every bad rule is reported; the good ones still load, so that checking
    them can report their problems too."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        line = int(match.group(1)) if match else None
        return None, [Issue(path, line, None, f"not valid TOML: {exc}")]
    issues = [
        Issue(path, None, None, f"unknown top-level key {key!r} (expected [ruleset] and [[rules]])")
        for key in data
        if key not in ("ruleset", "rules")
    ]
    try:
        header = RulesetHeader.model_validate(data.get("ruleset"))
    except ValidationError as exc:
        return None, [*issues, *_validation_issues(path, exc, 1, None, "ruleset.")]
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        return None, [*issues, Issue(path, None, None, "no [[rules]] in the file")]
    lines = _rule_lines(text)
    if len(lines) != len(raw_rules):  # rules written as an inline array: no header lines to point at
        lines = (0,) * len(raw_rules)
    rules: list[RuleSpec] = []
    kept_lines: list[int] = []
    for index, raw in enumerate(raw_rules):
        rule_id = raw.get("id") if isinstance(raw, dict) else None
        try:
            rules.append(RuleSpec.model_validate(raw))
            kept_lines.append(lines[index])
        except ValidationError as exc:
            issues.extend(
                _validation_issues(path, exc, lines[index], rule_id if isinstance(rule_id, str) else None)
            )
    if not rules:
        return None, issues
    spec = RulesetSpec(ruleset=header, rules=tuple(rules))
    return LoadedRuleset(spec, path, tuple(kept_lines)), issues


def load_rulesets(paths: list[Path]) -> tuple[list[LoadedRuleset], list[Issue]]:
    loaded: list[LoadedRuleset] = []
    issues: list[Issue] = []
    for path in expand_paths(paths):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            issues.append(Issue(str(path), None, None, f"cannot read the file: {exc}"))
            continue
        ruleset, found = load_ruleset_text(text, str(path))
        issues.extend(found)
        if ruleset is not None:
            loaded.append(ruleset)
    if not loaded and not issues:
        issues.append(Issue(", ".join(map(str, paths)) or "(no path)", None, None, "no rule files found"))
    return loaded, issues
