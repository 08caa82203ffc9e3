"""The compiled table as JSON-ready data, for other tools and for ``GET /v1/rules``."""

from pathlib import Path
from typing import Any

from app.compiler import CompiledRule, Table


def rule_data(rule: CompiledRule) -> dict[str, Any]:
    spec = rule.spec
    return {
        "id": rule.id,
        "title": spec.title,
        "category": spec.category,
        "severity": spec.severity,
        "adjust": spec.adjust,
        "conditions": [c.model_dump() for c in spec.conditions],
        "doc_url": rule.doc_url,
        "summary": spec.summary,
        "action": spec.action,
        "pattern": spec.pattern,
        "guard": list(rule.guard) if rule.guard else None,
        "loggers": list(spec.loggers) if spec.loggers is not None else None,
        "levels": list(spec.levels) if spec.levels is not None else None,
        "formats": list(spec.formats) if spec.formats is not None else None,
        "derive": [{"from": d.source, "pattern": d.pattern} for d in spec.derive],
        "convert": dict(spec.convert),
        "priority": spec.priority,
        "examples": [e.model_dump(exclude_none=True) for e in spec.examples],
        "rejects": list(spec.rejects),
        "ruleset": rule.ruleset,
        "ruleset_version": rule.ruleset_version,
    }


def export_table(table: Table) -> dict[str, Any]:
    return {
        "version": table.version,
        "rulesets": [{"name": n, "version": v, "file": Path(p).name} for n, v, p in table.rulesets],
        "rules": [rule_data(rule) for rule in table.rules],
    }
