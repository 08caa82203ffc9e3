"""The service through TestClient: every shipper shape, bad input, auth, metrics, reload, docs."""

import gzip
import shutil
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard
from fastapi.testclient import TestClient

from app.api import create_app
from app.api.security import token_ok
from app.settings import Settings
from tests.helpers import FIXTURES
from tests.payloads import PAYLOADS, Payload, assert_round_trip, compress, decode_response, input_records

LINE = (
    "[W 2022-03-10 17:25:19.774 JupyterHub base:1349] "
    "Failing suspected API request to not-running server: /hub/user/alice/api/metrics/v1"
)


def client_for(**settings: Any) -> TestClient:
    return TestClient(create_app(Settings(reload_interval=0, **settings)))


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with client_for() as c:
        yield c


def post(client: TestClient, body: bytes, content_type: str | None = None, **headers: str) -> Any:
    if content_type:
        headers["content-type"] = content_type
    headers.setdefault("accept-encoding", "identity")
    return client.post("/v1/enrich", content=body, headers=headers)


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.name)
@pytest.mark.parametrize("encoding", ["identity", "gzip", "deflate", "zstd", "snappy"])
def test_round_trip(client: TestClient, payload: Payload, encoding: str) -> None:
    headers = {} if encoding == "identity" else {"content-encoding": encoding}
    response = post(client, compress(payload.body, encoding), payload.content_type, **headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(payload.response_type)
    assert_round_trip(input_records(payload), decode_response(response.content, payload.response_type))
    assert response.headers["x-logenrich-records"] == str(len(input_records(payload)))


def test_classification_in_the_response(client: TestClient) -> None:
    response = post(client, b'[{"message": "%s"}]' % LINE.encode(), "application/json")
    enrichment = response.json()[0]["enrichment"]
    assert enrichment["classification"] == "jupyterhub.proxy.not-running-server"
    assert enrichment["severity"] == "info"
    assert enrichment["fields"]["user"] == "alice"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd"])
def test_response_is_compressed_when_asked(client: TestClient, encoding: str) -> None:
    response = client.post(
        "/v1/enrich",
        content=b'[{"message":"x"}]',
        headers={"content-type": "application/json", "accept-encoding": encoding},
    )
    assert response.headers["content-encoding"] == encoding
    body = response.content
    if encoding == "zstd":  # the test client does not decode zstd itself
        body = zstandard.ZstdDecompressor().decompress(body)
    assert orjson.loads(body) == [{"message": "x", "enrichment": {"classification": "unclassified"}}]


def test_accept_overrides_the_framing(client: TestClient) -> None:
    response = post(
        client, b'[{"message":"a"},{"message":"b"}]', "application/json", accept="application/x-ndjson"
    )
    assert response.headers["content-type"] == "application/x-ndjson"
    assert len(response.content.splitlines()) == 2


@pytest.mark.parametrize(
    ("body", "content_type", "headers", "status", "fragment"),
    [
        (b'[{"message": "a"},', "application/json", {}, 400, "line 1, column 19"),
        (b"\xc1", "application/msgpack", {}, 400, "MessagePack"),
        (b"[]", "application/xml", {}, 415, "Content-Type"),
        (b"[]", "application/json", {"content-encoding": "br"}, 415, "Content-Encoding"),
        (b"not gzip", "application/json", {"content-encoding": "gzip"}, 400, "gzip"),
    ],
)
def test_bad_input_gets_its_status_and_names_the_problem(
    client: TestClient, body: bytes, content_type: str, headers: dict[str, str], status: int, fragment: str
) -> None:
    response = post(client, body, content_type, **headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert fragment in problem["detail"]


def test_limits_answer_413() -> None:
    with client_for(max_body_bytes=2048, max_decompressed_bytes=4096, max_records=3) as c:
        assert post(c, b"[" + b" " * 3000 + b"]", "application/json").status_code == 413
        bomb = gzip.compress(b"[" + b" " * 100_000 + b"]")
        response = post(c, bomb, "application/json", **{"content-encoding": "gzip"})
        assert response.status_code == 413
        assert "decompresses to more than 4096" in response.json()["detail"]
        response = post(c, b"[{},{},{},{}]", "application/json")
        assert response.status_code == 413
        assert "more than the limit of 3" in response.json()["detail"]


def test_odd_records_never_fail_the_batch() -> None:
    body = b'[{"message":"%s"}, 1, "s", null, [1], {"message": 5}, {"log": {"nested": true}}]' % LINE.encode()
    with client_for() as client:  # its own metrics: the passthrough count is this batch's
        response = post(client, body, "application/json")
        metrics = client.get("/metrics").text
    assert response.status_code == 200
    records = response.json()
    assert records[1:] == [1, "s", None, [1], {"message": 5}, {"log": {"nested": True}}]
    assert records[0]["enrichment"]["classification"] == "jupyterhub.proxy.not-running-server"
    assert "logenrich_passthrough_records_total 6.0" in metrics


def test_auth() -> None:
    with client_for(token="s3cret", protect_metrics=True) as c:
        assert post(c, b"[]", "application/json").status_code == 401
        assert post(c, b"[]", "application/json", authorization="Bearer wrong").status_code == 401
        assert post(c, b"[]", "application/json", authorization="Basic s3cret").status_code == 401
        assert post(c, b"[]", "application/json", authorization="Bearer s3cret").status_code == 200
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"authorization": "Bearer s3cret"}).status_code == 200
        assert c.post("/v1/reload").status_code == 401
        assert c.get("/v1/rules").status_code == 401
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 200
        metrics = c.get("/metrics", headers={"authorization": "Bearer s3cret"}).text
        assert 'logenrich_rejected_requests_total{reason="auth"} 6.0' in metrics


def _position_leak(check: Callable[[str | None, str], bool], token: str) -> float:
    """Median time of a guess wrong at its last character minus one wrong at its first, in
    seconds: what an attacker timing the check would learn about a prefix."""
    early = "Bearer " + "!" + token[1:]
    late = "Bearer " + token[:-1] + "!"
    diffs = []
    for _ in range(200):
        t0 = time.perf_counter()
        check(early, token)
        t1 = time.perf_counter()
        check(late, token)
        t2 = time.perf_counter()
        diffs.append((t2 - t1) - (t1 - t0))
    return statistics.median(diffs)


def test_timing_probed_tokens_learn_nothing() -> None:
    token = "t" * (4 * 1024 * 1024)  # long, so that a comparison that stops early shows (~80 µs)

    def naive(header: str | None, secret: str) -> bool:
        return (header or "").partition(" ")[2].encode() == secret.encode()

    leak_of_naive = _position_leak(naive, token)
    assert leak_of_naive > 20e-6  # the probe does see an early-exit comparison
    assert abs(_position_leak(token_ok, token)) < leak_of_naive / 2  # an early exit would show all of it


def test_metrics_that_matter(client: TestClient) -> None:
    post(client, b'{"message":"%s"}\n{"message":"x"}' % LINE.encode(), "application/x-ndjson")
    text = client.get("/metrics").text
    assert (
        'logenrich_records_total{category="benign",classification="jupyterhub.proxy.not-running-server",'
        'severity="info"}'
    ) in text
    assert 'logenrich_batches_total{encoding="identity",format="ndjson"}' in text
    assert "logenrich_request_bytes_total" in text
    assert 'logenrich_request_duration_seconds_bucket{endpoint="/v1/enrich"' in text
    assert 'logenrich_table_info{engine="' in text and ',version="jupyterhub@' in text
    assert "logenrich_table_rules " in text


def test_health_ready_rules_and_docs(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready"
    assert ready["table"]["rules"] >= 3
    rules = client.get("/v1/rules").json()
    assert rules["version"].startswith("jupyterhub@")
    assert any(r["id"] == "jupyterhub.proxy.not-running-server" for r in rules["rules"])
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/v1/enrich"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/x-ndjson", "application/msgpack", "text/plain"} <= set(body)
    responses = schema["paths"]["/v1/enrich"]["post"]["responses"]
    assert {"200", "400", "401", "413", "415", "503"} <= set(responses)
    assert "EnrichedRecord" in schema["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_reload_endpoint_swaps_or_keeps(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(FIXTURES / "rules" / "ok" / "custom.toml", rules / "site.toml")
    with client_for(rules=(rules,)) as c:
        version = c.get("/readyz").json()["table"]["version"]
        assert version.startswith("site@1+jupyterhub@")
        text = (rules / "site.toml").read_text().replace('version = "1"', 'version = "2"')
        (rules / "site.toml").write_text(text)
        answer = c.post("/v1/reload")
        assert answer.status_code == 200
        assert answer.json()["version"].startswith("site@2+")
        (rules / "site.toml").write_text(text.replace("pattern = ", "pattern = '(?=x)' #"))
        answer = c.post("/v1/reload")
        assert answer.status_code == 422
        assert "lookahead" in answer.json()["error"]
        ready = c.get("/readyz").json()
        assert ready["table"]["version"].startswith("site@2+")  # the old table keeps serving
        assert ready["last_reload"]["ok"] is False
        metrics = c.get("/metrics").text
        assert 'logenrich_table_reloads_total{result="failure",trigger="api"} 1.0' in metrics
        assert 'logenrich_table_reloads_total{result="success",trigger="api"} 1.0' in metrics


def test_service_refuses_to_start_on_a_broken_table() -> None:
    from app.errors import TableError

    with pytest.raises(TableError), client_for(rules=(FIXTURES / "rules" / "broken",)):
        pass
