"""What the benchmarks share: the built-in table, the corpus's lines and Vector-shaped batches."""

import functools
from pathlib import Path
from typing import Any

import orjson

from app.catalog import rule_paths
from app.check import load_table
from app.compiler import Table

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "corpus.jsonl"


@functools.cache
def builtin_table() -> Table:
    """The built-in table, loaded and checked (every example, every reject)."""
    return load_table(rule_paths(None))


def real_lines() -> list[str]:
    """Every line of the labelled corpus (real lines people pasted), in file order."""
    return [orjson.loads(line)["line"] for line in CORPUS.read_bytes().splitlines() if line.strip()]


def vector_batch(lines: list[str], size: int) -> list[dict[str, Any]]:
    """Records shaped like Vector's kubernetes_logs source output, the lines cycled."""
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
