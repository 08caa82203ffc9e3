"""Matching time per record grows linearly with message length, for every shipped rule.

For each rule and each of its examples, builds long lines in three shapes that stress a
backtracking matcher — the example repeated (its literals everywhere), the example with a long run
of one of its own characters in the middle, and the example followed by a long tail — at a small
and a large size. Times each rule's own pattern (and derivations) alone, then the whole enrichment
path with the byte cap lifted. Linear time means the large line costs about size-ratio times the
small one; the run fails when any rule exceeds `--slack` times that, or when a record costs more
than `--budget-us` microseconds per character. (The service caps the matched text at 16 KiB by
default, so a record's matching time is bounded by that cap times the per-character figure.)

    .venv/bin/python -m benchmarks.linear [--small 131072] [--large 1048576]
"""

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from app.catalog import rule_paths
from app.check import load_table
from app.compiler import CompiledRule
from app.enrich import Enricher, EnrichOptions
from app.matcher import try_rule


def shapes(line: str, size: int) -> dict[str, str]:
    """Lines of about `size` characters built from one example line."""
    middle = len(line) // 2
    run_char = next((c for c in line[middle:] if not c.isspace()), "a")
    run = run_char * max(0, size - len(line))
    return {
        "repeated": (line + " ") * (size // (len(line) + 1) + 1),
        "stretched": line[:middle] + run + line[middle:],
        "tail": line + " " + "x" * max(0, size - len(line)),
    }


def best_seconds(fn: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def rule_cost(rule: CompiledRule, text: str, repeats: int) -> float:
    return best_seconds(lambda: try_rule(rule, text, None, None), repeats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=128 * 1024, help="characters")
    parser.add_argument("--large", type=int, default=1024 * 1024, help="characters")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--slack", type=float, default=3.0, help="allowed multiple of linear growth")
    parser.add_argument("--budget-us", type=float, default=2.0, help="most a record may cost per character")
    parser.add_argument("--floor-ms", type=float, default=2.0, help="below this, growth is noise")
    args = parser.parse_args(argv)

    table = load_table(rule_paths(None))
    ratio = args.large / args.small
    budget_s = args.budget_us * args.large / 1e6  # for one record of the large size
    started = time.perf_counter()
    worst: list[tuple[float, float, str, str]] = []  # (growth / ratio, large ms, rule, shape)
    failures: list[str] = []
    measured = 0
    for rule in table.rules:
        for example in rule.spec.examples:
            for shape, small_text in shapes(example.line, args.small).items():
                large_text = shapes(example.line, args.large)[shape]
                small = rule_cost(rule, small_text, args.repeats)
                if small * ratio > budget_s * args.slack:  # do not wait for a superlinear rule
                    failures.append(f"{rule.id} {shape}: {small * 1000:.1f} ms already at {args.small} chars")
                    continue
                large = rule_cost(rule, large_text, args.repeats)
                measured += 1
                growth = large / small if small > 0 else 1.0
                worst.append((growth / ratio, large * 1000, rule.id, shape))
                if large > budget_s:
                    failures.append(f"{rule.id} {shape}: {large * 1000:.1f} ms at {args.large} chars")
                elif large * 1000 > args.floor_ms and growth > ratio * args.slack:
                    failures.append(f"{rule.id} {shape}: grew {growth:.0f}x for {ratio:.0f}x the length")

    # the whole path: prefix parser, candidate selection, every candidate rule, enrichment
    options = EnrichOptions(max_message_bytes=4 * args.large)
    enricher = Enricher(table, options)
    path_worst = (0.0, "")
    for rule in table.rules:
        line = rule.spec.examples[0].line
        for shape in ("repeated", "stretched", "tail"):
            text = shapes(line, args.large)[shape]
            cost = best_seconds(lambda text=text: enricher.enrich_batch([{"message": text}]), 1)
            if cost > path_worst[0]:
                path_worst = (cost, f"{rule.id} {shape}")
            if cost > budget_s:
                failures.append(
                    f"enrichment of {rule.id} {shape}: {cost * 1000:.1f} ms at {args.large} chars"
                )

    worst.sort(reverse=True)
    slowest = max(worst, key=lambda w: w[1])
    print(
        f"{len(table.rules)} rules, {measured} rule x example x shape cases, "
        f"{args.small:,} -> {args.large:,} chars ({ratio:.0f}x), {time.perf_counter() - started:.0f} s"
    )
    print("largest growth relative to linear (1.0 = linear):")
    for relative, large_ms, rule_id, shape in worst[:5]:
        print(f"  {relative:5.2f}  {large_ms:8.2f} ms  {rule_id} ({shape})")
    print(
        f"slowest single rule at {args.large:,} chars: {slowest[1]:.1f} ms, "
        f"{slowest[1] * 1000 / args.large:.2f} us/char ({slowest[2]}, {slowest[3]})"
    )
    print(
        f"slowest whole enrichment at {args.large:,} chars: {path_worst[0] * 1000:.1f} ms, "
        f"{path_worst[0] * 1e6 / args.large:.2f} us/char ({path_worst[1]})"
    )
    for failure in failures:
        print(f"FAIL {failure}")
    print("linear: " + ("no" if failures else "yes"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
