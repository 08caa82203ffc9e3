"""How the cost per record grows with the rule count and with the message length.

    .venv/bin/python -m benchmarks.scaling [--rounds 7]

Rule count: synthetic tables of 20, 60 and 200 rules in the shapes real JupyterHub messages
have (literal-led phrases that share their words, a rule that starts with a user name, an access
line), written as TOML rule files and loaded through `logenrich check`'s own path, so every rule's
examples are checked. The traffic is the same mix for every size: 80% of the lines match a rule
drawn at random from the table, 20% share its words and match none. Every answer is checked: each
matching line gets its own rule's id, each other line is unclassified.

Message length: real lines from the corpus padded to 100 B … 64 KiB, through the built-in
catalog, with the default 16 KiB examination cap and with the cap lifted.

Prints µs per record; the targets (at most 1.5 times from 20 to 200 rules; linear in length) are printed
as met or missed. Exits non-zero when a check of the answers fails.
"""

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from app.batch import Answer, Limits
from app.catalog import rule_paths
from app.check import load_table
from app.engine import Engine, EngineName, load_engine
from app.enrich import EnrichOptions
from benchmarks.common import real_lines

ENGINES: tuple[EngineName, ...] = ("native", "python")

PREFIX = "[W 2026-11-28 12:00:00.000 JupyterHub spawner:{n}] "
OPENERS = ["Failed to", "Unable to", "Could not", "Timed out trying to", "Gave up trying to"]
VERBS = ["start", "stop", "poll", "restart", "cull", "spawn", "delete", "create"]
OBJECTS = [
    "pod",
    "volume",
    "route",
    "token",
    "service",
    "image",
    "secret",
    "namespace",
    "node",
    "quota",
    "config map",
]
# (pattern, line) templates; {o} {v} {t} are the opener, verb and object words of one rule
FAMILIES = [
    (
        r"^{o} {v} {t} for (?P<user>[\w.-]+) after (?P<seconds>\d+(?:\.\d+)?) seconds$",
        "{o} {v} {t} for {user} after {n}.5 seconds",
    ),
    (r"^(?P<user>[\w.-]+)'s server could not {v} its {t}: {o} (?P<reason>.+)$", "{user}'s server could not {v} its {t}: {o} reach it"),
    (r"^{o} {v} (?P<url>\S+) \({t}\) \[(?P<code>\d{{3}})\]$", "{o} {v} http://10.0.{n}.7:8888/u/{user} ({t}) [50{d}]"),
    (
        r"^(?P<status>\d{{3}}) (?P<method>GET|POST|DELETE) /hub/api/{t}s/(?P<name>\S+) \((?P<user>[^@\s]*)@(?P<ip>[\d.]+)\) {v}ed in (?P<ms>[\d.]+)ms \({o}\)$",
        "20{d} POST /hub/api/{t}s/{user} ({user}@10.0.0.{n}) {v}ed in {n}.25ms ({o})",
    ),
]  # fmt: skip


def _words(k: int) -> dict[str, str]:
    return {"o": OPENERS[k % 5], "v": VERBS[(k // 5) % 8], "t": OBJECTS[(k // 40) % 11]}


def synthetic_rules(count: int, seed: int = 7) -> list[tuple[str, str, str]]:
    """(id, pattern, example line) for `count` distinct rules, spread over the word space."""
    combos = [(family, k) for family in range(len(FAMILIES)) for k in range(5 * 8 * 11)]
    random.Random(seed).shuffle(combos)
    rules = []
    for family, k in combos[:count]:
        pattern, line = FAMILIES[family]
        words = _words(k)
        rules.append(
            (
                f"synthetic.f{family}-{k}",
                pattern.format(**words),
                line.format(**words, user="ana-{n}", n="{n}", d="{d}"),
            )
        )
    return rules


def _toml(rules: list[tuple[str, str, str]]) -> str:
    out = ['[ruleset]\nname = "synthetic"\nversion = "1"\ndoc_base = "https://example.org/"\n']
    for rule_id, pattern, line in rules:
        examples = ", ".join(
            '{ line = "%s" }' % (PREFIX.format(n=1) + line.format(n=n, d=n % 10).replace("\\", "\\\\"))
            for n in (3, 4)
        )
        out.append(
            f"[[rules]]\nid = \"{rule_id}\"\ntitle = \"t\"\npattern = '''{pattern}'''\nseverity = \"keep\"\n"
            f'category = "benign"\ndoc_url = "x.html"\nsummary = "s"\naction = "a"\nexamples = [{examples}]\n'
        )
    return "\n".join(out)


def traffic(rules: list[tuple[str, str, str]], size: int, seed: int = 11) -> list[tuple[dict[str, Any], str]]:
    """(record, expected classification) pairs: 80% matching lines, 20% near misses."""
    rng = random.Random(seed)
    out = []
    for _ in range(size):
        n = rng.randrange(1, 250)
        if rng.random() < 0.8:
            rule_id, _, line = rng.choice(rules)
            out.append(({"message": PREFIX.format(n=n) + line.format(n=n, d=n % 10)}, rule_id))
        else:
            w = _words(rng.randrange(440))
            miss = f"{w['o']} {w['v']} {w['t']} for ana-{n}; will retry"
            out.append(({"message": PREFIX.format(n=n) + miss}, "unclassified"))
    return out


def ndjson(records: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(record) + b"\n" for record in records)


def engine_for(table: Any, name: EngineName, options: EnrichOptions | None = None) -> Engine:
    engine = load_engine(table, options or EnrichOptions(), name)
    assert engine.name == name, f"the {name} engine is not available (run `make install`)"
    return engine


def answer(engine: Engine, body: bytes) -> list[dict[str, Any]]:
    return [
        orjson.loads(line) for line in engine.run(body, "ndjson", Answer(), Limits(), 0).body.splitlines()
    ]


def per_record_us(engine: Engine, body: bytes, count: int, rounds: int) -> float:
    """Decode -> enrich -> encode of the NDJSON body, best of `rounds`, per record."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        engine.run(body, "ndjson", Answer(), Limits(), 0)
        times.append(time.perf_counter() - start)
    return min(times) / count * 1e6


def rule_count(rounds: int) -> tuple[list[str], dict[EngineName, float]]:
    """Every table size and engine is built and checked first; then the rounds alternate
    between them, so that each sees the same phases of a machine whose speed swings."""
    problems: list[str] = []
    runs: dict[tuple[EngineName, int], tuple[Engine, bytes, int]] = {}
    with tempfile.TemporaryDirectory(prefix="logenrich-scaling-") as tmp:
        for count in (20, 60, 200):
            rules = synthetic_rules(count)
            path = Path(tmp) / f"synthetic-{count}.toml"
            path.write_text(_toml(rules))
            table = load_table([path])  # checks every rule's examples
            pairs = traffic(rules, 2000)
            body = ndjson([record for record, _ in pairs])
            for name in ENGINES:
                engine = engine_for(table, name)
                got = [r["enrichment"]["classification"] for r in answer(engine, body)]
                wrong = [
                    (r["message"], want, g) for (r, want), g in zip(pairs, got, strict=True) if g != want
                ]
                if wrong:
                    problems.append(
                        f"{name}, {count} rules: {len(wrong)} lines classified wrongly, first {wrong[0]}"
                    )
                runs[name, count] = (engine, body, len(pairs))
    costs = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for key, (engine, body, count) in runs.items():
            costs[key] = min(costs[key], per_record_us(engine, body, count, 1))
    for (name, count), cost in sorted(costs.items(), key=lambda item: (item[0][1], item[0][0])):
        print(f"{name:<7}{count:>4} rules: {cost:6.2f} µs/record, {1e6 / cost:>9,.0f} records/s")
    ratios = {name: costs[name, 200] / costs[name, 20] for name in ENGINES}
    for name, ratio in ratios.items():
        verdict = "met" if ratio <= 1.5 else "MISSED"
        print(f"{name}: 200 rules / 20 rules: {ratio:.2f}x (target <= 1.5x: {verdict})")
    return problems, ratios


def message_length(rounds: int) -> list[str]:
    problems: list[str] = []
    table = load_table(rule_paths(None))
    lines = [line for line in real_lines() if "\n" not in line][:200]
    for name in ENGINES:
        capped_engine = engine_for(table, name)
        uncapped_engine = engine_for(table, name, EnrichOptions(max_message_bytes=1 << 30))
        print(f"\n{name} engine")
        print(
            f"{'length':>8}{'µs/record (16 KiB cap)':>24}{'µs/record (no cap)':>20}{'ns/byte (no cap)':>18}"
        )
        rows = []
        for length in (100, 1024, 4096, 16384, 65536):
            records = [{"message": (line + " " + "x" * length)[: max(length, 1)]} for line in lines]
            body = ndjson(records)
            capped = per_record_us(capped_engine, body, len(records), rounds)
            uncapped = per_record_us(uncapped_engine, body, len(records), rounds)
            rows.append((length, uncapped))
            back = answer(uncapped_engine, body)
            if not all(
                "enrichment" in r and r["message"] == o["message"] for r, o in zip(back, records, strict=True)
            ):
                problems.append(f"{name}, {length} B: a record came back without its enrichment or message")
            print(f"{length:>8}{capped:>24.2f}{uncapped:>20.2f}{uncapped * 1000 / length:>18.2f}")
        growth = (rows[-1][1] / rows[-2][1]) / (rows[-1][0] / rows[-2][0])
        print(f"16 KiB -> 64 KiB: cost grew {growth:.2f}x what linear growth predicts (target: linear)")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    problems, _ = rule_count(args.rounds)
    problems += message_length(args.rounds)
    for problem in problems:
        print("FAIL:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
