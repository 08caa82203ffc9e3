"""`logenrich enrich` on a large NDJSON file against a plain orjson loop over the same file.

The file: Vector-shaped records (benchmarks.common.vector_batch) from the corpus's lines. The
loop reads each line, decodes it, adds a constant object, encodes it and writes it: the least a
Python program that enriches records must do. Both run as fresh processes writing to /dev/null,
taking turns, best of --rounds; the CLI's time includes its start-up (imports, loading and
checking the table), shown on its own from a one-record file.

Checks the CLI's output once: every record back, in order, each with an enrichment.

    .venv/bin/python -m benchmarks.cli [--records 300000] [--rounds 3]
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from benchmarks.common import real_lines, vector_batch

TARGET = 0.5
LOOP = """
import sys, orjson
extra = {"classification": "jupyterhub.proxy.not-running-server", "severity": "info", "category": "benign"}
with open(sys.argv[1], "rb") as source, open(sys.argv[2], "wb") as out:
    for line in source:
        record = orjson.loads(line)
        record["enrichment"] = extra
        out.write(orjson.dumps(record) + b"\\n")
"""


def cli_command(path: Path) -> list[str]:
    return [sys.executable, "-m", "app.cli", "enrich", str(path)]


def seconds(command: list[str], stdout: int | None = subprocess.DEVNULL) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=stdout, stderr=subprocess.DEVNULL, timeout=600)
    return time.perf_counter() - start


def check_output(path: Path, out: Path, count: int) -> None:
    with out.open("wb") as sink:
        subprocess.run(cli_command(path), check=True, stdout=sink, stderr=subprocess.DEVNULL, timeout=600)
    sent = path.read_bytes().splitlines()
    back = out.read_bytes().splitlines()
    assert len(back) == count == len(sent), f"{len(back)} records back, {count} sent"
    for got, line in zip(back, sent, strict=True):
        record, original = orjson.loads(got), orjson.loads(line)
        assert record["message"] == original["message"] and "classification" in record["enrichment"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="logenrich-cli-") as tmp:
        path, one, out = Path(tmp) / "records.ndjson", Path(tmp) / "one.ndjson", Path(tmp) / "out.ndjson"
        records = vector_batch(real_lines(), args.records)
        path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
        one.write_bytes(orjson.dumps(records[0]) + b"\n")
        check_output(path, out, args.records)
        loop = [sys.executable, "-c", LOOP, str(path), "/dev/null"]
        cli, floor, startup = float("inf"), float("inf"), float("inf")
        for _ in range(args.rounds):
            cli = min(cli, seconds(cli_command(path)))
            floor = min(floor, seconds(loop))
            startup = min(startup, seconds(cli_command(one)))
        size = path.stat().st_size / 2**20
    print(f"{args.records:,} records ({size:.0f} MiB NDJSON), best of {args.rounds}")
    print(
        f"logenrich enrich  {cli:6.2f} s  {args.records / cli:>10,.0f} records/s  (start-up {startup:.2f} s)"
    )
    print(f"orjson loop       {floor:6.2f} s  {args.records / floor:>10,.0f} records/s")
    ratio = floor / cli
    print(f"enrich / loop: {ratio:.2f}x (target >= {TARGET}x: {'met' if ratio >= TARGET else 'missed'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
