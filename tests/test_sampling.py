"""`serve --sample-unclassified N`: the bounded per-process sample of unclassified messages, its
endpoints behind the token, its metric, the draft download, and its memory at the bound; through
TestClient and through a real server on a loopback port."""

import gzip
import random
import string
import time
import tomllib
import tracemalloc
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from app.api import create_app
from app.batch import Limits
from app.check import check_paths
from app.enrich import EnrichOptions
from app.sampling import UnclassifiedSample
from app.settings import Settings
from tests.helpers import FIXTURES
from tests.server import rss_kib, running_server

SITE_LOG = FIXTURES / "mining" / "site.log"
TOKEN = "sample-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def _client(**settings: Any) -> TestClient:
    return TestClient(create_app(Settings(reload_interval=0, token=TOKEN, **settings)))


def _ndjson(lines: list[str]) -> bytes:
    return b"".join(orjson.dumps({"message": line}) + b"\n" for line in lines)


def _wait_for(client: TestClient, messages: int) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        body: dict[str, Any] = client.get("/v1/unclassified", headers=AUTH).json()
        if body["messages"] >= messages or time.monotonic() > deadline:
            return body
        time.sleep(0.02)


def test_the_sample_is_off_by_default() -> None:
    with _client() as client:
        answer = client.get("/v1/unclassified", headers=AUTH)
        assert answer.status_code == 404
        assert answer.json()["type"] == "urn:logenrich:problem:no_sample"
        assert client.get("/v1/unclassified/draft", headers=AUTH).status_code == 404
        client.post(
            "/v1/enrich", content=SITE_LOG.read_bytes(), headers={**AUTH, "content-type": "text/plain"}
        )
        assert "logenrich_unclassified_records_total{" not in client.get("/metrics").text


def test_templates_counts_and_draft() -> None:
    with _client(sample_unclassified=50) as client:
        assert client.get("/v1/unclassified").status_code == 401
        body = gzip.compress(SITE_LOG.read_bytes())
        headers = {**AUTH, "content-type": "text/plain", "content-encoding": "gzip"}
        assert client.post("/v1/enrich", content=body, headers=headers).status_code == 200
        sample = _wait_for(client, 40)
        assert sample["scope"] == "process" and "each worker and pod keeps its own" in sample["note"]
        assert (sample["messages"], sample["template_count"], sample["other"]) == (40, 4, 0)
        assert sample["bound"] == {"templates": 50, "examples": 3}
        counts = {t["template"]: t["count"] for t in sample["templates"]}
        assert counts["Submitted batch job <NUM> for <*> on partition gpu"] == 10
        assert all(len(t["examples"]) == 3 for t in sample["templates"])
        metrics = client.get("/metrics").text
        for template in sample["templates"]:
            assert f'logenrich_unclassified_records_total{{template="{template["key"]}"}} 10.0' in metrics
        draft = client.get("/v1/unclassified/draft", headers=AUTH)
        assert draft.status_code == 200 and draft.headers["content-type"].startswith("application/toml")
        assert "attachment" in draft.headers["content-disposition"]
        assert len(tomllib.loads(draft.text)["rules"]) == 4


def test_the_draft_download_checks(tmp_path: Path) -> None:
    with _client(sample_unclassified=10) as client:
        client.post(
            "/v1/enrich", content=SITE_LOG.read_bytes(), headers={**AUTH, "content-type": "text/plain"}
        )
        _wait_for(client, 40)
        path = tmp_path / "draft.toml"
        path.write_bytes(client.get("/v1/unclassified/draft", headers=AUTH).content)
    table, issues = check_paths([path])
    assert table is not None and issues == []


def test_templates_past_the_bound_count_as_other() -> None:
    lines = ["site event " + "word " * n for n in range(30)]  # 30 lengths: 30 templates
    with _client(sample_unclassified=5, sample_unclassified_examples=0) as client:
        client.post(
            "/v1/enrich", content=_ndjson(lines), headers={**AUTH, "content-type": "application/x-ndjson"}
        )
        sample = _wait_for(client, 30)
        assert sample["template_count"] == 5 and sample["other"] == 25
        assert all(t["examples"] == [] for t in sample["templates"])
        metrics = client.get("/metrics").text
        assert 'logenrich_unclassified_records_total{template="other"} 25.0' in metrics
        assert metrics.count("logenrich_unclassified_records_total{") == 6  # 5 templates and other
        nothing = client.get("/v1/unclassified/draft", headers=AUTH)
        assert nothing.status_code == 404 and "no example lines are kept" in nothing.json()["detail"]


def test_a_busy_sampler_never_holds_the_request() -> None:
    """Offers past the queue are not sampled, and counted: the caller never waits."""
    counted: dict[str, int] = {}
    sample = UnclassifiedSample(10, 3, EnrichOptions(), Limits(), counted.__setitem__)
    # not started: nothing drains the queue
    for _ in range(5):
        sample.offer(_ndjson(["a b c"] * 4), "application/x-ndjson", None, b"\x01" * 4)
    assert sample.unsampled == 12 and counted == {"other": 4}
    sample.offer(b"ignored", None, None, b"\x02\x00")  # nothing unclassified: not even queued
    sample.start()
    assert sample.wait_idle()
    assert sample.as_json()["messages"] == 8
    sample.close()


def _random_line(rng: random.Random) -> str:
    words = [
        "".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(rng.randint(4, 14))
    ]
    return " ".join(words) + f" id={rng.randint(0, 10**9)} after {rng.random():.3f}s"


def test_memory_at_the_bound() -> None:
    """The miner's memory at 1,000 templates of 3 examples stays bounded as lines keep coming."""
    rng = random.Random(5)
    sample = UnclassifiedSample(1000, 3, EnrichOptions(), Limits())
    tracemalloc.start()
    try:
        sizes = []
        for _ in range(4):
            lines = [_random_line(rng) for _ in range(5000)]
            sample.feed(_ndjson(lines), "application/x-ndjson", None, b"\x01" * len(lines))
            sizes.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    body = sample.as_json(0)
    assert body["template_count"] == 1000 and body["other"] > 10_000
    # the sample is full after the first 5,000 lines: what comes after adds (almost) nothing
    assert sizes[-1] - sizes[1] < 0.1 * sizes[1], sizes
    assert sizes[-1] < 16 * 1024 * 1024, sizes


def test_a_real_server_samples_and_serves_the_draft(tmp_path: Path) -> None:
    with running_server(
        "--sample-unclassified", "20", env={"LOGENRICH_TOKEN": TOKEN}, tmp_path=tmp_path
    ) as server:
        for _ in range(3):
            answer = httpx.post(
                server.url + "/v1/enrich",
                content=SITE_LOG.read_bytes(),
                headers={**AUTH, "content-type": "text/plain"},
                timeout=30,
            )
            assert answer.status_code == 200
        deadline = time.monotonic() + 10
        while True:
            sample = httpx.get(server.url + "/v1/unclassified", headers=AUTH, timeout=10).json()
            if sample["messages"] >= 120 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert sample["messages"] == 120 and sample["template_count"] == 4
        assert httpx.get(server.url + "/v1/unclassified", timeout=10).status_code == 401
        draft = httpx.get(server.url + "/v1/unclassified/draft", headers=AUTH, timeout=60)
        assert draft.status_code == 200
        rules = tmp_path / "site.toml"
        rules.write_bytes(draft.content)
        metrics = httpx.get(server.url + "/metrics", timeout=10).text
        assert metrics.count("logenrich_unclassified_records_total{") == 4
    # the downloaded draft loads: a server with it classifies the whole site log
    with running_server("--rules", str(rules), tmp_path=tmp_path) as server:
        answer = httpx.post(
            server.url + "/v1/enrich",
            content=SITE_LOG.read_bytes(),
            headers={"content-type": "text/plain"},
            timeout=30,
        )
        records = [orjson.loads(line) for line in answer.content.splitlines()]
        assert all(r["enrichment"]["classification"] != "unclassified" for r in records)


@pytest.mark.parametrize("examples", [0, 1])
def test_example_lines_can_be_turned_off(examples: int) -> None:
    sample = UnclassifiedSample(10, examples, EnrichOptions(), Limits())
    lines = [f"hook ran for user{n} in {n}ms" for n in range(5)]
    sample.feed(_ndjson(lines), "application/x-ndjson", None, b"\x01" * 5)
    (template,) = sample.as_json()["templates"]
    assert len(template["examples"]) == examples and template["count"] == 5


def test_a_real_server_keeps_its_sample_bounded_as_new_shapes_keep_coming(tmp_path: Path) -> None:
    """A short soak: 40 batches of lines of new shapes; the sample stays at its bound, the rest is
    counted as other, and the process's memory stops growing once the sample is full."""
    rng = random.Random(11)
    with running_server(
        "--sample-unclassified", "100", env={"LOGENRICH_TOKEN": TOKEN}, tmp_path=tmp_path
    ) as server:
        rss = []
        for batch in range(40):
            body = _ndjson([_random_line(rng) for _ in range(2000)])
            answer = httpx.post(
                server.url + "/v1/enrich",
                content=body,
                headers={**AUTH, "content-type": "application/x-ndjson"},
                timeout=60,
            )
            assert answer.status_code == 200
            if batch in (9, 39):
                time.sleep(1)  # let the sampler catch up before measuring
                rss.append(rss_kib(server.process.pid))
        deadline = time.monotonic() + 30
        while True:  # every unclassified record is either fed to the miner or counted as unsampled
            sample = httpx.get(server.url + "/v1/unclassified?limit=100", headers=AUTH, timeout=10).json()
            if sample["messages"] + sample["unsampled"] == 80_000 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        metrics = httpx.get(server.url + "/metrics", timeout=10).text
    assert sample["messages"] + sample["unsampled"] == 80_000
    assert sample["template_count"] == 100
    assert sum(t["count"] for t in sample["templates"]) + sample["other"] == sample["messages"]
    assert metrics.count("logenrich_unclassified_records_total{") == 101  # 100 templates and other
    assert rss[1] - rss[0] < 24 * 1024, rss  # KiB: no growth with the records past the bound


def test_a_reload_starts_the_sample_again(tmp_path: Path) -> None:
    with _client(sample_unclassified=10) as client:
        client.post(
            "/v1/enrich", content=SITE_LOG.read_bytes(), headers={**AUTH, "content-type": "text/plain"}
        )
        assert _wait_for(client, 40)["template_count"] == 4
        assert client.post("/v1/reload", headers=AUTH).status_code == 200
        sample = client.get("/v1/unclassified", headers=AUTH).json()
        assert (sample["messages"], sample["template_count"]) == (0, 0)
        assert "logenrich_unclassified_records_total{" not in client.get("/metrics").text
