"""Matching time per record grows linearly with message length, for every shipped rule, on
both engines; and no single line of the default 16 KiB cap costs the native engine more than
1 ms.

For each rule and each of its examples, builds long lines in three shapes that stress a
backtracking matcher — the example repeated (its literals everywhere), the example with a long run
of one of its own characters in the middle, and the example followed by a long tail — at a small
and a large size. Times each rule's own pattern (and derivations) alone on the Python engine, then
the whole path (one record through `Engine.run`: decode, prefix, candidates, every candidate rule,
enrichment, encode) on each engine with the byte cap lifted. Linear time means the large line
costs about size-ratio times the small one; the run fails when any rule exceeds `--slack` times
that, or when a record costs more than `--budget-us` microseconds per character. Then every
rule x example x shape at 16 KiB, with the default cap, through the native engine: the run fails
when one costs more than `--line-budget-ms`.

    .venv/bin/python -m benchmarks.linear [--small 131072] [--large 1048576]
"""

import argparse
import sys
import time
from collections.abc import Callable
from re import _constants as sre  # type: ignore[attr-defined]
from typing import Any

import orjson

from app.batch import Answer, Limits
from app.catalog import rule_paths
from app.check import load_table
from app.compiler import CompiledRule, Table
from app.engine import Engine, EngineName, load_engine
from app.enrich import EnrichOptions
from app.matcher import try_rule
from app.patterns import parse

CAP = 16 * 1024


def literal_pieces(pattern: str) -> list[str]:
    """The runs of literal characters in a pattern (three or more), in order."""
    pieces: list[str] = []

    def walk(items: Any) -> None:
        run: list[str] = []
        for op, av in items:
            if op is sre.LITERAL:
                run.append(chr(av))
                continue
            if len(run) >= 3:
                pieces.append("".join(run))
            run = []
            if op is sre.SUBPATTERN:
                walk(av[3])
            elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
                walk(av[2])
            elif op is sre.BRANCH:
                for alternative in av[1]:
                    walk(alternative)
        if len(run) >= 3:
            pieces.append("".join(run))

    walk(parse(pattern).data)
    return pieces


def shapes(line: str, size: int, literals: list[str] | None = None) -> dict[str, str]:
    """Lines of about `size` characters built from one example line: the example repeated, with
    a long run of one of its characters inside, with a long tail; and, for each literal of the
    pattern that the example holds past its start, the example cut just before that literal and
    repeated (the match starts again and again and never finds the literal that ends it)."""
    middle = len(line) // 2
    run_char = next((c for c in line[middle:] if not c.isspace()), "a")
    run = run_char * max(0, size - len(line))
    out = {
        "repeated": (line + " ") * (size // (len(line) + 1) + 1),
        "stretched": line[:middle] + run + line[middle:],
        "tail": line + " " + "x" * max(0, size - len(line)),
    }
    for literal in literals or []:
        at = line.find(literal, 1)
        if at > 0:
            out[f"cut before {literal[:16]!r}"] = (line[:at] * (size // at + 1))[:size]
    return out


def best_seconds(fn: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def rule_cost(rule: CompiledRule, text: str, repeats: int) -> float:
    return best_seconds(lambda: try_rule(rule, text, None, None), repeats)


DOUBLING_LIMIT = 3.0  # cost growth for twice the length: 2x is linear, 4x quadratic


def doubling(time_at: Callable[[int, int], float], large: int) -> tuple[bool, str]:
    """For a cost that grew more than linear time allows between the two sizes: (superlinear?,
    what was seen). Such a jump is either superlinear matching or a change of matcher between the
    sizes (the native engine reads fields with a backtracker while its visited set holds the
    match, the PikeVM beyond; a backtracking engine's stack outgrows the caches). Doubling the
    length once more tells them apart: linear time doubles, quadratic time quadruples. Measured
    twice, the second time slower, before calling it; `time_at(size, repeats)` is best of."""
    grew = 0.0
    for repeats in (3, 7):
        grew = time_at(2 * large, repeats) / time_at(large, repeats)
        if grew <= DOUBLING_LIMIT:
            return False, f"{grew:.1f}x for 2x"
    return True, f"{grew:.1f}x for 2x at {large:,} -> {2 * large:,} chars"


def record_cost(engine: Engine, text: str, repeats: int) -> float:
    """One record with this message through the engine, best of `repeats`; checked."""
    body = orjson.dumps({"message": text}) + b"\n"
    result = engine.run(body, "ndjson", Answer(), Limits(), 0)
    record = orjson.loads(result.body)
    assert record["message"] == text and "classification" in record["enrichment"], "a record came back wrong"
    return best_seconds(lambda: engine.run(body, "ndjson", Answer(), Limits(), 0), repeats)


def engines(table: Table, options: EnrichOptions) -> dict[EngineName, Engine]:
    found: dict[EngineName, Engine] = {
        name: load_engine(table, options, name) for name in ("native", "python")
    }
    assert found["native"].name == "native", "the native extension is not built: run `make install`"
    return found


def sixteen_kib_lines(table: Table, budget_ms: float, repeats: int) -> list[str]:
    """Every rule x example x shape at the default cap, on each engine: the slowest. The native
    engine must stay under the budget; the Python engine's figures are shown."""
    failures = []
    for name, engine in engines(table, EnrichOptions()).items():
        costs = []
        for rule in table.rules:
            literals = literal_pieces(rule.spec.pattern)
            for example in rule.spec.examples:
                for shape, text in shapes(example.line, CAP, literals).items():
                    costs.append(
                        (
                            record_cost(engine, text, max(repeats, 5) if name == "native" else 1) * 1000,
                            rule.id,
                            shape,
                        )
                    )
        costs.sort(reverse=True)
        print(f"\n{len(costs)} lines of 16 KiB (every rule x example x shape), {name} engine, default cap:")
        for ms, rule_id, shape in costs[:5]:
            print(f"  {ms:6.3f} ms  {rule_id} ({shape})")
        if name == "native":
            verdict = "met" if costs[0][0] <= budget_ms else "MISSED"
            print(f"slowest 16 KiB line: {costs[0][0]:.3f} ms (target <= {budget_ms} ms: {verdict})")
            failures += [f"16 KiB line of {r} ({s}): {ms:.2f} ms" for ms, r, s in costs if ms > budget_ms]
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=128 * 1024, help="characters")
    parser.add_argument("--large", type=int, default=1024 * 1024, help="characters")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--slack", type=float, default=3.0, help="allowed multiple of linear growth")
    parser.add_argument("--budget-us", type=float, default=2.0, help="most a record may cost per character")
    parser.add_argument("--floor-ms", type=float, default=2.0, help="below this, growth is noise")
    parser.add_argument("--line-budget-ms", type=float, default=1.0, help="most one 16 KiB line may cost")
    parser.add_argument("--skip-16k", action="store_true", help="leave out the 16 KiB lines")
    args = parser.parse_args(argv)

    table = load_table(rule_paths(None))
    ratio = args.large / args.small
    budget_s = args.budget_us * args.large / 1e6  # for one record of the large size
    started = time.perf_counter()
    worst: list[tuple[float, float, str, str]] = []  # (growth / ratio, large ms, rule, shape)
    failures: list[str] = []
    switched: list[str] = []  # jumps that doubling the length again showed to be linear
    measured = 0
    for rule in table.rules:
        literals = literal_pieces(rule.spec.pattern)
        for example in rule.spec.examples:
            for shape, small_text in shapes(example.line, args.small, literals).items():
                large_text = shapes(example.line, args.large, literals)[shape]
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
                    texts = {
                        args.large: large_text,
                        2 * args.large: shapes(example.line, 2 * args.large, literals)[shape],
                    }
                    worse, said = doubling(lambda size, n: rule_cost(rule, texts[size], n), args.large)  # noqa: B023
                    where = f"{rule.id} {shape}: grew {growth:.0f}x for {ratio:.0f}x, then {said}"
                    (failures if worse else switched).append(where)

    # the whole path on each engine: prefix parser, candidates, every candidate rule, enrichment
    uncapped = engines(table, EnrichOptions(max_message_bytes=4 * args.large))
    path_worst: dict[str, tuple[float, str]] = dict.fromkeys(uncapped, (0.0, ""))
    for name, engine in uncapped.items():
        for rule in table.rules:
            line = rule.spec.examples[0].line
            for shape in ("repeated", "stretched", "tail"):
                small = record_cost(engine, shapes(line, args.small)[shape], 1)
                cost = record_cost(engine, shapes(line, args.large)[shape], 1)
                if cost > path_worst[name][0]:
                    path_worst[name] = (cost, f"{rule.id} {shape}")
                if cost > budget_s:
                    failures.append(
                        f"{name} engine, {rule.id} {shape}: {cost * 1000:.1f} ms at {args.large} chars"
                    )
                elif cost * 1000 > args.floor_ms and cost / small > ratio * args.slack:
                    texts = {size: shapes(line, size)[shape] for size in (args.large, 2 * args.large)}
                    worse, said = doubling(lambda size, n: record_cost(engine, texts[size], n), args.large)  # noqa: B023
                    where = f"{name} engine, {rule.id} {shape}: grew {cost / small:.0f}x for {ratio:.0f}x, then {said}"
                    (failures if worse else switched).append(where)

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
    for name, (cost, where) in path_worst.items():
        print(
            f"slowest record on the {name} engine at {args.large:,} chars: {cost * 1000:.1f} ms, "
            f"{cost * 1e6 / args.large:.3f} us/char ({where})"
        )
    if switched:
        print(f"{len(switched)} jumps between the two sizes were a change of matcher or of cache "
              f"(linear when doubled again, limit {DOUBLING_LIMIT}x), e.g.:")  # fmt: skip
        for line in switched[:3]:
            print(f"  {line}")
    if not args.skip_16k:
        failures += sixteen_kib_lines(table, args.line_budget_ms, args.repeats)
    for failure in failures:
        print(f"FAIL {failure}")
    print("linear: " + ("no" if failures else "yes"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
