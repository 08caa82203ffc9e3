"""Relay mode under downstream faults and shutdown, against a real `logenrich serve`.

A shipper like Vector's http sink sends numbered batches and retries whatever it is told to
retry. Whatever the downstream does — answer slowly, 429, 500, hang up, close halfway through
its answer, go away and come back — the shipper gets a retryable answer, and every record ends
up delivered at least once. On SIGTERM, requests in flight finish and are delivered, new
connections are refused, and nothing is acknowledged that the downstream did not take."""

import itertools
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx
import orjson
import pytest

from tests.downstream import CUT, HANG_UP, Answer, Recorder, recording_downstream
from tests.server import Server, running_server

LINE = "[W 2022-03-10 17:25:19.774 JupyterHub base:1349] Failing suspected API request to not-running server: /u/{}"
RETRY = frozenset({408, 429, 503})


def batch(number: int, size: int) -> list[dict[str, object]]:
    return [{"message": LINE.format(i), "id": f"{number}-{i}"} for i in range(size)]


@dataclass
class Shipper:
    """Sends each batch until it is acknowledged, retrying as a shipper does."""

    url: str
    attempts: Counter[int] = field(default_factory=Counter)  # answers by status
    unreachable: int = 0
    missing_retry_after: int = 0
    acked: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, number: int, records: list[dict[str, object]], deadline: float) -> None:
        body = orjson.dumps(records)
        with httpx.Client(timeout=30) as client:
            while time.monotonic() < deadline:
                try:
                    response = client.post(
                        self.url, content=body, headers={"content-type": "application/json"}
                    )
                except httpx.TransportError:
                    with self.lock:
                        self.unreachable += 1
                    time.sleep(0.05)
                    continue
                with self.lock:
                    self.attempts[response.status_code] += 1
                if response.status_code == 200:
                    with self.lock:
                        self.acked.append(number)
                    return
                assert response.status_code in RETRY, (
                    f"batch {number} dropped: {response.status_code} {response.text}"
                )
                if "retry-after" not in response.headers:
                    with self.lock:
                        self.missing_retry_after += 1
                time.sleep(0.05)  # Retry-After, scaled down for the test
        raise AssertionError(f"batch {number} was never acknowledged")


def delivered_ids(downstream: Recorder) -> Counter[str]:
    return Counter(record["id"] for record in downstream.records())


@pytest.fixture
def faulty() -> Iterator[Recorder]:
    """A downstream that cycles through every fault, with a few normal answers in between."""
    faults: list[Answer | str] = [
        (429, b'{"error": "slow down"}', {"Retry-After": "2"}),
        None,
        "slow",
        (500, b'{"error": "internal"}'),
        HANG_UP,
        None,
        CUT,
        (503, b"unavailable"),
        None,
    ]
    cycle = itertools.cycle(faults)
    lock = threading.Lock()

    def behaviour(path: str, body: bytes) -> Answer:
        with lock:
            fault = next(cycle)
        if fault == "slow":  # past the forward timeout, then it keeps the batch anyway
            time.sleep(1.2)
            return None
        return fault

    with recording_downstream(behaviour) as recorder:
        yield recorder


def test_every_fault_is_retryable_and_every_record_arrives(tmp_path: Path, faulty: Recorder) -> None:
    args = ("--forward-url", faulty.url, "--forward-timeout", "0.5", "--reload-interval", "0")
    batches = {n: batch(n, 40) for n in range(60)}
    stop_flapping = threading.Event()

    def flap() -> None:  # the downstream goes away and comes back, over and over
        while not stop_flapping.wait(0.4):
            faulty.stop()
            time.sleep(0.25)
            faulty.start()

    with running_server(*args, tmp_path=tmp_path) as server:
        shipper = Shipper(server.url + "/v1/forward")
        flapper = threading.Thread(target=flap)
        flapper.start()
        deadline = time.monotonic() + 90
        try:
            with ThreadPoolExecutor(4) as pool:
                for future in [
                    pool.submit(shipper.send, n, records, deadline) for n, records in batches.items()
                ]:
                    future.result()
        finally:
            stop_flapping.set()
            flapper.join()
        metrics = httpx.get(server.url + "/metrics").text

    assert sorted(shipper.acked) == list(batches)
    delivered = delivered_ids(faulty)
    expected = {r["id"] for records in batches.values() for r in records}
    assert set(delivered) == expected  # at least once: nothing lost
    assert not set(shipper.attempts) - RETRY - {200}  # only 200 and retryable answers, never a 5xx but 503
    assert shipper.attempts[503] >= len(batches) // 2  # the faults did happen
    assert shipper.missing_retry_after == 0
    assert shipper.unreachable == 0  # the service itself stayed up throughout
    assert 'outcome="retryable"' in metrics


def test_the_answers_name_each_fault(tmp_path: Path, faulty: Recorder) -> None:
    args = ("--forward-url", faulty.url, "--forward-timeout", "0.5", "--reload-interval", "0")
    body = orjson.dumps(batch(0, 3))
    with running_server(*args, tmp_path=tmp_path) as server:
        answers = [
            httpx.post(server.url + "/v1/forward", content=body, headers={"content-type": "application/json"})
            for _ in range(9)
        ]
    statuses = [a.status_code for a in answers]
    details = [a.json()["detail"] if a.status_code != 200 else "ok" for a in answers]
    assert statuses == [503, 200, 503, 503, 503, 200, 503, 503, 200], details
    assert answers[0].headers["retry-after"] == "2"  # the downstream's own Retry-After is passed on
    assert "answered 429" in details[0]
    assert "timed out" in details[2]
    assert "answered 500" in details[3]
    assert "unreachable" in details[4]  # a hang-up without an answer
    assert "unreachable" in details[6]  # an answer cut off halfway
    assert all("retry-after" in a.headers for a in answers if a.status_code == 503)


def _in_flight_then_sigterm(
    server: Server, slow: Recorder, count: int
) -> tuple[list[httpx.Response], Exception]:
    def post(n: int) -> httpx.Response:
        return httpx.post(
            server.url + "/v1/forward",
            content=orjson.dumps(batch(n, 25)),
            headers={"content-type": "application/json"},
            timeout=30,
        )

    with ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(post, n) for n in range(count)]
        deadline = time.monotonic() + 10
        while slow.requests < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert slow.requests == count, "the batches did not reach the downstream"
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        try:
            late = httpx.post(server.url + "/v1/forward", content=b"[]", timeout=5)
            refusal: Exception = AssertionError(
                f"a new request was served during shutdown: {late.status_code}"
            )
        except httpx.ConnectError as exc:
            refusal = exc
        return [f.result() for f in futures], refusal


def test_sigterm_finishes_what_is_in_flight(tmp_path: Path) -> None:
    def slow(path: str, body: bytes) -> Answer:
        time.sleep(1.5)  # every batch is still in flight when the signal comes
        return None

    with recording_downstream(slow) as downstream:
        args = ("--forward-url", downstream.url, "--reload-interval", "0")
        with running_server(*args, tmp_path=tmp_path) as server:
            answers, refusal = _in_flight_then_sigterm(server, downstream, 6)
            # a clean exit; uvicorn ends by re-raising the signal it handled
            assert server.process.wait(timeout=20) in (0, -signal.SIGTERM), server.output()
    assert isinstance(refusal, httpx.ConnectError), refusal  # refused cleanly, not half-served
    assert [a.status_code for a in answers] == [200] * 6
    acked = {f"{n}-{i}" for n in range(6) for i in range(25)}
    assert set(delivered_ids(downstream)) == acked  # every acknowledged record was delivered
    assert "Application shutdown complete" in server.output()
