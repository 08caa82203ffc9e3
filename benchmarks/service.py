"""/v1/enrich against an echo server on the same stack, side by side: same batches, same load
generator (wrk, pinned to its own core with taskset, servers on the other), alternating rounds,
medians. Prints records/s, MiB/s and latency percentiles at full load (4 connections) and at half
of each server's own capacity (2 connections paced by wrk's delay() to half the full-load rate),
then the same for `serve --workers 2` (both cores, so wrk shares one with it). Checks the
answers and that no run had an error.

    .venv/bin/python -m benchmarks.service [--rounds 3] [--seconds 8] [--records 1000]

Needs Debian's wrk (apt-get install wrk). Loopback only; every run is bounded in time.
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx
import orjson

from benchmarks.common import real_lines, vector_batch
from tests.server import free_port

ROOT = Path(__file__).resolve().parent.parent
# wrk posts the batch in the file $BATCH_FILE (the soak benchmark builds on this too)
POST_BATCH_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open(os.getenv("BATCH_FILE"), "rb")
wrk.body = f:read("*a")
f:close()
"""
LUA = (
    POST_BATCH_LUA
    + """
local pause = tonumber(os.getenv("DELAY_MS") or "0")
function delay() return pause end
"""
)


def start(command: list[str], port: int, core: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        ["taskset", "-c", core, *command], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.post(f"http://127.0.0.1:{port}/v1/enrich", content=b"[]", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server on {port} did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=20)


def wrk(
    url: str, seconds: int, connections: int, env: dict[str, str], script: str, core: str
) -> dict[str, float]:
    done = subprocess.run(
        [
            "taskset",
            "-c",
            core,
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            script,
            url,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=seconds + 30,
        check=True,
    )
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(name: str) -> float:
        m = re.search(rf"{name}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors_socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": rps,
        "socket_errors": float(sum(map(int, errors_socket.groups()))) if errors_socket else 0.0,
        "p50": pct("50"),
        "p99": pct("99"),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def check(url: str, batch: bytes, count: int) -> None:
    answer = httpx.post(url, content=batch, timeout=30)
    records = answer.json()
    assert answer.status_code == 200 and len(records) == count and all("enrichment" in r for r in records)


def measure(url: str, seconds: int, env: dict[str, str], script: str, core: str) -> dict[str, float]:
    """Full load (4 connections), then half of the rate that reached, paced by delay()."""
    full = wrk(url, seconds, 4, env, script, core)
    pause_ms = 2 * 2 * 1000 / full["rps"]  # 2 connections, each at a quarter of the full rate
    half = wrk(url, seconds, 2, {**env, "DELAY_MS": f"{pause_ms:.0f}"}, script, core)
    return {
        **full,
        "half_rps": half["rps"],
        "half_p50": half["p50"],
        "half_p99": half["p99"],
        "errors": full["errors"] + half["errors"],
        "socket_errors": full["socket_errors"] + half["socket_errors"],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--records", type=int, default=1000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)")
        return 1
    batch = orjson.dumps(vector_batch(real_lines(), args.records))
    tmp = Path(tempfile.mkdtemp(prefix="logenrich-bench-"))
    (tmp / "batch.json").write_bytes(batch)
    (tmp / "post.lua").write_text(LUA)
    env = {**os.environ, "BATCH_FILE": str(tmp / "batch.json")}
    python = sys.executable
    echo_port, enrich_port = free_port(), free_port()

    def serve(*extra: str) -> list[str]:
        return [
            python,
            "-m",
            "app.cli",
            "serve",
            "--port",
            str(enrich_port),
            "--reload-interval",
            "0",
            "--no-access-log",
            "--log-level",
            "warning",
            *extra,
        ]

    servers = {
        "echo": (start([python, "-m", "uvicorn", "benchmarks.echo_app:app", "--port", str(echo_port), "--log-level", "warning", "--no-access-log"], echo_port, "0"), f"http://127.0.0.1:{echo_port}/v1/enrich"),
        "enrich": (start(serve(), enrich_port, "0"), f"http://127.0.0.1:{enrich_port}/v1/enrich"),
    }  # fmt: skip
    script = str(tmp / "post.lua")
    try:
        results: dict[str, dict[str, list[float]]] = {}

        def one_round(name: str, url: str) -> None:
            for key, value in measure(url, args.seconds, env, script, "1").items():
                results.setdefault(name, {}).setdefault(key, []).append(value)

        check(servers["enrich"][1], batch, args.records)
        for _ in range(args.rounds):  # side by side: the two servers alternate
            for name, (_, url) in servers.items():
                one_round(name, url)
        # the same service with two worker processes over both cores (wrk shares core 1 with one)
        process, url = servers.pop("enrich")
        stop(process)
        servers["enrich --workers 2"] = (start(serve("--workers", "2"), enrich_port, "0,1"), url)
        check(url, batch, args.records)
        for _ in range(args.rounds):
            one_round("enrich --workers 2", url)
        mib = len(batch) / 2**20
        print(
            f"{args.records}-record batches ({mib:.2f} MiB); servers on core 0 (--workers 2: cores 0-1), wrk on core 1"
        )
        print(f"{'server':<20}{'req/s':>8}{'records/s':>12}{'MiB/s':>8}{'p50 ms':>9}{'p99 ms':>9}"
              f"{'half: req/s':>13}{'p50 ms':>9}{'p99 ms':>9}")  # fmt: skip
        med = {name: {k: statistics.median(v) for k, v in r.items()} for name, r in results.items()}
        for name, m in med.items():
            print(f"{name:<20}{m['rps']:>8.1f}{m['rps'] * args.records:>12,.0f}{m['rps'] * mib:>8.1f}{m['p50']:>9.1f}"
                  f"{m['p99']:>9.1f}{m['half_rps']:>13.1f}{m['half_p50']:>9.1f}{m['half_p99']:>9.1f}")  # fmt: skip
        ratio = med["enrich"]["rps"] / med["echo"]["rps"]
        ratio2 = med["enrich --workers 2"]["rps"] / med["echo"]["rps"]
        print(f"enrich / echo: {ratio:.2f}x; enrich --workers 2 / echo (one process): {ratio2:.2f}x")
        for name, m in med.items():
            assert m["errors"] == 0 and m["socket_errors"] == 0, f"{name}: errors under load"
            assert m["half_rps"] <= 0.6 * m["rps"], f"{name}: the half-load run was not at half load"
        print(json.dumps({"ratio": round(ratio, 3), "ratio_workers_2": round(ratio2, 3),
                          "p99_half_ms": med["enrich"]["half_p99"]}))  # fmt: skip
    finally:
        for process, _ in servers.values():
            stop(process)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
