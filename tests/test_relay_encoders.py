"""Downstream request bodies as each engine writes them, against the documented formats; the
reading of _bulk answers; dead letters; record times."""

import json
from typing import Any

import msgpack
import orjson
import pytest

from app.batch import BatchResult, Bulk, JsonLines, Limits, Loki, Output
from app.engine import Engine
from app.enrich import EnrichOptions
from app.relay.encoders import encode_dead_letters, parse_time_ns, read_bulk_response, record_ids
from tests.helpers import FIXTURES, engine_for

RELAY = FIXTURES / "relay"
LINES = [
    "[W 2022-03-10 17:25:19.774 JupyterHub base:1349] Failing suspected API request to not-running server: "
    "/hub/user/alice/api/metrics/v1",
    "[W 2024-06-03 11:02:41.517 JupyterHub _version:66] jupyterhub version 4.1.5 != jupyterhub-singleuser "
    "version 1.5.0. This could cause failure to authenticate and result in redirect loops!",
    "something nobody knows",
]
RECEIVED = 1_700_000_000_000_000_000


def run(engine: Engine, records: list[Any], output: Output, framing: str = "ndjson") -> BatchResult:
    if framing == "msgpack":
        body = b"".join(msgpack.packb(record) for record in records)
    else:
        body = b"".join(orjson.dumps(record) + b"\n" for record in records)
    return engine.run(body, framing, output, Limits(), RECEIVED)  # type: ignore[arg-type]


def bulk_lines(result: BatchResult) -> tuple[list[Any], list[Any]]:
    assert result.body.endswith(b"\n")  # the bulk API requires the final newline
    lines = [json.loads(line) for line in result.body.splitlines()]
    return lines[0::2], lines[1::2]


def test_ids_tell_repeated_records_apart_and_stay_on_a_retry() -> None:
    raw = [b'{"message":"x"}', b'{"message":"x"}', b'{"message":"y"}', b'{"message":"x"}']
    ids = record_ids(raw)
    assert len(set(ids)) == 4 and all(len(i) == 20 for i in ids)
    assert record_ids(raw) == ids
    assert record_ids(raw[:2]) == ids[:2]  # the first copies keep their ids when more follow


def test_bulk_body_follows_the_bulk_api(engine_name: str) -> None:
    records: list[Any] = [
        {"message": "a", "timestamp": "2024-06-03T11:02:41.517000Z"},
        {"message": "b", "@timestamp": "2024-01-01T00:00:00Z"},
        "not an object",
        {"message": "a", "timestamp": "2024-06-03T11:02:41.517000Z"},
    ]
    result = run(engine_for(engine_name), records, Bulk("logs-jupyterhub-default"))
    actions, documents = bulk_lines(result)
    assert actions == [{"create": {"_index": "logs-jupyterhub-default", "_id": i}} for i in result.ids]
    assert len(set(result.ids)) == 4  # the repeated record is stored twice
    assert documents[0]["@timestamp"] == "2024-06-03T11:02:41.517000000Z"  # from the record's time
    assert documents[0]["message"] == "a" and "enrichment" in documents[0]
    assert documents[1]["@timestamp"] == "2024-01-01T00:00:00Z"  # an existing @timestamp is kept as is
    assert documents[2] == {
        "@timestamp": "2023-11-14T22:13:20.000000000Z",
        "event": {"original": '"not an object"'},
    }
    for (start, end), document in zip(result.documents, documents, strict=True):
        assert json.loads(result.body[start:end]) == document


def test_bulk_ids_come_from_the_record_as_it_came(engine_name: str) -> None:
    records = [{"message": LINES[0], "n": 1}]
    engine = engine_for(engine_name)
    first = run(engine, records, Bulk("x")).ids
    ecs = run(engine_for(engine_name, EnrichOptions(profile="ecs")), records, Bulk("x")).ids
    assert first == ecs  # the enrichment does not enter the id
    assert run(engine, [{"message": LINES[0], "n": 2}], Bulk("x")).ids != first


def test_msgpack_events_keep_their_own_time(engine_name: str) -> None:
    engine = engine_for(engine_name)
    events = [[[1_717_412_561, {}], {"log": "x"}], [[1_717_412_562, {}], {"log": "x"}]]
    bulk = run(engine, events, Bulk("x"), "msgpack")
    _, documents = bulk_lines(bulk)
    assert [d["@timestamp"] for d in documents] == [
        "2024-06-03T11:02:41.000000000Z",
        "2024-06-03T11:02:42.000000000Z",
    ]
    assert len(set(bulk.ids)) == 2  # the same record at two times: two documents
    lines = run(engine, events, JsonLines(array=False), "msgpack").body.splitlines()
    assert [json.loads(line)["date"] for line in lines] == [1_717_412_561, 1_717_412_562]
    loki = json.loads(run(engine, events, Loki(), "msgpack").body)
    assert [v[0] for v in loki["streams"][0]["values"]] == ["1717412561000000000", "1717412562000000000"]


def test_mixed_bulk_answer_is_sorted_item_by_item() -> None:
    answer = json.loads((RELAY / "bulk_response_mixed.json").read_text())
    outcome = read_bulk_response(answer, 4)
    assert outcome.created == 1
    assert outcome.duplicates == 1  # 409 on create: an earlier try already indexed it
    assert [(p, s) for p, s, _ in outcome.retryable] == [(3, 429)]
    assert [(p, s, e["type"]) for p, s, e in outcome.rejected] == [(2, 400, "document_parsing_exception")]


@pytest.mark.parametrize("status", ["201", 201.0, None, "x", True])
def test_bulk_item_status_of_any_type(status: Any) -> None:
    outcome = read_bulk_response({"items": [{"create": {"status": status}}]}, 1)
    assert outcome.created == (1 if status == "201" else 0)
    assert outcome.created + len(outcome.retryable) + len(outcome.rejected) == 1


def test_bulk_answer_with_the_wrong_item_count_is_retryable() -> None:
    outcome = read_bulk_response({"errors": False, "items": []}, 3)
    assert outcome.retryable and outcome.retryable[0][1] == 502


def test_dead_letter_documents_keep_the_record_and_the_error(engine_name: str) -> None:
    answer = json.loads((RELAY / "bulk_response_mapping_only.json").read_text())
    records = [{"message": "fine"}, {"message": {"nested": "object where a keyword is mapped"}}]
    result = run(engine_for(engine_name), records, Bulk("logs-jh"))
    outcome = read_bulk_response(answer, 2)
    body = encode_dead_letters(
        result.body,
        result.documents,
        result.ids,
        outcome.rejected,
        "logenrich-dead-letter",
        "logs-jh",
        "es",
        0,
    )
    action, document = (orjson.loads(line) for line in body.splitlines())
    assert action == {"create": {"_index": "logenrich-dead-letter", "_id": result.ids[1]}}
    kept = orjson.loads(document["event"]["original"])  # whole, as a string: no mapping to break
    assert kept["message"] == records[1]["message"] and "@timestamp" in kept
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
        (1e300, None),  # past what a store keeps
        (float("inf"), None),
        ("0001-01-01T00:00:00+14:00", None),  # before the epoch
        ("9999-12-31T23:59:59Z", 253402300799000000000),
        (-5, None),
    ],
)
def test_time_parsing(value: Any, ns: int | None) -> None:
    assert parse_time_ns(value) == ns


@pytest.mark.parametrize("profile", ["default", "ecs"])
def test_loki_push_body(engine_name: str, profile: str) -> None:
    engine = engine_for(engine_name, EnrichOptions(profile=profile))  # type: ignore[arg-type]
    records: list[Any] = [
        {"message": LINES[0], "timestamp": "2024-06-03T11:02:42Z", "kubernetes": {"pod_name": "hub-0"}},
        {"log": LINES[1], "date": 1717412561.517},
        {"message": LINES[2]},
        {"no": "message"},
    ]
    body = json.loads(run(engine, records, Loki((("job", "jupyterhub"),))).body)
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
    assert json.loads(benign[1]) == records[0]  # the line is the record as it came
    mismatch = streams[("misconfiguration", "error")]["values"][0]
    assert mismatch[0] == "1717412561517000000"  # Fluent Bit's date
    assert mismatch[2]["fields_hub_version"] == "4.1.5"
    assert streams[("none", "unknown")]["values"][0][0] == str(RECEIVED)  # no time: receive time


def test_loki_message_lines(engine_name: str) -> None:
    body = json.loads(run(engine_for(engine_name), [{"message": LINES[0]}], Loki(line="message")).body)
    assert body["streams"][0]["values"][0][1] == LINES[0]
