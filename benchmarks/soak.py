"""Soak and overload: a real `logenrich serve` held near its capacity for a long time, then pushed
past it. Loopback only; every phase is bounded in time.

    .venv/bin/python -m benchmarks.soak [--duration 600] [--load 0.8] [--overload-seconds 10]

1. capacity: a closed loop of two clients over the request mix, records/s;
2. soak: --duration seconds at --load times that capacity, open loop (requests leave on a fixed
   schedule whether or not the last one has come back), a mix of framings (JSON array, NDJSON,
   msgpack as Fluent Bit sends it, raw text) and encodings (identity, gzip, zstd; gzip answers).
   Every answer is checked record by record: count, order and ids kept, every record enriched or
   passed through. Resident memory is sampled every second;
3. overload: wrk with far more connections than the service admits at once (--max-pending):
   every answer must be 200 or 503 with Retry-After — no timeouts, no dropped connections;
4. recovery: the mix again, as a shipper sends it (503s retried after Retry-After), every
   batch answered 200 in full.

Prints the figures, then one JSON line, and exits non-zero if any check fails: an error or a
lost record, resident memory growing more than 5% after the warm-up, latency drifting (the
typical window p99 of the last third of the soak more than 1.5 times that of the first third,
plus 25 ms; the median in a run too short for a p99), or a bad answer under overload.
Needs Debian's wrk for the overload phase.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import msgpack
import orjson

from app.codecs import compress
from benchmarks.common import real_lines, vector_batch
from benchmarks.service import POST_BATCH_LUA
from tests.payloads import decode_response
from tests.server import free_port, rss_kib

RSS_TARGET_MIB = 120  # per worker, with the built-in table
GROWTH_JUDGED_FROM_S = 300  # shorter runs report memory growth without judging it (warm-up takes ~60 s)

ROOT = Path(__file__).resolve().parent.parent
RECORDS = 1000
OVERLOAD_LUA = (
    POST_BATCH_LUA
    + """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; shed = 0; bad = 0; no_retry_after = 0 end
function response(status, headers, body)
  if status == 200 then ok = ok + 1
  elseif status == 503 or status == 429 then
    shed = shed + 1
    if headers["retry-after"] == nil and headers["Retry-After"] == nil then no_retry_after = no_retry_after + 1 end
  else bad = bad + 1 end
end
function done(summary, latency, requests)
  local t = {ok = 0, shed = 0, bad = 0, no_retry_after = 0}
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + thread:get(k) end
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"ok":%d,"shed":%d,"bad":%d,"no_retry_after":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p99_ms":%.1f}\\n',
    t.ok, t.shed, t.bad, t.no_retry_after, e.connect, e.read, e.write, e.timeout, latency:percentile(99) / 1000))
end
"""
)


@dataclass(frozen=True)
class Payload:
    name: str
    body: bytes
    headers: dict[str, str]
    ids: list[str] | None  # None: raw text, records carry no id of their own
    count: int


def payloads(lines: list[str]) -> list[Payload]:
    """The request mix: each framing and encoding a shipper uses, RECORDS records each."""
    records = vector_batch(lines, RECORDS)
    for i, record in enumerate(records):
        record["id"] = f"r{i}"
    ids = [r["id"] for r in records]
    array = orjson.dumps(records)
    ndjson = b"".join(orjson.dumps(r) + b"\n" for r in records)
    events = b"".join(msgpack.packb([[1_764_331_200, {}], r]) for r in records)  # Fluent Bit framing
    text = "\n".join(line.replace("\n", " ") for line in (lines * 2)[:RECORDS]).encode()
    json_h = {"content-type": "application/json"}
    return [
        Payload("json", array, json_h, ids, RECORDS),
        Payload("json+gzip", compress(array, "gzip"), {**json_h, "content-encoding": "gzip"}, ids, RECORDS),
        Payload("ndjson+zstd", compress(ndjson, "zstd"), {"content-type": "application/x-ndjson", "content-encoding": "zstd"}, ids, RECORDS),
        Payload("msgpack", events, {"content-type": "application/msgpack"}, ids, RECORDS),
        Payload("ndjson", ndjson, {"content-type": "application/x-ndjson", "accept-encoding": "gzip"}, ids, RECORDS),
        Payload("text", text, {"content-type": "text/plain"}, None, RECORDS),
    ]  # fmt: skip


def check_answer(payload: Payload, response: httpx.Response) -> str | None:
    """None when the answer holds every record, in order, each enriched or passed through."""
    if response.status_code != 200:
        return f"{payload.name}: {response.status_code} {response.text[:200]}"
    try:  # the client undoes the answer's Content-Encoding
        items = decode_response(response.content, response.headers.get("content-type", ""))
    except AssertionError as exc:
        return f"{payload.name}: {exc}"
    # Fluent Bit's msgpack events are [[time, metadata], record]
    records = [item[1] if isinstance(item, list) and len(item) == 2 else item for item in items]
    if len(records) != payload.count:
        return f"{payload.name}: {len(records)} records back of {payload.count}"
    if payload.ids is not None and [r.get("id") for r in records] != payload.ids:
        return f"{payload.name}: records out of order or changed"
    if not all(isinstance(r, dict) and "message" in r for r in records):
        return f"{payload.name}: a record lost its message"
    return None


@dataclass
class Tally:
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (sent at, seconds)
    errors: list[str] = field(default_factory=list)
    records: int = 0
    retried: int = 0  # 503s retried after their Retry-After
    lock: threading.Lock = field(default_factory=threading.Lock)


def send(client: httpx.Client, url: str, payload: Payload, tally: Tally, retry_until: float = 0.0) -> None:
    """One batch, checked; until `retry_until` (monotonic) a 503 is retried after its Retry-After,
    as a shipper does."""
    started = time.monotonic()
    try:
        response = client.post(url, content=payload.body, headers=payload.headers)
        while response.status_code == 503 and time.monotonic() < retry_until:
            with tally.lock:
                tally.retried += 1
            time.sleep(int(response.headers.get("retry-after", "1")))
            response = client.post(url, content=payload.body, headers=payload.headers)
        problem = check_answer(payload, response)
    except (httpx.TransportError, ValueError) as exc:  # no answer, or one that cannot be read
        problem = f"{payload.name}: {type(exc).__name__} {exc}"
    elapsed = time.monotonic() - started
    with tally.lock:
        if problem:
            tally.errors.append(problem)
        else:
            tally.records += payload.count
            tally.latencies.append((started, elapsed))


def closed_loop(url: str, mix: list[Payload], seconds: float, clients: int) -> Tally:
    tally = Tally()
    stop = time.monotonic() + seconds

    def run(offset: int) -> None:
        with httpx.Client(timeout=60) as client:
            n = offset
            while time.monotonic() < stop:
                send(client, url, mix[n % len(mix)], tally)
                n += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally


def open_loop(url: str, mix: list[Payload], seconds: float, rate: float, clients: int = 6) -> Tally:
    """Requests leave on a fixed schedule (rate per second) from a small pool of clients."""
    tally = Tally()
    start = time.monotonic()
    total = int(seconds * rate)
    next_index = 0
    lock = threading.Lock()

    def run() -> None:
        nonlocal next_index
        with httpx.Client(timeout=60) as client:
            while True:
                with lock:
                    n = next_index
                    next_index += 1
                if n >= total:
                    return
                delay = start + n / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                send(client, url, mix[n % len(mix)], tally)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally


def sample_rss(pid: int, stop: threading.Event, into: list[tuple[float, int]]) -> None:
    while not stop.wait(1.0):
        into.append((time.monotonic(), rss_kib(pid)))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def overload(url: str, body: bytes, seconds: int, connections: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="logenrich-soak-"))
    try:
        (tmp / "batch.json").write_bytes(body)
        (tmp / "overload.lua").write_text(OVERLOAD_LUA)
        done = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(tmp / "overload.lua"), url],
            capture_output=True, text=True, timeout=seconds + 60, check=True,
            env={**os.environ, "BATCH_FILE": str(tmp / "batch.json")},
        )  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=600, help="seconds of steady load")
    parser.add_argument("--load", type=float, default=0.8, help="fraction of the measured capacity")
    parser.add_argument("--overload-seconds", type=int, default=10)
    parser.add_argument("--overload-connections", type=int, default=256)
    parser.add_argument("--max-pending", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)")
        return 1
    mix = payloads(real_lines())
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/enrich"
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--reload-interval", "0",
               "--no-access-log", "--log-level", "warning", "--max-pending", str(args.max_pending)]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    failures: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url.replace("/v1/enrich", "/healthz"), timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)

        # 1. capacity over the mix
        capacity_tally = closed_loop(url, mix, max(5.0, min(15.0, args.duration / 10)), clients=2)
        failures += capacity_tally.errors
        span = max(s + e for s, e in capacity_tally.latencies) - min(s for s, _ in capacity_tally.latencies)
        capacity = len(capacity_tally.latencies) / span  # requests/s
        rate = capacity * args.load
        print(
            f"capacity over the mix: {capacity:.1f} requests/s = {capacity * RECORDS:,.0f} records/s (2 clients)"
        )
        print(
            f"soak: {args.duration:.0f} s at {rate:.1f} requests/s ({args.load:.0%}), mix: {', '.join(p.name for p in mix)}"
        )

        # 2. soak
        rss: list[tuple[float, int]] = []
        stop = threading.Event()
        sampler = threading.Thread(target=sample_rss, args=(server.pid, stop, rss))
        sampler.start()
        soak_start = time.monotonic()
        tally = open_loop(url, mix, args.duration, rate)
        stop.set()
        sampler.join()
        failures += tally.errors
        expected = int(args.duration * rate) * RECORDS
        lost = expected - tally.records
        warmup = soak_start + min(max(10.0, args.duration * 0.2), args.duration * 0.5)
        settled = [kib for t, kib in rss if t >= warmup]
        base = statistics.median(settled[: max(1, len(settled) // 10)])
        end = statistics.median(settled[-max(1, len(settled) // 10) :])
        growth = (end - base) / base
        after = [(s, e) for s, e in tally.latencies if s >= warmup]
        windows = 5 if args.duration < 300 else 10
        width = (soak_start + args.duration - warmup) / windows
        per_window = [
            [e * 1000 for s, e in after if warmup + w * width <= s < warmup + (w + 1) * width]
            for w in range(windows)
        ]
        per_window = [w for w in per_window if w]
        print(
            f"answers: {len(tally.latencies)} ok, {len(tally.errors)} errors; records {tally.records:,} of {expected:,} sent, lost {lost}"
        )
        print(f"resident memory after warm-up: {base / 1024:.1f} MiB -> {end / 1024:.1f} MiB ({growth:+.1%})")
        verdict = "met" if end / 1024 <= RSS_TARGET_MIB else "missed"
        print(f"resident memory target <= {RSS_TARGET_MIB} MiB per worker: {verdict}")
        step = max(1, len(settled) // windows)
        print(
            "resident memory by window (MiB): "
            + " ".join(
                f"{statistics.median(settled[i : i + step]) / 1024:.1f}" for i in range(0, len(settled), step)
            )
        )
        print(
            "latency by window (ms):  "
            + "  ".join(f"p50 {percentile(w, 0.5):.0f} / p99 {percentile(w, 0.99):.0f}" for w in per_window)
        )
        all_ms = [e * 1000 for _, e in after]
        p50, p99 = percentile(all_ms, 0.5), percentile(all_ms, 0.99)
        # drift: the typical window of the last third against that of the first third, so that a
        # passing burst is reported (worst window) but a steady climb is what fails the run
        judged, q = ("p99", 0.99) if min(map(len, per_window)) >= 100 else ("p50", 0.5)
        by_window = [percentile(w, q) for w in per_window]
        third = max(1, len(by_window) // 3)
        first_q, last_q = statistics.median(by_window[:third]), statistics.median(by_window[-third:])
        worst = max(percentile(w, 0.99) for w in per_window)
        print(f"drift ({judged} by window, first third -> last third): {first_q:.0f} ms -> {last_q:.0f} ms; "
              f"worst window p99 {worst:.0f} ms")  # fmt: skip
        if lost:
            failures.append(f"{lost} records lost")
        # growth is judged on runs long enough to tell a leak from the allocator settling in:
        # in a short run the settled window is seconds after warm-up, and arenas still fill
        if args.duration >= GROWTH_JUDGED_FROM_S and growth > 0.05:
            failures.append(f"resident memory grew {growth:.1%} after warm-up")
        elif args.duration < GROWTH_JUDGED_FROM_S:
            print(f"resident memory growth not judged: the run is shorter than {GROWTH_JUDGED_FROM_S} s")
        if last_q > 1.5 * first_q + 25:
            failures.append(f"{judged} drifted from {first_q:.0f} ms to {last_q:.0f} ms")

        # 3. overload
        shed = overload(url, mix[0].body, args.overload_seconds, args.overload_connections)
        print(f"overload, {args.overload_connections} connections for {args.overload_seconds} s: {shed['ok']} answered 200, "
              f"{shed['shed']} shed with 503, {shed['bad']} other answers, {shed['no_retry_after']} without Retry-After, "
              f"socket errors connect {shed['connect']} read {shed['read']} write {shed['write']} timeout {shed['timeout']}, p99 {shed['p99_ms']:.0f} ms")  # fmt: skip
        if (
            shed["bad"]
            or shed["no_retry_after"]
            or shed["connect"]
            or shed["read"]
            or shed["write"]
            or shed["timeout"]
        ):
            failures.append(
                "overload gave answers other than 200 / 503 with Retry-After, or dropped connections"
            )
        if not shed["shed"]:
            failures.append("overload shed nothing: raise --overload-connections")

        # 4. recovery: while the backlog wrk left drains, 503s are expected; a shipper retries
        #    them after Retry-After, so does this. Then every payload of the mix is answered in full.
        recovery = Tally()
        recovery_start = time.monotonic()
        with httpx.Client(timeout=120) as client:
            for payload in mix * 2:
                send(client, url, payload, recovery, retry_until=recovery_start + 60)
        failures += recovery.errors
        print(f"recovery: {len(recovery.latencies)} of {len(mix) * 2} answers ok after {recovery.retried} retried 503s, "
              f"{len(recovery.errors)} errors, {time.monotonic() - recovery_start:.1f} s")  # fmt: skip
        if server.poll() is not None:
            failures.append(f"the server exited with {server.returncode}")
        summary = {
            "capacity_records_s": round(capacity * RECORDS),
            "rate_records_s": round(rate * RECORDS),
            "duration_s": args.duration,
            "requests": len(tally.latencies) + len(tally.errors),
            "errors": len(tally.errors),
            "records_lost": lost,
            "p50_ms": round(p50, 1),
            "p99_ms": round(p99, 1),
            f"{judged}_first_third_ms": round(first_q, 1),
            f"{judged}_last_third_ms": round(last_q, 1),
            "p99_worst_window_ms": round(worst, 1),
            "rss_growth": round(growth, 4),
            "rss_mib": round(end / 1024, 1),
            "overload": shed,
            "recovery_errors": len(recovery.errors),
            "recovery_retried_503": recovery.retried,
            "failures": failures[:20],
        }
        print(json.dumps(summary))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    for failure in failures[:20]:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
