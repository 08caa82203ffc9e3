"""Engine throughput on real lines: match + enrich, and decode -> enrich -> encode, in process.

Records are the lines of tests/data/corpus.jsonl cycled into Vector-shaped records. Prints records/s per core and MiB/s, and
checks its own output: every record comes back, in order, with an enrichment.

    .venv/bin/python -m benchmarks.engine [--records 1000] [--rounds 7]
"""

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from app.catalog import rule_paths
from app.check import load_table
from app.codecs import Limits
from app.enrich import Enricher, EnrichOptions
from app.pipeline import Processed, process_body

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "corpus.jsonl"


def real_lines() -> list[str]:
    return [orjson.loads(line)["line"] for line in CORPUS.read_bytes().splitlines() if line.strip()]


def vector_batch(lines: list[str], size: int) -> list[dict[str, Any]]:
    """Records shaped like Vector's kubernetes_logs source output."""
    return [
        {
            "message": lines[i % len(lines)],
            "timestamp": f"2026-11-28T12:00:{i % 60:02d}.{i % 1000:03d}Z",
            "source_type": "kubernetes_logs",
            "stream": "stderr",
            "kubernetes": {
                "pod_name": "hub-5d9c7f6b8-x2x7q",
                "pod_namespace": "jhub",
                "container_name": "hub",
                "pod_labels": {"app": "jupyterhub", "component": "hub", "release": "jhub"},
            },
        }
        for i in range(size)
    ]


def best_rate(fn: Any, count: int, rounds: int) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return count / min(times), count / statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    table = load_table(rule_paths(None))
    enricher = Enricher(table, EnrichOptions())
    batch = vector_batch(real_lines(), args.records)
    body = orjson.dumps(batch)
    mib = len(body) / 2**20

    copies = [copy.deepcopy(batch) for _ in range(args.rounds)]

    def match_enrich() -> None:
        enricher.enrich_batch(copies.pop())

    limits = Limits()

    def pipeline() -> Processed:  # the service's own path: app.pipeline, codecs included
        return process_body(
            body,
            content_type="application/json",
            content_encoding=None,
            accept=None,
            accept_encoding=None,
            enricher=enricher,
            limits=limits,
        )

    def floor() -> None:
        orjson.dumps(orjson.loads(body))

    # self-check: count, order, enrichment present
    processed = pipeline()
    records, results = orjson.loads(processed.body), processed.results
    assert len(records) == len(batch) and len(results) == len(batch)
    assert all(r["message"] == b["message"] for r, b in zip(records, batch, strict=True))
    assert all("enrichment" in r for r in records)
    classified = sum(1 for r in results if r.outcome == "classified")

    best_me, med_me = best_rate(match_enrich, args.records, args.rounds)
    best_pl, med_pl = best_rate(pipeline, args.records, args.rounds)
    best_fl, med_fl = best_rate(floor, args.records, args.rounds)
    per_record = len(body) / args.records
    print(
        f"python {sys.version.split()[0]}, {len(table.rules)} rules, batch {args.records} records "
        f"({mib:.2f} MiB, {per_record:.0f} B/record), {classified / len(batch):.0%} classified"
    )
    print(f"{'stage':<34}{'best rec/s':>12}{'median rec/s':>14}{'MiB/s':>8}")
    for name, best, median in (
        ("orjson loads+dumps (floor)", best_fl, med_fl),
        ("match + enrich", best_me, med_me),
        ("decode -> enrich -> encode", best_pl, med_pl),
    ):
        print(f"{name:<34}{best:>12,.0f}{median:>14,.0f}{best * per_record / 2**20:>8.1f}")
    print(f"pipeline / floor: {best_pl / best_fl:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
