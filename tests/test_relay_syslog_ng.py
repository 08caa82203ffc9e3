"""End to end in relay mode: syslog-ng tails a JupyterHub log → `logenrich serve` /v1/forward →
a loopback downstream that answers 503 for a while, then refuses connections, then accepts.
Every line must arrive enriched, at least once, and nothing the downstream accepted is lost."""

import time
from collections import Counter
from pathlib import Path

import httpx2 as httpx

from tests.downstream import recording_downstream
from tests.server import running_server
from tests.syslog_ng import SYSLOG_NG, hub_log, requires_syslog_ng, start_syslog_ng

pytestmark = requires_syslog_ng


def test_at_least_once_through_failures(tmp_path: Path) -> None:
    assert SYSLOG_NG is not None, "syslog-ng must be installed in CI"
    log = tmp_path / "jupyterhub.log"
    records = hub_log(log, copies=20)
    phase = {"mode": "fail"}
    failed_batches = Counter[str]()

    def behaviour(path: str, body: bytes) -> tuple[int, bytes] | None:
        if phase["mode"] == "fail":
            failed_batches["503"] += 1
            return 503, b'{"error": "warming up"}'
        return None

    with recording_downstream(behaviour) as downstream:
        server_args = ("--forward-url", downstream.url + "/ingest", "--forward-format", "ndjson")
        with running_server(
            *server_args, "--reload-interval", "0", "--probe-interval", "0.2", tmp_path=tmp_path
        ) as server:
            shipper, out = start_syslog_ng(tmp_path, log, server.url + "/v1/forward")
            try:
                # 1) the downstream answers 503 until syslog-ng has been refused a few times
                deadline = time.monotonic() + 30
                while failed_batches["503"] < 3 and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert failed_batches["503"] >= 3, out.read_text()
                # 2) the downstream goes away: connections are refused
                downstream.stop()
                time.sleep(2)
                ready = httpx.get(server.url + "/readyz")  # ready: another pod would not help
                assert ready.status_code == 200 and ready.json()["downstreams"]["default"] is not None
                # 3) it comes back and accepts
                phase["mode"] = "accept"
                downstream.start()
                deadline = time.monotonic() + 90
                while len(downstream.records()) < len(records) and time.monotonic() < deadline:
                    if shipper.poll() is not None:
                        raise AssertionError(f"syslog-ng exited:\n{out.read_text()}")
                    time.sleep(0.2)
                time.sleep(1)
                metrics = httpx.get(server.url + "/metrics").text
            finally:
                shipper.terminate()
                shipper.wait(timeout=20)
    delivered = downstream.records()
    messages = Counter(record["message"] for record in delivered)
    expected = Counter(records)
    lost = expected - messages
    assert not lost, f"lost {sum(lost.values())} of {len(records)} records"
    # the downstream accepted each record once: 503s and refusals were retried, never double-delivered
    assert messages == expected
    assert all("enrichment" in record for record in delivered)
    assert 'logenrich_forward_requests_total{downstream="default",outcome="retryable"}' in metrics
    assert 'logenrich_forward_requests_total{downstream="default",outcome="ok"}' in metrics
