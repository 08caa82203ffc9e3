"""/v1/forward against a real loopback downstream: each downstream answer and what the shipper gets."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from app.api import create_app
from app.errors import SettingsError
from app.relay.config import load_downstreams
from app.settings import Settings
from tests.downstream import Answer, Recorder, recording_downstream
from tests.server import free_port

LINE = (
    "[W 2022-03-10 17:25:19.774 JupyterHub base:1349] "
    "Failing suspected API request to not-running server: /hub/user/alice/api/metrics/v1"
)
BATCH = orjson.dumps([{"message": LINE, "n": 1}, {"message": "unknown", "n": 2}, 7])


def client_for(**settings: Any) -> TestClient:
    return TestClient(create_app(Settings(reload_interval=0, probe_interval=0, **settings)))


@pytest.fixture
def downstream() -> Iterator[Recorder]:
    with recording_downstream() as recorder:
        yield recorder


def forward(client: TestClient, path: str = "/v1/forward", body: bytes = BATCH) -> Any:
    return client.post(path, content=body, headers={"content-type": "application/json"})


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_delivers_the_enriched_batch(downstream: Recorder, fmt: str) -> None:
    with client_for(forward_url=downstream.url + "/in", forward_format=fmt) as c:
        response = forward(c)
        assert response.status_code == 200, response.text
        assert response.json()["records"] == 3
        metrics = c.get("/metrics").text
    records = downstream.records()
    assert [r if not isinstance(r, dict) else r["n"] for r in records] == [1, 2, 7]
    assert records[0]["enrichment"]["classification"] == "jupyterhub.proxy.not-running-server"
    path, body = downstream.accepted[0]
    assert path == "/in"
    assert body.startswith(b"[") == (fmt == "json")
    assert 'logenrich_forward_requests_total{downstream="default",outcome="ok"} 1.0' in metrics
    assert 'logenrich_forward_records_total{downstream="default",result="delivered"} 3.0' in metrics


@pytest.mark.parametrize(
    ("status", "headers", "answer", "retry_after"),
    [
        (503, {}, 503, "1"),
        (500, {}, 503, "1"),
        (429, {"Retry-After": "7"}, 503, "7"),
        (401, {}, 503, "1"),  # our credentials: not the batch's fault, keep it
        (404, {}, 503, "1"),
        (400, {}, 400, None),  # the batch itself is bad: pass it back
        (413, {}, 413, None),
    ],
)
def test_downstream_answers(
    status: int, headers: dict[str, str], answer: int, retry_after: str | None
) -> None:
    def behaviour(path: str, body: bytes) -> Answer:
        return status, b'{"reason": "downstream says no"}', headers  # a Retry-After is honoured

    with recording_downstream(behaviour) as recorder, client_for(forward_url=recorder.url) as c:
        response = forward(c)
        assert response.status_code == answer
        assert response.headers.get("retry-after") == retry_after
        assert response.headers["content-type"] == "application/problem+json"
        assert f"{status}" in response.json()["detail"]
        if answer == 400:
            assert "downstream says no" in response.json()["detail"]


def test_refused_connection_and_timeout_are_retryable() -> None:
    with client_for(forward_url=f"http://127.0.0.1:{free_port()}") as c:
        response = forward(c)
        assert response.status_code == 503
        assert "unreachable" in response.json()["detail"]

    def slow(path: str, body: bytes) -> None:
        time.sleep(1.5)

    with (
        recording_downstream(slow) as recorder,
        client_for(forward_url=recorder.url, forward_timeout=0.5) as c,
    ):
        response = forward(c)
        assert response.status_code == 503
        assert "timed out" in response.json()["detail"]


def test_readiness_reports_the_downstream_but_does_not_fail_for_it() -> None:
    """Every pod shares the downstream: an unready pod would not help, so the probe stays ready
    and /readyz and logenrich_downstream_up say what is wrong."""
    with recording_downstream() as recorder:
        settings = Settings(reload_interval=0, probe_interval=0.05, forward_url=recorder.url)
        with TestClient(create_app(settings)) as c:
            _until(lambda: c.get("/readyz").json()["downstreams"] == {"default": None})
            recorder.stop()
            _until(lambda: c.get("/readyz").json()["downstreams"]["default"] is not None)
            ready = c.get("/readyz")
            assert ready.status_code == 200 and ready.json()["status"] == "ready"
            assert f"127.0.0.1:{recorder.port}" in ready.json()["downstreams"]["default"]  # why it is down
            assert 'logenrich_downstream_up{downstream="default"} 0.0' in c.get("/metrics").text
            recorder.start()
            _until(lambda: c.get("/readyz").json()["downstreams"] == {"default": None})


def _until(check: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def _bulk_behaviour(plan: list[list[int]], dead_letters: list[bytes]) -> Any:
    """An Elasticsearch _bulk endpoint answering each call with the next list of item statuses."""

    def behaviour(path: str, body: bytes) -> tuple[int, bytes]:
        assert path.startswith("/_bulk")
        lines = body.splitlines()
        actions = [orjson.loads(line) for line in lines[0::2]]
        if actions and actions[0]["create"]["_index"] == "logenrich-dead-letter":
            dead_letters.append(body)
            items = [{"create": {"status": 201}} for _ in actions]
        else:
            statuses = plan.pop(0)
            assert len(statuses) == len(actions)
            items = [
                {"create": {"_id": a["create"]["_id"], "status": s, **({"error": {"type": "mapper_parsing_exception", "reason": "bad"}} if s == 400 else {})}}
                for a, s in zip(actions, statuses, strict=True)
            ]  # fmt: skip
        return 200, orjson.dumps({"errors": True, "items": items})

    return behaviour


def test_elasticsearch_retry_and_dead_letter() -> None:
    dead: list[bytes] = []
    plan = [[201, 429, 201], [409, 201, 400]]  # first try: one throttled; retry: 409 for the created one
    with recording_downstream(_bulk_behaviour(plan, dead)) as recorder:
        with client_for(forward_url=recorder.url, forward_format="elasticsearch") as c:
            first = forward(c)
            assert first.status_code == 503  # a throttled item: the shipper retries the batch
            assert "429" in first.json()["detail"]
            second = forward(c)
            assert second.status_code == 200, second.text
            assert "kept in logenrich-dead-letter" in second.json()["detail"]
            metrics = c.get("/metrics").text
    assert len(dead) == 1
    _action, document = (orjson.loads(line) for line in dead[0].splitlines())
    kept = orjson.loads(document["event"]["original"])  # the document as it was sent, whole
    assert kept["event"]["original"] == "7"
    assert document["error"]["type"] == "mapper_parsing_exception"
    assert 'logenrich_forward_records_total{downstream="default",result="dead_lettered"} 1.0' in metrics
    assert 'logenrich_forward_records_total{downstream="default",result="delivered"} 2.0' in metrics


def test_elasticsearch_ids_are_the_same_on_retry() -> None:
    bodies: list[bytes] = []

    def behaviour(path: str, body: bytes) -> tuple[int, bytes]:
        bodies.append(body)
        return 503, b""

    with recording_downstream(behaviour) as recorder:
        with client_for(forward_url=recorder.url, forward_format="elasticsearch") as c:
            forward(c)
            forward(c)
    actions = [[orjson.loads(line) for line in body.splitlines()[0::2]] for body in bodies]
    assert len(actions) == 2 and actions[0] == actions[1]  # same _ids: a retry cannot duplicate
    assert len({a["create"]["_id"] for a in actions[0]}) == 3


def test_named_downstreams_from_a_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with recording_downstream() as loki, recording_downstream() as vector:
        monkeypatch.setenv("LOKI_TOKEN", "t0ken")
        config = tmp_path / "downstreams.toml"
        config.write_text(
            f"""
default = "vector"

[downstreams.vector]
url = "{vector.url}/events"
format = "ndjson"

[downstreams.loki]
url = "{loki.url}"
format = "loki"
compression = "gzip"
labels = {{ job = "jupyterhub" }}
token_env = "LOKI_TOKEN"
"""
        )
        with client_for(downstreams_file=config) as c:
            assert forward(c).status_code == 200
            assert forward(c, "/v1/forward/loki").status_code == 200
            missing = forward(c, "/v1/forward/nope")
            assert missing.status_code == 404
            assert "known: loki, vector" in missing.json()["detail"]
        assert vector.accepted[0][0] == "/events"
        path, body = loki.accepted[0]
        assert path == "/loki/api/v1/push"
        push = json.loads(body)
        assert {s["stream"]["job"] for s in push["streams"]} == {"jupyterhub"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[downstreams.a]\nurl = "ftp://x"\n', "url"),
        ('default = "b"\n[downstreams.a]\nurl = "http://x"\n', "names no downstream"),
        ('[downstreams.a]\nurl = "http://x"\npassword_env = "NOT_SET_ANYWHERE"\n', "not set"),
        ('[downstreams.a]\nurl = "http://x"\nformat = "kafka"\n', "format"),
        ("[other]\n", "unknown keys"),
    ],
)
def test_bad_downstream_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "d.toml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=message):
        load_downstreams(path)


def test_forward_without_a_downstream_is_404() -> None:
    with client_for() as c:
        response = forward(c)
        assert response.status_code == 404
        assert "no default downstream" in response.json()["detail"]


def test_gzip_to_the_downstream() -> None:
    seen: list[bytes] = []

    def behaviour(path: str, body: bytes) -> None:
        seen.append(body)

    with recording_downstream(behaviour) as recorder:
        with client_for(forward_url=recorder.url, forward_compression="gzip") as c:
            assert forward(c).status_code == 200
    assert recorder.encodings == ["gzip"]
    assert orjson.loads(seen[0])[0]["n"] == 1  # the recorder un-gzipped a whole, valid stream
    assert recorder.raw_sizes[0] != len(seen[0])
