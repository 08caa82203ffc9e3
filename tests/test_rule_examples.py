"""Every example of every shipped rule, through the whole table, is a test case."""

from typing import Any

from app.compiler import CompiledRule, Table
from app.enrich import Enricher
from app.spec import Example


def test_example_is_classified_by_its_rule(table: Table, example: tuple[CompiledRule, Example]) -> None:
    rule, case = example
    record: dict[str, Any] = {"message": case.line}
    Enricher(table).enrich_record(record)
    enrichment = record["enrichment"]
    assert enrichment["classification"] == rule.id
    if case.severity is not None:
        assert enrichment["severity"] == case.severity
    if case.fields is not None:
        assert enrichment["fields"] == case.fields


def test_reject_is_not_classified_by_its_rule(table: Table, reject: tuple[CompiledRule, str]) -> None:
    rule, line = reject
    record: dict[str, Any] = {"message": line}
    Enricher(table).enrich_record(record)
    assert record["enrichment"]["classification"] != rule.id
