"""The service as it runs: a real `logenrich serve` process on a loopback port."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
import pytest

from tests.helpers import FIXTURES
from tests.payloads import PAYLOADS, Payload, assert_round_trip, compress, decode_response, input_records
from tests.server import running_server

SITE_RULE = """
[ruleset]
name = "site"
version = "{version}"
doc_base = "https://wiki.example.org/"

[[rules]]
id = "site.marker"
title = "Marker line"
pattern = 'logenrich-marker (?P<n>\\d+)'
severity = "warning"
category = "actionable"
doc_url = "marker"
summary = "A marker."
action = "Nothing."

[[rules.examples]]
line = "logenrich-marker 1"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with running_server("--reload-interval", "0", tmp_path=tmp_path_factory.mktemp("srv")) as s:
        yield s


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.name)
@pytest.mark.parametrize("encoding", ["identity", "gzip", "zstd", "snappy"])
def test_round_trip_over_real_http(server: Any, payload: Payload, encoding: str) -> None:
    headers = {"accept-encoding": "identity"}
    if payload.content_type:
        headers["content-type"] = payload.content_type
    if encoding != "identity":
        headers["content-encoding"] = encoding
    response = httpx.post(
        server.url + "/v1/enrich", content=compress(payload.body, encoding), headers=headers
    )
    assert response.status_code == 200, response.text
    assert_round_trip(input_records(payload), decode_response(response.content, payload.response_type))


def test_json_logs_without_record_contents(server: Any) -> None:
    secret = "logenrich-private-user-text"
    httpx.post(server.url + "/v1/enrich", content=orjson.dumps([{"message": secret}]))
    time.sleep(0.2)
    output = server.output()
    assert secret not in output
    lines = [orjson.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(entry.get("path") == "/v1/enrich" and entry.get("status") == 200 for entry in lines)
    assert all({"time", "level", "event"} <= set(entry) for entry in lines)


def test_overload_answers_503_with_retry_after(tmp_path: Path) -> None:
    with running_server(
        "--max-pending", "1", "--retry-after", "3", "--reload-interval", "0", tmp_path=tmp_path
    ) as s:
        # a body still on its way holds the only place until the slow-sender grace period ends
        busy = socket.create_connection(("127.0.0.1", s.port))
        busy.sendall(
            b"POST /v1/enrich HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 17\r\n\r\n[{"message"'
        )
        time.sleep(0.3)
        response = httpx.post(
            s.url + "/v1/enrich", content=b"[]", headers={"content-type": "application/json"}
        )
        assert response.status_code == 503
        assert response.headers["retry-after"] == "3"
        assert response.headers["content-type"] == "application/problem+json"
        busy.sendall(b':"a"}]')
        answer = busy.recv(65536)
        busy.close()
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert httpx.post(s.url + "/v1/enrich", content=b"[]").status_code == 200


def test_slow_senders_hold_no_place(tmp_path: Path) -> None:
    """A sender still sending after the grace period gives its place back: a few slow senders
    cannot shut everyone else out, and are served once their bodies are in."""
    with running_server("--max-pending", "1", "--reload-interval", "0", tmp_path=tmp_path) as s:
        slow = []
        try:
            for _ in range(2):  # each takes the only place, then is set aside after the grace period
                sock = socket.create_connection(("127.0.0.1", s.port))
                sock.sendall(
                    b"POST /v1/enrich HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b'Content-Length: 17\r\n\r\n[{"message"'
                )
                slow.append(sock)
                time.sleep(2.5)
            for _ in range(5):
                response = httpx.post(s.url + "/v1/enrich", content=b'[{"message": "x"}]', timeout=5)
                assert response.status_code == 200, response.text
            for sock in slow:
                sock.sendall(b':"a"}]')
                assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        finally:
            for sock in slow:
                sock.close()


@pytest.mark.parametrize("encoding", ["identity", "gzip"])  # gzip: a small body that decodes large
def test_healthz_answers_while_a_large_batch_is_enriched(server: Any, encoding: str) -> None:
    line = orjson.loads(PAYLOADS[0].body)[0]
    body = orjson.dumps([line] * 30_000)
    headers = {"content-type": "application/json"}
    if encoding != "identity":
        body = compress(body, encoding)
        headers["content-encoding"] = encoding
    latencies: list[float] = []
    done = threading.Event()
    result: dict[str, Any] = {}

    def big() -> None:
        result["response"] = httpx.post(server.url + "/v1/enrich", content=body, headers=headers, timeout=120)
        done.set()

    worker = threading.Thread(target=big)
    started = time.perf_counter()
    worker.start()
    time.sleep(0.05)
    while not done.is_set() and len(latencies) < 2000:
        start = time.perf_counter()
        assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200
        latencies.append(time.perf_counter() - start)
    worker.join()
    took = time.perf_counter() - started
    assert result["response"].status_code == 200
    assert len(result["response"].json()) == 30_000
    assert len(latencies) >= 3, "the batch finished before /healthz was probed"
    latencies.sort()
    print(
        f"/healthz during a 30k-record {encoding} batch of {took * 1000:.0f} ms: "
        f"n={len(latencies)} max={latencies[-1] * 1000:.1f} ms"
    )
    assert latencies[-1] < 1.0
    assert latencies[-1] < took / 2  # never waits for the batch: it does not run on the event loop


def _configmap(folder: Path, version: str) -> None:
    """Write rules the way a Kubernetes ConfigMap volume does: a timestamped dir, a ..data symlink
    swapped atomically, and the file a symlink through ..data."""
    stamp = folder / f"..{time.time_ns()}"
    stamp.mkdir()
    (stamp / "site.toml").write_text(SITE_RULE.format(version=version))
    link = folder / "..data_tmp"
    link.symlink_to(stamp.name)
    os.replace(link, folder / "..data")
    if not (folder / "site.toml").is_symlink():
        (folder / "site.toml").symlink_to("..data/site.toml")


def _version(url: str) -> str:
    version: str = httpx.get(url + "/readyz").json()["table"]["version"]
    return version


def _wait_for(url: str, prefix: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while True:
        version = _version(url)
        if version.startswith(prefix) or time.monotonic() > deadline:
            return version
        time.sleep(0.05)


def test_reload_on_configmap_swap_and_sighup(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    _configmap(rules, "1")
    with running_server(
        "--rules", str(rules / "site.toml"), "--reload-interval", "0.1", tmp_path=tmp_path
    ) as s:
        assert _version(s.url).startswith("site@1+")
        _configmap(rules, "2")
        assert _wait_for(s.url, "site@2+").startswith("site@2+")
        # a broken table is refused, the old one keeps serving, /readyz says why
        broken = rules / f"..broken{time.time_ns()}"
        broken.mkdir()
        (broken / "site.toml").write_text(SITE_RULE.format(version="3").replace("(?P<n>", "(?=x)(?P<n>"))
        tmp = rules / "..data_tmp"
        tmp.symlink_to(broken.name)
        os.replace(tmp, rules / "..data")
        deadline = time.monotonic() + 10
        while httpx.get(s.url + "/readyz").json()["last_reload"]["ok"] and time.monotonic() < deadline:
            time.sleep(0.05)
        ready = httpx.get(s.url + "/readyz").json()
        assert ready["last_reload"]["ok"] is False
        assert "lookahead" in ready["last_reload"]["error"]
        assert ready["table"]["version"].startswith("site@2+")
        assert "rule table refused" in s.output()
        # SIGHUP reloads too
        _configmap(rules, "4")
        s.process.send_signal(signal.SIGHUP)
        assert _wait_for(s.url, "site@4+").startswith("site@4+")
        metrics = httpx.get(s.url + "/metrics").text
        assert 'logenrich_table_reloads_total{result="failure",trigger="file-change"} 1.0' in metrics


def _wait_for_reload(url: str, prefix: str, broken: bool, timeout: float = 20) -> None:
    """Until /readyz shows this write was taken (or refused, for a broken table)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = httpx.get(url + "/readyz").json()
        last = ready["last_reload"] or {}
        if broken and last.get("ok") is False and "severity" in (last.get("error") or ""):
            return
        if not broken and ready["table"]["version"].startswith(prefix):
            return
        time.sleep(0.05)
    raise AssertionError(f"the table was not reloaded to {prefix} (broken={broken}) in {timeout}s")


def test_hot_reload_under_traffic(tmp_path: Path) -> None:
    """Tables swap while batches flow: no request fails, each response comes from one whole table."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "site.toml").write_text(SITE_RULE.format(version="v0"))
    batch = orjson.dumps([{"message": f"logenrich-marker {i}"} for i in range(300)])
    failures: list[str] = []
    versions_seen: set[str] = set()
    stop = threading.Event()

    with running_server("--rules", str(rules), "--reload-interval", "0.05", tmp_path=tmp_path) as s:

        def traffic() -> None:
            with httpx.Client(timeout=30) as client:
                for _ in range(2000):
                    if stop.is_set():
                        return
                    try:
                        response = client.post(s.url + "/v1/enrich", content=batch)
                    except httpx.TransportError as exc:
                        if not stop.is_set():
                            failures.append(f"transport error: {exc}")
                        return
                    if response.status_code != 200:
                        failures.append(f"{response.status_code} {response.text[:200]}")
                        continue
                    versions = {r["enrichment"]["ruleset_version"] for r in response.json()}
                    if len(versions) != 1:
                        failures.append(f"mixed tables in one response: {versions}")
                    versions_seen.update(versions)

        threads = [threading.Thread(target=traffic) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            _swap_tables(s, rules)
        finally:
            time.sleep(0.3)
            stop.set()
            for t in threads:
                t.join()
        metrics = httpx.get(s.url + "/metrics").text
    assert not failures, failures[:5]
    assert len(versions_seen) >= 3, versions_seen
    assert 'result="failure"' in metrics and 'result="success"' in metrics


def _swap_tables(s: Any, rules: Path) -> None:
    """Eight table changes, every third one broken; each waits until the service took it."""
    for n in range(1, 9):
        time.sleep(0.2)
        target = rules / "site.toml"
        broken = n % 3 == 0  # a broken table now and then: refused, nothing fails
        text = SITE_RULE.format(version=f"v{n}")
        if broken:
            text = text.replace("severity = ", "severity = 'loud' #")
        tmp = rules / ".site.toml.tmp"
        tmp.write_text(text)
        tmp.replace(target)
        if n % 2:
            s.process.send_signal(signal.SIGHUP)
        _wait_for_reload(s.url, f"site@v{n}+", broken)


def test_workers_share_the_load_and_the_metrics(tmp_path: Path) -> None:
    body = orjson.dumps([{"message": "200 GET /hub/api/users (admin@10.0.1.5) 12.34ms"}] * 10)
    with running_server("--workers", "2", "--reload-interval", "0", tmp_path=tmp_path, startup=40) as s:
        with httpx.Client() as client:
            for _ in range(20):
                assert client.post(s.url + "/v1/enrich", content=body).status_code == 200
        metrics = httpx.get(s.url + "/metrics").text
        pids = {line for line in s.output().splitlines() if "Started server process" in line}
    assert len(pids) == 2
    line = next(m for m in metrics.splitlines() if m.startswith("logenrich_records_total{"))
    assert float(line.rsplit(" ", 1)[1]) == 200.0


def test_refuses_to_start_on_a_broken_table(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(FIXTURES / "rules" / "broken", broken)
    with (
        pytest.raises(AssertionError, match="duplicate rule id"),
        running_server("--rules", str(broken), tmp_path=tmp_path, startup=10),
    ):
        pass


def test_the_service_caps_malloc_arenas_unless_told_otherwise() -> None:
    script = "from app.memory import limit_malloc_arenas; print(limit_malloc_arenas())"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    capped = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert capped.stdout.strip() == "True"  # glibc (Debian)
    env["MALLOC_ARENA_MAX"] = "4"
    told = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert told.stdout.strip() == "False"
