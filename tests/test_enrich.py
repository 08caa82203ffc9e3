"""Enrichment of records: both profiles, message-field choice, pass-through, idempotence."""

import copy
from typing import Any

import orjson
import pytest

from app.compiler import Table
from app.enrich import Enricher, EnrichOptions, cap_text
from tests.helpers import OVERSIZED_NUMBERS

NOT_RUNNING = (
    "[W 2022-03-10 17:25:19.774 JupyterHub base:1349] "
    "Failing suspected API request to not-running server: /hub/user/alice/api/metrics/v1"
)
DOC = "https://jupyterhub.readthedocs.io/en/stable/howto/log-messages.html#failing-suspected-api-request-to-not-running-server"


def enrich(table: Table, record: Any, **options: Any) -> Any:
    Enricher(table, EnrichOptions(**options)).enrich_record(record)
    return record


def test_default_profile_writes_exactly_the_design_fields(table: Table) -> None:
    record = enrich(table, {"message": NOT_RUNNING, "host": "hub-0"})
    assert record["host"] == "hub-0"
    assert record["enrichment"] == {
        "classification": "jupyterhub.proxy.not-running-server",
        "title": "API request to a stopped server",
        "category": "benign",
        "severity": "info",
        "original_severity": "warning",
        "doc_url": DOC,
        "summary": record["enrichment"]["summary"],
        "action": record["enrichment"]["action"],
        "fields": {"path": "/hub/user/alice/api/metrics/v1", "user": "alice", "api": "metrics"},
        "source": {
            "format": "jupyterhub",
            "logger": "JupyterHub",
            "file": "base",
            "line": 1349,
            "time": "2022-03-10 17:25:19.774",
        },
        "ruleset": "jupyterhub",
        "ruleset_version": table.rulesets[0][1],
    }


def test_unclassified_keeps_original_severity_and_source(table: Table) -> None:
    record = enrich(table, {"message": "[E 2024-01-01 00:00:00.000 JupyterHub x:1] something new"})
    assert record["enrichment"] == {
        "classification": "unclassified",
        "severity": "error",
        "original_severity": "error",
        "source": {
            "format": "jupyterhub",
            "logger": "JupyterHub",
            "file": "x",
            "line": 1,
            "time": "2024-01-01 00:00:00.000",
        },
    }
    bare = enrich(table, {"message": "no prefix at all"})
    assert bare["enrichment"] == {"classification": "unclassified"}


def test_custom_output_key(table: Table) -> None:
    record = enrich(table, {"message": NOT_RUNNING}, key="jh")
    assert record["jh"]["classification"] == "jupyterhub.proxy.not-running-server"
    assert "enrichment" not in record


@pytest.mark.parametrize(
    ("record", "fields"),
    [
        ({"log": NOT_RUNNING}, ("message", "log", "msg")),  # Fluent Bit
        ({"msg": NOT_RUNNING}, ("message", "log", "msg")),
        ({"message": 42, "log": NOT_RUNNING}, ("message", "log", "msg")),  # first *string* wins
        ({"kubernetes": {"log": NOT_RUNNING}}, ("kubernetes.log",)),  # dotted path
    ],
)
def test_message_field_choice(table: Table, record: dict[str, Any], fields: tuple[str, ...]) -> None:
    enrich(table, record, message_fields=fields)
    assert record["enrichment"]["classification"] == "jupyterhub.proxy.not-running-server"


@pytest.mark.parametrize(
    "record",
    [
        [1, 2],
        "a string",
        None,
        17,
        {"no_message": "here"},
        {"message": None},
        {"message": ["list"]},
        {"message": NOT_RUNNING, "enrichment": "a user's own string"},
    ],
)
def test_odd_records_pass_through_unchanged(table: Table, record: Any) -> None:
    before = copy.deepcopy(record)
    result = Enricher(table).enrich_record(record)
    assert result.outcome == "passthrough"
    assert record == before


def test_ecs_profile(table: Table) -> None:
    record = enrich(table, {"message": NOT_RUNNING}, profile="ecs")
    assert record["rule"] == {
        "id": "jupyterhub.proxy.not-running-server",
        "name": "API request to a stopped server",
        "category": "benign",
        "reference": DOC,
        "description": record["rule"]["description"],
        "ruleset": "jupyterhub",
        "version": table.rulesets[0][1],
    }
    assert record["event"] == {"severity": 6, "reference": DOC}
    assert record["log"] == {
        "level": "warning",
        "logger": "JupyterHub",
        "origin": {"file": {"name": "base", "line": 1349}},
    }
    assert record["logenrich"]["severity"] == "info"
    assert record["logenrich"]["fields"]["user"] == "alice"
    assert "enrichment" not in record


def test_ecs_never_overwrites_a_non_object(table: Table) -> None:
    record = enrich(table, {"log": NOT_RUNNING, "event": "x"}, profile="ecs")
    assert record["log"] == NOT_RUNNING  # Fluent Bit's message key stays a string
    assert record["event"] == "x"
    assert record["rule"]["id"] == "jupyterhub.proxy.not-running-server"


def test_ecs_keeps_existing_log_level(table: Table) -> None:
    record = enrich(
        table,
        {"message": NOT_RUNNING, "log": {"level": "WARN", "file": {"path": "/var/log/hub"}}},
        profile="ecs",
    )
    assert record["log"]["level"] == "WARN"
    assert record["log"]["file"] == {"path": "/var/log/hub"}
    assert record["log"]["logger"] == "JupyterHub"


@pytest.mark.parametrize("profile", ["default", "ecs"])
def test_idempotent(table: Table, profile: str) -> None:
    once = enrich(table, {"message": NOT_RUNNING, "n": 1}, profile=profile)
    twice = enrich(table, copy.deepcopy(once), profile=profile)
    assert twice == once


def test_message_is_capped(table: Table) -> None:
    tail = "x" * 40_000 + " jupyterhub version 5.0.0 != jupyterhub-singleuser version 4.1.0."
    record = enrich(table, {"message": tail}, max_message_bytes=16 * 1024)
    assert record["enrichment"]["classification"] == "unclassified"
    record = enrich(table, {"message": tail}, max_message_bytes=64 * 1024)
    assert record["enrichment"]["classification"] == "jupyterhub.singleuser.version-mismatch"


def test_cap_text_cuts_on_a_character_boundary() -> None:
    assert cap_text("é" * 10, 5) == "éé"
    assert cap_text("short", 16384) == "short"


def test_rule_matches_the_first_line_of_a_multi_line_record(table: Table) -> None:
    message = NOT_RUNNING + "\n    Traceback (most recent call last):\n    ValueError: x"
    record = enrich(table, {"message": message})
    assert record["enrichment"]["fields"]["path"] == "/hub/user/alice/api/metrics/v1"


def test_batch_keeps_count_and_order(table: Table) -> None:
    records: list[Any] = [{"message": NOT_RUNNING}, 3, {"message": "x"}, {"log": NOT_RUNNING}]
    results = Enricher(table).enrich_batch(records)
    assert [r.outcome for r in results] == ["classified", "passthrough", "unclassified", "classified"]
    assert records[1] == 3


def test_oversized_numbers_are_dropped_not_fatal(table: Table) -> None:
    records = [{"message": line} for line in OVERSIZED_NUMBERS]
    for record in records:
        enrich(table, record)
    orjson.dumps(records)  # every value fits JSON's and Elasticsearch's 64-bit integers
    timeouts = [r["enrichment"] for r in records[:4]]
    assert all(e["classification"] == "jupyterhub.spawn.start-timeout" for e in timeouts)
    assert "timeout_s" not in timeouts[0]["fields"] and "timeout_s" not in timeouts[1]["fields"]
    assert timeouts[0]["fields"]["user"] == "ablekh"
    # a line number no file has is not a prefix: the line is read as a bare message
    assert timeouts[2]["fields"]["timeout_s"] == 30 and "line" not in timeouts[2].get("source", {})
    mismatch = records[4]["enrichment"]
    assert mismatch["classification"] == "jupyterhub.singleuser.version-mismatch"
    assert mismatch["severity"] == "warning"  # not a version: no boundary can be judged
