"""Catalog coverage on tests/data/corpus.jsonl: per family, how many lines get the family's
classification; checks that no line gets another family's classification and that at least 75%
of all lines are classified.

    .venv/bin/python -m benchmarks.coverage [--all]     (exit 1 when a check fails)
"""

import argparse
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from app.catalog import rule_paths
from app.check import load_table
from app.enrich import Enricher
from benchmarks.corpus_families import FAMILY_RULES

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "corpus.jsonl"
TARGET = 0.75


@dataclass
class Coverage:
    lines: int = 0
    classified: int = 0
    per_family: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    wrong: list[tuple[str, str, str]] = field(default_factory=list)  # (family, classification, line)
    missed: list[tuple[str, str]] = field(default_factory=list)  # covered family, left unclassified

    @property
    def share(self) -> float:
        return self.classified / self.lines if self.lines else 0.0

    @property
    def ok(self) -> bool:
        return not self.wrong and not self.missed and self.share >= TARGET


def measure(corpus: Path = CORPUS) -> Coverage:
    enricher = Enricher(load_table(rule_paths(None)))
    result = Coverage()
    for raw in corpus.read_bytes().splitlines():
        if not raw.strip():
            continue
        entry = orjson.loads(raw)
        family, line = entry["family"], entry["line"]
        record = {"message": line}
        enricher.enrich_record(record)
        classification = record["enrichment"]["classification"]
        result.lines += 1
        result.per_family[family][classification] += 1
        allowed = FAMILY_RULES.get(family, frozenset())
        if classification == "unclassified":
            if allowed:
                result.missed.append((family, line))
            continue
        result.classified += 1
        if classification not in allowed:
            result.wrong.append((family, classification, line))
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--all", action="store_true", help="list every family, not only the uncovered ones")
    args = parser.parse_args()
    if not CORPUS.exists():
        print(f"corpus not found at {CORPUS}")
        return 1
    result = measure()
    covered = [f for f in result.per_family if f in FAMILY_RULES]
    print(f"{result.lines} lines, {len(result.per_family)} families, {len(covered)} covered")
    print(f"classified: {result.classified} ({result.share:.1%}; target {TARGET:.0%})")
    print(f"{'family':<42}{'lines':>6}{'right':>7}  classifications")
    for family, counts in sorted(result.per_family.items(), key=lambda item: -sum(item[1].values())):
        if not args.all and family in FAMILY_RULES:
            continue
        allowed = FAMILY_RULES.get(family, frozenset())
        right = sum(n for c, n in counts.items() if c in allowed)
        detail = ", ".join(f"{c} {n}" for c, n in counts.most_common())
        print(f"{family:<42}{sum(counts.values()):>6}{right:>7}  {detail}")
    for family, classification, line in result.wrong:
        print(f"WRONG: {family} line classified as {classification}: {line[:160]}")
    for family, line in result.missed:
        print(f"MISSED: {family} line left unclassified: {line[:160]}")
    print("ok" if result.ok else "FAILED")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
