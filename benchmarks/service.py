"""/v1/enrich against an echo server on the same stack, side by side: same batches, same load
generator (wrk, pinned to its own core with taskset, servers on the other), alternating rounds,
medians. Prints records/s, MiB/s and latency percentiles, and checks the answers.

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

from benchmarks.engine import real_lines, vector_batch
from tests.server import free_port

ROOT = Path(__file__).resolve().parent.parent
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open(os.getenv("BATCH_FILE"), "rb")
wrk.body = f:read("*a")
f:close()
"""


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
    return {
        "rps": rps,
        "p50": pct("50"),
        "p99": pct("99"),
        "errors": float(errors.group(1)) if errors else 0.0,
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
    servers = {
        "echo": (start([python, "-m", "uvicorn", "benchmarks.echo_app:app", "--port", str(echo_port), "--log-level", "warning", "--no-access-log"], echo_port, "0"), f"http://127.0.0.1:{echo_port}/v1/enrich"),
        "enrich": (start([python, "-m", "app.cli", "serve", "--port", str(enrich_port), "--reload-interval", "0", "--no-access-log", "--log-level", "warning"], enrich_port, "0"), f"http://127.0.0.1:{enrich_port}/v1/enrich"),
    }  # fmt: skip
    try:
        answer = httpx.post(servers["enrich"][1], content=batch, timeout=30)
        records = answer.json()
        assert (
            answer.status_code == 200
            and len(records) == args.records
            and all("enrichment" in r for r in records)
        )
        results: dict[str, dict[str, list[float]]] = {
            name: {"rps": [], "p50": [], "p99": [], "errors": []} for name in servers
        }
        half: dict[str, list[float]] = {name: [] for name in servers}
        for _ in range(args.rounds):
            for name, (_, url) in servers.items():
                full = wrk(url, args.seconds, 4, env, str(tmp / "post.lua"), "1")
                for key, value in full.items():
                    results[name][key].append(value)
                half[name].append(wrk(url, args.seconds, 1, env, str(tmp / "post.lua"), "1")["p99"])
        mib = len(batch) / 2**20
        print(f"{args.records}-record batches ({mib:.2f} MiB), one server process on core 0, wrk on core 1")
        print(
            f"{'server':<10}{'req/s':>8}{'records/s':>12}{'MiB/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'p99 1 conn':>12}"
        )
        med = {name: {k: statistics.median(v) for k, v in r.items()} for name, r in results.items()}
        for name in servers:
            m = med[name]
            print(f"{name:<10}{m['rps']:>8.1f}{m['rps'] * args.records:>12,.0f}{m['rps'] * mib:>8.1f}{m['p50']:>9.1f}"
                  f"{m['p99']:>9.1f}{statistics.median(half[name]):>12.1f}")  # fmt: skip
        print(f"enrich / echo: {med['enrich']['rps'] / med['echo']['rps']:.2f}x")
        assert med["enrich"]["errors"] == 0, "non-2xx answers under load"
        print(json.dumps({"ratio": round(med["enrich"]["rps"] / med["echo"]["rps"], 3)}))
    finally:
        for process, _ in servers.values():
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
