"""Downstream request bodies against the documented formats, and the reading of _bulk answers."""

import json
from typing import Any

import orjson
import pytest

from app.check import load_table, rule_paths
from app.enrich import Enricher, EnrichOptions
from app.relay.encoders import (
    encode_bulk,
    encode_dead_letters,
    encode_loki,
    parse_time_ns,
    read_bulk_response,
    record_id,
)
from app.relay.forwarder import _enrichment_access
from tests.conftest import FIXTURES

RELAY = FIXTURES / "relay"
ENRICHER = Enricher(load_table(rule_paths(None)))
LINES = [
    "[W 2022-03-10 17:25:19.774 JupyterHub base:1349] Failing suspected API request to not-running server: "
    "/hub/user/alice/api/metrics/v1",
    "[W 2024-06-03 11:02:41.517 JupyterHub _version:66] jupyterhub version 4.1.5 != jupyterhub-singleuser "
    "version 1.5.0. This could cause failure to authenticate and result in redirect loops!",
    "something nobody knows",
]


def test_record_id_is_stable_and_order_independent() -> None:
    a = {"message": "x", "host": "h", "n": 1}
    b = {"n": 1, "host": "h", "message": "x"}
    assert record_id(a) == record_id(b)
    assert record_id(a) != record_id({**a, "n": 2})
    assert len(record_id(a)) == 20


def test_bulk_body_follows_the_bulk_api() -> None:
    records: list[Any] = [
        {"message": "a", "timestamp": "2024-06-03T11:02:41.517000Z"},
        {"message": "b", "@timestamp": "2024-01-01T00:00:00Z"},
        "not an object",
    ]
    ids = [record_id(r) for r in records]
    body = encode_bulk(records, ids, "logs-jupyterhub-default", 1_700_000_000_000_000_000)
    assert body.endswith(b"\n")  # the bulk API requires the final newline
    lines = [orjson.loads(line) for line in body.splitlines()]
    assert len(lines) == 6
    actions, documents = lines[0::2], lines[1::2]
    assert actions == [{"create": {"_index": "logs-jupyterhub-default", "_id": i}} for i in ids]
    assert documents[0] == {
        "@timestamp": "2024-06-03T11:02:41.517000000Z",
        **records[0],
    }  # from the record's time
    assert documents[1] == records[1]  # an existing @timestamp is kept as is
    assert documents[2] == {
        "@timestamp": "2023-11-14T22:13:20.000000000Z",
        "event": {"original": '"not an object"'},
    }


def test_mixed_bulk_answer_is_sorted_item_by_item() -> None:
    answer = json.loads((RELAY / "bulk_response_mixed.json").read_text())
    outcome = read_bulk_response(answer, 4)
    assert outcome.created == 1
    assert outcome.duplicates == 1  # 409 on create: an earlier try already indexed it
    assert [(p, s) for p, s, _ in outcome.retryable] == [(3, 429)]
    assert [(p, s, e["type"]) for p, s, e in outcome.rejected] == [(2, 400, "document_parsing_exception")]


def test_bulk_answer_with_the_wrong_item_count_is_retryable() -> None:
    outcome = read_bulk_response({"errors": False, "items": []}, 3)
    assert outcome.retryable and outcome.retryable[0][1] == 502


def test_dead_letter_documents_keep_the_record_and_the_error() -> None:
    answer = json.loads((RELAY / "bulk_response_mapping_only.json").read_text())
    records = [{"message": "fine"}, {"message": {"nested": "object where a keyword is mapped"}}]
    ids = [record_id(r) for r in records]
    outcome = read_bulk_response(answer, 2)
    body = encode_dead_letters(records, ids, outcome.rejected, "logenrich-dead-letter", "logs-jh", "es", 0)
    action, document = (orjson.loads(line) for line in body.splitlines())
    assert action == {"create": {"_index": "logenrich-dead-letter", "_id": ids[1]}}
    assert (
        orjson.loads(document["event"]["original"]) == records[1]
    )  # whole, as a string: no mapping to break
    assert document["error"] == {
        "type": "document_parsing_exception",
        "message": "failed to parse field [message] of type [keyword]",
        "code": "400",
    }
    assert document["logenrich"]["dead_letter"] == {"downstream": "es", "index": "logs-jh"}


@pytest.mark.parametrize(
    ("value", "ns"),
    [
        ("2024-06-03T11:02:41.517000Z", 1717412561517000000),
        ("2024-06-03T11:02:41.123456789Z", 1717412561123456789),
        ("2024-06-03T13:02:41+02:00", 1717412561000000000),
        ("2024-06-03 11:02:41,517", 1717412561517000000),
        (1717412561.517, 1717412561517000000),  # Fluent Bit's date: seconds
        (1717412561517, 1717412561517000000),  # milliseconds
        (1717412561517000000, 1717412561517000000),  # nanoseconds
        ("yesterday", None),
        (True, None),
    ],
)
def test_time_parsing(value: Any, ns: int | None) -> None:
    assert parse_time_ns(value) == ns


@pytest.mark.parametrize("profile", ["default", "ecs"])
def test_loki_push_body(profile: str) -> None:
    options = EnrichOptions(profile=profile)  # type: ignore[arg-type]
    enricher = Enricher(ENRICHER.table, options)
    records: list[Any] = [
        {"message": LINES[0], "timestamp": "2024-06-03T11:02:42Z", "kubernetes": {"pod_name": "hub-0"}},
        {"log": LINES[1], "date": 1717412561.517},
        {"message": LINES[2]},
        {"no": "message"},
    ]
    results = enricher.enrich_batch(records)
    details, strip = _enrichment_access(options)
    body = orjson.loads(
        encode_loki(
            records,
            results,
            static_labels={"job": "jupyterhub"},
            line="json",
            received_ns=1_800_000_000_000_000_000,
            details=details,
            strip=strip,
            message=enricher.message_of,
        )
    )
    streams = {(s["stream"]["category"], s["stream"]["severity"]): s for s in body["streams"]}
    assert set(streams) == {
        ("benign", "info"),
        ("misconfiguration", "error"),
        ("unclassified", "unknown"),
        ("none", "unknown"),
    }
    for stream in body["streams"]:
        assert set(stream["stream"]) == {"job", "category", "severity"}  # bounded labels only
        for value in stream["values"]:
            assert isinstance(value[0], str) and value[0].isdigit()  # nanoseconds as a string
            assert isinstance(value[1], str)
            assert all(isinstance(v, str) for v in (value[2] if len(value) > 2 else {}).values())
    benign = streams[("benign", "info")]["values"][0]
    assert benign[0] == "1717412562000000000"
    assert benign[2]["classification"] == "jupyterhub.proxy.not-running-server"
    assert benign[2]["doc_url"].endswith("#failing-suspected-api-request-to-not-running-server")
    assert benign[2]["fields_user"] == "alice"
    line = orjson.loads(benign[1])
    assert line["kubernetes"] == {"pod_name": "hub-0"} and line["message"] == LINES[0]
    mismatch = streams[("misconfiguration", "error")]["values"][0]
    assert mismatch[0] == "1717412561517000000"  # Fluent Bit's date
    assert mismatch[2]["fields_hub_version"] == "4.1.5"
    assert streams[("none", "unknown")]["values"][0][0] == "1800000000000000000"  # no time: receive time
    if profile == "default":
        assert "enrichment" not in line


def test_loki_message_lines() -> None:
    records: list[Any] = [{"message": LINES[0]}]
    results = ENRICHER.enrich_batch(records)
    details, strip = _enrichment_access(ENRICHER.options)
    body = orjson.loads(
        encode_loki(
            records, results, static_labels={}, line="message", received_ns=1, details=details, strip=strip,
            message=ENRICHER.message_of,
        )
    )  # fmt: skip
    assert body["streams"][0]["values"][0][1] == LINES[0]
