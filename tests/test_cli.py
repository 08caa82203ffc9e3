"""The CLI in-process: the seed lines of the core issue, input detection, check and rules."""

import io
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers import ROOT, cli

SEED = [
    "Failing suspected API request to not-running server: /hub/user/alice/api/metrics/v1",
    "jupyterhub version 1.5.0 != jupyterhub-singleuser version 1.3.0. "
    "This could cause failure to authenticate and result in redirect loops!",
    "jupyterhub version 4.1.5 != jupyterhub-singleuser version 1.5.0. "
    "This could cause failure to authenticate and result in redirect loops!",
    "200 GET /hub/api/users (admin@10.0.1.5) 12.34ms",
]
LOG_MESSAGES = "https://jupyterhub.readthedocs.io/en/stable/howto/log-messages.html"


def _records(stdout: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in stdout.splitlines()]


def test_seed_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli("enrich", "-", stdin=("\n".join(SEED) + "\n").encode(), monkeypatch=monkeypatch)
    assert result.code == 0, result.stderr
    out = [r["enrichment"] for r in _records(result.stdout)]
    assert [e["classification"] for e in out] == [
        "jupyterhub.proxy.not-running-server",
        "jupyterhub.singleuser.version-mismatch",
        "jupyterhub.singleuser.version-mismatch",
        "jupyterhub.access.request",
    ]
    assert [e["severity"] for e in out] == ["info", "warning", "error", "info"]
    assert out[0]["doc_url"] == LOG_MESSAGES + "#failing-suspected-api-request-to-not-running-server"
    assert out[1]["doc_url"] == LOG_MESSAGES + "#jupyterhub-singleuser-version-mismatch"
    assert out[0]["fields"] == {"path": "/hub/user/alice/api/metrics/v1", "user": "alice", "api": "metrics"}
    assert out[1]["fields"] == {"hub_version": "1.5.0", "singleuser_version": "1.3.0"}
    assert out[2]["fields"] == {"hub_version": "4.1.5", "singleuser_version": "1.5.0"}
    assert out[3]["fields"] == {
        "status": 200,
        "method": "GET",
        "path": "/hub/api/users",
        "user": "admin",
        "ip": "10.0.1.5",
        "duration_ms": 12.34,
    }
    assert "4 records (raw), 4 classified (100%)" in result.stderr


def test_sample_log_file() -> None:
    result = cli("enrich", str(ROOT / "app" / "samples" / "jupyterhub.log"))
    assert result.code == 0
    records = _records(result.stdout)
    raw = (ROOT / "app" / "samples" / "jupyterhub.log").read_text().splitlines()
    # continuation lines are grouped into the record before them
    assert len(records) == sum(1 for line in raw if not line.startswith("    "))
    assert any("\n    Traceback" in r["message"] for r in records)
    assert "classified" in result.stderr


def test_ndjson_input_keeps_fields_and_order(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [{"message": SEED[0], "n": 1}, {"log": SEED[3], "n": 2}, {"other": True, "n": 3}]
    body = b"\n".join(orjson.dumps(x) for x in lines)
    result = cli("enrich", stdin=body, monkeypatch=monkeypatch)
    out = _records(result.stdout)
    assert [r["n"] for r in out] == [1, 2, 3]
    assert out[2] == {"other": True, "n": 3}
    assert "(ndjson)" in result.stderr


def test_json_array_input(monkeypatch: pytest.MonkeyPatch) -> None:
    body = json.dumps([{"message": SEED[0]}, {"message": SEED[1]}]).encode()
    result = cli("enrich", "-", stdin=body, monkeypatch=monkeypatch)
    assert len(_records(result.stdout)) == 2
    assert "(json)" in result.stderr


def test_a_bracketed_log_line_is_not_mistaken_for_json(monkeypatch: pytest.MonkeyPatch) -> None:
    body = b"[W 2022-03-10 17:25:19.774 JupyterHub base:1349] " + SEED[0].encode() + b"\n"
    result = cli("enrich", "-", stdin=body, monkeypatch=monkeypatch)
    assert _records(result.stdout)[0]["enrichment"]["severity"] == "info"
    assert "(raw)" in result.stderr


def test_bad_ndjson_line_is_kept_as_a_raw_line(monkeypatch: pytest.MonkeyPatch) -> None:
    body = b'{"message": "a"}\n{broken\n{"message": "b"}\n'
    result = cli("enrich", "-", stdin=body, monkeypatch=monkeypatch)
    out = _records(result.stdout)
    assert [r["message"] for r in out] == ["a", "{broken", "b"]
    assert "1 line(s) were not JSON" in result.stderr


def test_only_matched_and_ecs(monkeypatch: pytest.MonkeyPatch) -> None:
    body = ("\n".join([SEED[0], "nothing known here"]) + "\n").encode()
    result = cli("enrich", "--only-matched", "--profile", "ecs", stdin=body, monkeypatch=monkeypatch)
    out = _records(result.stdout)
    assert len(out) == 1
    assert out[0]["rule"]["id"] == "jupyterhub.proxy.not-running-server"


def test_extra_rules_take_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = tmp_path / "site.toml"
    rules.write_text(
        """
[ruleset]
name = "site"
version = "7"
doc_base = "https://wiki.example.org/"

[[rules]]
id = "site.metrics-poll"
title = "Metrics polling of a stopped server"
pattern = 'not-running server: \\S*/api/metrics/'
severity = "debug"
category = "benign"
doc_url = "metrics"
summary = "Resource-usage polling."
action = "Nothing."

[[rules.examples]]
line = "Failing suspected API request to not-running server: /hub/user/a/api/metrics/v1"
"""
    )
    body = (SEED[0] + "\n").encode()
    result = cli("enrich", "--rules", str(rules), stdin=body, monkeypatch=monkeypatch)
    assert result.code == 0, result.stderr
    enrichment = _records(result.stdout)[0]["enrichment"]
    assert enrichment["classification"] == "site.metrics-poll"
    assert enrichment["ruleset_version"] == "7"
    replaced = cli(
        "enrich",
        "--rules",
        str(rules),
        "--no-builtin",
        stdin=(SEED[3] + "\n").encode(),
        monkeypatch=monkeypatch,
    )
    assert _records(replaced.stdout)[0]["enrichment"]["classification"] == "unclassified"


def test_enrich_refuses_a_broken_table(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = ROOT / "tests" / "fixtures" / "rules" / "broken"
    result = cli("enrich", "--rules", str(broken), stdin=b"x\n", monkeypatch=monkeypatch)
    assert result.code == 1
    assert "duplicate rule id" in result.stderr
    assert result.stdout == b""


def test_missing_input_file(tmp_path: Path) -> None:
    result = cli("enrich", str(tmp_path / "nope.log"))
    assert result.code == 1
    assert "cannot read" in result.stderr


def test_usage_error_exit_code() -> None:
    assert cli("enrich", "--profile", "nope").code == 2
    assert cli().code == 2


def test_rules_listing() -> None:
    result = cli("rules")
    assert result.code == 0
    assert "jupyterhub.proxy.not-running-server" in result.stdout.decode()
    listing = orjson.loads(cli("rules", "--json").stdout)
    assert {"id", "title", "severity", "adjust", "category", "doc_url"} <= set(listing[0])


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_for_large_files(tmp_path: Path) -> None:
    from app.cli import _Progress

    terminal = _Terminal()
    progress = _Progress(64 * 1024 * 1024, terminal)
    progress.update(16 * 1024 * 1024, 50_000)
    progress.close()
    assert "25.0%" in terminal.getvalue() and "50,000 records" in terminal.getvalue()
    quiet = io.StringIO()  # not a terminal: nothing written
    silent = _Progress(64 * 1024 * 1024, quiet)
    silent.update(1, 1)
    assert quiet.getvalue() == ""
    small = _Terminal()  # a small file: no bar either
    _Progress(1024, small).update(512, 10)
    assert small.getvalue() == ""
