"""Every example of every shipped rule, through the whole table, is a test case."""

from typing import Any

import pytest

from app.check import load_table, rule_paths
from app.enrich import Enricher

TABLE = load_table(rule_paths(None))
EXAMPLES = [
    pytest.param(rule.id, example.line, example.severity, example.fields, id=f"{rule.id}#{n}")
    for rule in TABLE.rules
    for n, example in enumerate(rule.spec.examples, 1)
]
REJECTS = [
    pytest.param(rule.id, line, id=f"{rule.id}!{n}")
    for rule in TABLE.rules
    for n, line in enumerate(rule.spec.rejects, 1)
]


@pytest.mark.parametrize(("rule_id", "line", "severity", "fields"), EXAMPLES)
def test_example_is_classified_by_its_rule(
    rule_id: str, line: str, severity: str | None, fields: dict[str, Any] | None
) -> None:
    record: dict[str, Any] = {"message": line}
    Enricher(TABLE).enrich_record(record)
    enrichment = record["enrichment"]
    assert enrichment["classification"] == rule_id
    if severity is not None:
        assert enrichment["severity"] == severity
    if fields is not None:
        assert enrichment["fields"] == fields


@pytest.mark.parametrize(("rule_id", "line"), REJECTS)
def test_reject_is_not_classified_by_its_rule(rule_id: str, line: str) -> None:
    record: dict[str, Any] = {"message": line}
    Enricher(TABLE).enrich_record(record)
    assert record["enrichment"]["classification"] != rule_id


def test_every_rule_has_examples_and_a_doc_link() -> None:
    for rule in TABLE.rules:
        assert rule.spec.examples, rule.id
        assert rule.doc_url.startswith("https://"), rule.id
