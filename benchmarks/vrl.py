"""The exported VRL program in Vector's own VRL runtime (vector-vrl): events/s of the gated
program (each regex behind `contains` / `starts_with` checks on its literals) against a plain
if-chain of the same rules, on the dev corpus mix. Checks its own output: every event comes back
with an enrichment, and both programs agree.

    .venv/bin/python -m benchmarks.vrl [--events 2000] [--repeats 9]

vector-vrl compiles the program on every call (~12 s for this table) and moves events through
JSON; the per-event cost is the difference between one call that runs the events several times
and one that runs them once, which cancels both. It stops with "too noisy" when that difference
is not well above the compile's own variation.
"""

import argparse
import json
import sys
import time

import vector_vrl

from app.catalog import rule_paths
from app.check import load_table
from app.export_vrl import export_vrl
from benchmarks.common import real_lines


def per_event(program: str, events: list[str], repeats: int) -> tuple[float, list[dict[str, object]]]:
    """Seconds per event: a run that repeats the events `repeats` times, less one that runs them
    once (the compile and the JSON set-up, timed twice, best kept). The difference must be well
    above the noise of the compile, or the figure would mean nothing."""
    once = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        out = vector_vrl.execute_vrl(program, events)
        once = min(once, time.perf_counter() - start)
    repeated = vector_vrl.get_vrl_performance(program, events, iterations=repeats)["processing_time_seconds"]
    work = repeated - once
    if work < 0.25 * once:
        raise SystemExit(
            f"too noisy: {repeats} runs of the events took {repeated:.1f} s against {once:.1f} s for one; "
            "rerun on a quieter machine"
        )
    return work / ((repeats - 1) * len(events)), out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=9, help="runs of the events in the timed call")
    args = parser.parse_args()
    table = load_table(rule_paths(None))
    lines = real_lines()
    events = [json.dumps({"message": lines[i % len(lines)]}) for i in range(args.events)]
    gated, plain = export_vrl(table), export_vrl(table, gated=False)
    gated_cost, gated_out = per_event(gated, events, args.repeats)
    plain_cost, plain_out = per_event(plain, events, args.repeats)
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
