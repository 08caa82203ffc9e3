"""The exported VRL program, run by Vector's own VRL compiler and runtime (vector-vrl), gives
exactly the records `logenrich enrich` gives: every rule example and every dev-corpus line, in
both profiles. Any difference fails with the line and the two outputs."""

import copy
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
import vector_vrl
import yaml

from app.check import load_table, rule_paths
from app.enrich import Enricher, EnrichOptions
from app.export_vrl import export_vrl
from benchmarks.coverage import CORPUS
from tests.conftest import ROOT, cli
from tests.test_enrich import OVERSIZED_NUMBERS

TABLE = load_table(rule_paths(None))
INLINE = ROOT / "deploy" / "vector" / "inline.yaml"


def _lines() -> list[str]:
    lines = [example.line for rule in TABLE.rules for example in rule.spec.examples]
    lines += [line for rule in TABLE.rules for line in rule.spec.rejects]
    if CORPUS.exists():
        lines += [orjson.loads(raw)["line"] for raw in CORPUS.read_bytes().splitlines() if raw.strip()]
    return lines


def _records(lines: list[str]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = [{"message": line, "n": n} for n, line in enumerate(lines)]
    # other shapes the program must handle as the service does
    records += [
        {"log": lines[0]},
        {"msg": lines[1], "message": 42},
        {"message": lines[2], "enrichment": "a user's own string"},
        {"no_message": True},
        {"message": lines[3], "rule": "not an object", "log": "a Fluent Bit line"},
    ]
    records += [{"message": line} for line in OVERSIZED_NUMBERS]
    return records


def _vrl_outputs(program: str, records: list[dict[str, Any]]) -> list[Any]:
    wrapped = program + '\n. = {"le_out": encode_json(.)}\n'
    results = vector_vrl.execute_vrl(wrapped, [json.dumps(r) for r in records])
    return [json.loads(r["le_out"]) if "le_out" in r else r for r in results]


@pytest.mark.parametrize("profile", ["default", "ecs"])
def test_parity_with_the_python_engine(profile: str) -> None:
    options = EnrichOptions(profile=profile)  # type: ignore[arg-type]
    enricher = Enricher(TABLE, options)
    records = _records(_lines())
    got = _vrl_outputs(export_vrl(TABLE, options), records)
    differences = []
    for record, vrl in zip(records, got, strict=True):
        expected = copy.deepcopy(record)
        enricher.enrich_record(expected)
        expected = orjson.loads(orjson.dumps(expected))
        if vrl != expected:
            differences.append(f"line: {record}\n  vrl:    {vrl}\n  python: {expected}")
    assert not differences, f"{len(differences)} of {len(records)} differ:\n" + "\n".join(differences[:5])
    assert len(records) > 1000


def test_program_compiles_and_is_deterministic() -> None:
    program = export_vrl(TABLE)
    assert program == export_vrl(TABLE)
    assert vector_vrl.validate_vrl(program).success
    for rule in TABLE.rules[:5]:
        assert f"# {rule.id}  (" in program  # one readable block per rule


def test_inline_vector_config_is_in_sync_and_compiles() -> None:
    config = yaml.safe_load(INLINE.read_text())
    assert config["transforms"]["logenrich"]["source"] == export_vrl(TABLE), "run: make vector-inline"
    check = vector_vrl.validate_config(INLINE)
    assert check.ok and {c.name for c in check.checked} == {"logenrich", "labels"}


def test_cli_export(tmp_path: Path) -> None:
    vrl = cli("export", "vrl", "--profile", "ecs")
    assert vrl.code == 0 and vrl.stdout.startswith(b"# logenrich")
    assert b".rule.id = le_rule" in vrl.stdout
    exported = orjson.loads(cli("export", "json").stdout)
    assert exported["version"] == TABLE.version
    assert len(exported["rules"]) == len(TABLE.rules)
    assert {"id", "pattern", "guard", "examples", "doc_url"} <= set(exported["rules"][0])
