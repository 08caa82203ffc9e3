"""The exported VRL program in Vector's own VRL runtime (vector-vrl): events/s of the gated
program (each regex behind `contains` / `starts_with` checks on its literals) against a plain
if-chain of the same rules, on the dev corpus mix. Checks its own output: every event comes back
with an enrichment, and both programs agree.

    .venv/bin/python -m benchmarks.vrl [--events 2000]

vector-vrl compiles the program on every call and moves events through JSON; the per-event cost
is the difference between a run of 2N and of N events, which cancels both.
"""

import argparse
import json
import sys
import time

import vector_vrl

from app.check import load_table, rule_paths
from app.export_vrl import export_vrl
from benchmarks.engine import real_lines


def per_event(program: str, events: list[str]) -> tuple[float, list[dict[str, object]]]:
    half = events[: len(events) // 2]
    best_half = best_full = float("inf")
    out: list[dict[str, object]] = []
    for _ in range(3):
        start = time.perf_counter()
        vector_vrl.execute_vrl(program, half)
        best_half = min(best_half, time.perf_counter() - start)
        start = time.perf_counter()
        out = vector_vrl.execute_vrl(program, events)
        best_full = min(best_full, time.perf_counter() - start)
    return (best_full - best_half) / (len(events) - len(half)), out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    table = load_table(rule_paths(None))
    lines = real_lines()
    events = [json.dumps({"message": lines[i % len(lines)]}) for i in range(args.events)]
    gated, plain = export_vrl(table), export_vrl(table, gated=False)
    gated_cost, gated_out = per_event(gated, events)
    plain_cost, plain_out = per_event(plain, events)
    assert all("enrichment" in e for e in gated_out), "an event came back without enrichment"
    assert [e["enrichment"] for e in gated_out] == [e["enrichment"] for e in plain_out], (
        "the programs disagree"
    )
    print(f"{len(table.rules)} rules, {args.events} events of the dev corpus mix, one core")
    print(f"{'program':<36}{'events/s':>12}{'us/event':>10}")
    print(f"{'gated (as exported)':<36}{1 / gated_cost:>12,.0f}{gated_cost * 1e6:>10.1f}")
    print(f"{'plain if-chain of parse_regex':<36}{1 / plain_cost:>12,.0f}{plain_cost * 1e6:>10.1f}")
    print(f"gated / plain: {plain_cost / gated_cost:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
