"""`logenrich mine`: real files, standard input, the table and JSON outputs, and `--draft` files
that `check`, `export vrl` and `enrich --rules` take, run as a user runs them (subprocess)."""

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.helpers import CORPUS, FIXTURES, ROOT, cli

SITE_LOG = FIXTURES / "mining" / "site.log"


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *argv],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_mine_a_site_log_as_json() -> None:
    result = cli("mine", str(SITE_LOG), "--json")
    assert result.code == 0, result.stderr
    body = orjson.loads(result.stdout)
    assert (body["records"], body["unclassified"], body["template_count"], body["other"]) == (60, 40, 4, 0)
    templates = {t["template"]: t for t in body["templates"]}
    quota = templates["quota check: <*> uses <NUM> of <NUM> GiB home quota"]
    assert quota["count"] == 10 and quota["levels"] == {"warning": 10}
    assert len(quota["examples"]) == 3 and all("quota check:" in line for line in quota["examples"])
    # the hub's own lines in the file (access log, spawn times) are classified, so not mined
    assert not any("GET" in t or "took" in t for t in templates)


def test_mine_prints_a_table(tmp_path: Path) -> None:
    result = cli("mine", str(SITE_LOG), "--examples", "1", "--limit", "2")
    assert result.code == 0
    rows = result.stdout.decode().splitlines()
    assert rows[0].split() == ["COUNT", "LEVELS", "TEMPLATE"]
    assert len(rows) == 1 + 2 * 2  # two templates, one example line each
    assert rows[1].split()[0] == "10"
    assert "40 unclassified message(s) in 4 template(s)" in result.stderr


def test_mine_standard_input_ndjson(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [orjson.dumps({"log": f"cache miss for key{n} in region eu-{n % 2}", "n": n}) for n in range(6)]
    result = cli("mine", "-", "--json", stdin=b"\n".join(lines), monkeypatch=monkeypatch)
    assert result.code == 0, result.stderr
    body = orjson.loads(result.stdout)
    assert [(t["template"], t["count"]) for t in body["templates"]] == [
        ("cache miss for <*> in region <*>", 6)
    ]


def test_mine_the_corpus_with_no_table() -> None:
    result = cli("mine", str(CORPUS), "--message-field", "line", "--no-builtin", "--json", "--limit", "5")
    assert result.code == 0, result.stderr
    body = orjson.loads(result.stdout)
    assert body["records"] == body["unclassified"] + 5  # 5 blank messages: nothing to group
    assert body["template_count"] > 200 and len(body["templates"]) == 5
    counts = [t["count"] for t in body["templates"]]
    assert counts == sorted(counts, reverse=True)


def test_draft_checks_exports_and_classifies(tmp_path: Path) -> None:
    out = tmp_path / "site.toml"
    mined = _run("mine", str(SITE_LOG), "--draft", str(out))
    assert mined.returncode == 0, mined.stderr
    assert "4 rule(s) drafted" in mined.stderr
    checked = _run("check", str(out))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("ok: 4 rules")
    assert _run("check", "--with-builtin", str(out)).returncode == 0
    exported = _run("export", "vrl", "--rules", str(out))
    assert exported.returncode == 0 and "site.quota-check-uses-of-gib-home" in exported.stdout
    enriched = _run("enrich", str(SITE_LOG), "--rules", str(out))
    assert enriched.returncode == 0
    assert "60 records (raw), 60 classified (100%)" in enriched.stderr


def test_draft_with_nothing_to_draft_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "none.toml"
    result = cli("mine", str(SITE_LOG), "--draft", str(out), "--min-count", "11")
    assert result.code == 1 and not out.exists()
    assert "not written" in result.stderr


def test_usage_and_input_errors(tmp_path: Path) -> None:
    assert cli("mine").code == 2
    missing = cli("mine", str(tmp_path / "absent.log"))
    assert missing.code == 1 and "cannot read" in missing.stderr
    assert cli("mine", str(SITE_LOG), "--draft", str(tmp_path)).code == 1
