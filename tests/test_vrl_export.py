"""The exported VRL program, run by Vector's own VRL compiler and runtime (vector-vrl), gives
exactly the records `logenrich enrich` gives: every rule example, every dev-corpus line and every
prefix shape the parser reads, in both profiles. Any difference fails with the line and the two
outputs."""

import copy
import json
from typing import Any

import orjson
import pytest
import vector_vrl
import yaml

from app.compiler import Table
from app.enrich import Enricher, EnrichOptions
from app.export_vrl import export_vrl
from tests.helpers import OVERSIZED_NUMBERS, PREFIX_SHAPES, ROOT, cli, corpus_lines

INLINE = ROOT / "deploy" / "vector" / "inline.yaml"


def _lines(table: Table) -> list[str]:
    lines = [example.line for rule in table.rules for example in rule.spec.examples]
    lines += [line for rule in table.rules for line in rule.spec.rejects]
    return lines + list(corpus_lines())


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
    # every prefix shape, bare, behind a supervisor and in a Docker json-file wrapper
    records += [{"message": lead + line} for line in PREFIX_SHAPES for lead in ("", "hub-1  | ", "\x1b[31m")]
    records += [{"message": json.dumps({"log": line + "\n", "stream": "stdout"})} for line in PREFIX_SHAPES]
    return records


def _vrl_outputs(program: str, records: list[dict[str, Any]]) -> list[Any]:
    wrapped = program + '\n. = {"le_out": encode_json(.)}\n'
    results = vector_vrl.execute_vrl(wrapped, [json.dumps(r) for r in records])
    return [json.loads(r["le_out"]) if "le_out" in r else r for r in results]


@pytest.mark.parametrize("profile", ["default", "ecs"])
def test_parity_with_the_python_engine(table: Table, profile: str) -> None:
    options = EnrichOptions(profile=profile)  # type: ignore[arg-type]
    enricher = Enricher(table, options)
    records = _records(_lines(table))
    got = _vrl_outputs(export_vrl(table, options), records)
    differences = []
    for record, vrl in zip(records, got, strict=True):
        expected = copy.deepcopy(record)
        enricher.enrich_record(expected)
        expected = orjson.loads(orjson.dumps(expected))
        if vrl != expected:
            differences.append(f"line: {record}\n  vrl:    {vrl}\n  python: {expected}")
    assert not differences, f"{len(differences)} of {len(records)} differ:\n" + "\n".join(differences[:5])
    assert len(records) > 1000


def test_program_compiles_and_is_deterministic(table: Table) -> None:
    program = export_vrl(table)
    assert program == export_vrl(table)
    assert vector_vrl.validate_vrl(program).success
    for rule in table.rules[:5]:
        assert f"# {rule.id}  (" in program  # one readable block per rule


def test_inline_vector_config_is_in_sync_and_compiles(table: Table) -> None:
    config = yaml.safe_load(INLINE.read_text())
    assert config["transforms"]["logenrich"]["source"] == export_vrl(table), "run: make vector-inline"
    check = vector_vrl.validate_config(INLINE)
    assert check.ok and {"logenrich", "labels"} <= {c.name for c in check.checked}


def test_cli_export(table: Table) -> None:
    vrl = cli("export", "vrl", "--profile", "ecs")
    assert vrl.code == 0 and vrl.stdout.startswith(b"# logenrich")
    assert b'."rule"."id" = le_v_classification' in vrl.stdout
    exported = orjson.loads(cli("export", "json").stdout)
    assert exported["version"] == table.version
    assert len(exported["rules"]) == len(table.rules)
    assert {"id", "pattern", "guard", "examples", "doc_url"} <= set(exported["rules"][0])
