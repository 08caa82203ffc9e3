"""The built-in catalog as a whole: shape of every rule, robustness, corpus coverage, README table."""

import re
from collections import Counter
from typing import Any

import pytest

from app.check import load_table, rule_paths
from app.cli import catalog_markdown
from app.enrich import Enricher
from benchmarks.coverage import CORPUS, TARGET, measure
from tests.conftest import ROOT

TABLE = load_table(rule_paths(None))
ENRICHER = Enricher(TABLE)
PREFIX = re.compile(r"\[([DIWEC]) (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) (\S+) ([^\s:\]]+):(\d+)\]")


def classify(line: str) -> str:
    record: dict[str, Any] = {"message": line}
    ENRICHER.enrich_record(record)
    classification: str = record["enrichment"]["classification"]
    return classification


def test_size_and_spread() -> None:
    assert len(TABLE.rules) >= 60
    components = Counter(rule.id.split(".")[0] for rule in TABLE.rules)
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
    hub_areas = {rule.id.split(".")[1] for rule in TABLE.rules if rule.id.startswith("jupyterhub.")}
    assert {"spawn", "proxy", "auth", "oauth", "rbac", "secret", "db", "shutdown", "access"} <= hub_areas


@pytest.mark.parametrize("rule", TABLE.rules, ids=lambda r: r.id)
def test_every_rule_has_two_examples_a_reject_and_a_doc_link(rule: Any) -> None:
    assert len(rule.spec.examples) >= 2
    assert len(rule.spec.rejects) >= 1
    assert rule.doc_url.startswith("https://")
    assert rule.spec.summary != rule.spec.action


EXAMPLES_WITH_MODULE = [
    (rule.id, example.line)
    for rule in TABLE.rules
    for example in rule.spec.examples
    if PREFIX.search(example.line)
]


@pytest.mark.parametrize(("rule_id", "line"), EXAMPLES_WITH_MODULE)
def test_no_rule_depends_on_module_line_or_time(rule_id: str, line: str) -> None:
    moved = PREFIX.sub(
        lambda m: f"[{m.group(1)} 2031-01-02 03:04:05.678 {m.group(3)} elsewhere:7]", line, count=1
    )
    assert classify(moved) == rule_id


def test_benign_rules_never_raise_a_debug_line() -> None:
    for rule in TABLE.rules:
        if rule.spec.category != "benign" or rule.spec.severity == "keep":
            continue
        for example in rule.spec.examples:
            if example.line.lstrip().startswith("[D "):
                record: dict[str, Any] = {"message": example.line}
                ENRICHER.enrich_record(record)
                assert record["enrichment"]["severity"] == "debug", (rule.id, example.line)


@pytest.mark.skipif(not CORPUS.exists(), reason="the shared corpus is not beside the project")
def test_corpus_coverage() -> None:
    result = measure()
    assert not result.wrong, result.wrong[:5]
    assert not result.missed, result.missed[:5]
    assert result.share >= TARGET


def test_readme_lists_the_catalog() -> None:
    readme = (ROOT / "README.md").read_text()
    start, end = "<!-- catalog:start -->\n", "<!-- catalog:end -->"
    assert start in readme and end in readme, "README needs the catalog markers"
    current = readme.split(start, 1)[1].split(end, 1)[0]
    assert current == catalog_markdown(TABLE), "run: make readme-catalog"
