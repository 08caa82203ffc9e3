"""The built-in catalog as a whole: shape of every rule, robustness, corpus coverage, README table."""

import re
import subprocess
import sys
from collections import Counter
from typing import Any

from app.cli import catalog_markdown
from app.compiler import CompiledRule, Table
from app.enrich import Enricher
from app.spec import Example
from tests.helpers import ROOT

PREFIX = re.compile(r"\[([DIWEC]) (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) (\S+) ([^\s:\]]+):(\d+)\]")


def classify(table: Table, line: str) -> dict[str, Any]:
    record: dict[str, Any] = {"message": line}
    Enricher(table).enrich_record(record)
    enrichment: dict[str, Any] = record["enrichment"]
    return enrichment


def test_size_and_spread(table: Table) -> None:
    assert len(table.rules) >= 60
    components = Counter(rule.id.split(".")[0] for rule in table.rules)
    for component in (
        "jupyterhub",
        "jupyter",
        "chp",
        "kubespawner",
        "dockerspawner",
        "oauthenticator",
        "culler",
    ):
        assert components[component] >= 1, component
    hub_areas = {rule.id.split(".")[1] for rule in table.rules if rule.id.startswith("jupyterhub.")}
    assert {"spawn", "proxy", "auth", "oauth", "rbac", "secret", "db", "shutdown", "access"} <= hub_areas


def test_every_rule_has_two_examples_a_reject_and_a_doc_link(rule: CompiledRule) -> None:
    assert len(rule.spec.examples) >= 2
    assert len(rule.spec.rejects) >= 1
    assert rule.doc_url.startswith("https://")
    assert rule.spec.summary != rule.spec.action


def test_no_rule_depends_on_module_line_or_time(table: Table, example: tuple[CompiledRule, Example]) -> None:
    rule, case = example
    moved = PREFIX.sub(
        lambda m: f"[{m.group(1)} 2031-01-02 03:04:05.678 {m.group(3)} elsewhere:7]", case.line, count=1
    )
    assert classify(table, moved)["classification"] == rule.id


def test_benign_rules_never_raise_a_debug_line(table: Table) -> None:
    for rule in table.rules:
        if rule.spec.category != "benign" or rule.spec.severity == "keep":
            continue
        for example in rule.spec.examples:
            if example.line.lstrip().startswith("[D "):
                assert classify(table, example.line)["severity"] == "debug", (rule.id, example.line)


def test_corpus_coverage() -> None:
    """The coverage benchmark over the labelled corpus, which checks its own figures."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.coverage"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert done.stdout.rstrip().endswith("ok")


def test_readme_lists_the_catalog(table: Table) -> None:
    readme = (ROOT / "README.md").read_text()
    start, end = "<!-- catalog:start -->\n", "<!-- catalog:end -->"
    assert start in readme and end in readme, "README needs the catalog markers"
    current = readme.split(start, 1)[1].split(end, 1)[0]
    assert current == catalog_markdown(table), "run: make readme-catalog"
