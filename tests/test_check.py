"""`logenrich check`: golden diagnostics on broken rule files, and a clean built-in set."""

import os
from pathlib import Path

import pytest

from app.check import check_paths, load_table
from app.errors import TableError
from tests.helpers import FIXTURES, cli

GOLDEN = FIXTURES / "golden"
BROKEN = FIXTURES / "rules" / "broken"


def _relative(text: str) -> str:
    return text.replace(str(FIXTURES) + os.sep, "")


def _golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("LOGENRICH_UPDATE_GOLDEN"):
        path.write_text(actual)
    assert actual == path.read_text()


def test_builtin_set_checks() -> None:
    result = cli("check")
    assert result.code == 0, result.stderr
    assert result.stdout.startswith(b"ok: ")


def test_broken_files_report_every_problem() -> None:
    result = cli("check", str(BROKEN))
    assert result.code == 1
    _golden("check_broken.txt", _relative(result.stderr))


@pytest.mark.parametrize(
    ("fragment"),
    [
        "duplicate rule id",
        "invalid regex",
        "lookahead/lookbehind",
        "is shadowed by many.general",
        "example 1 gets severity 'info', expected 'warning'",
        "example 1 expects field 'inactive', which the pattern does not capture",
        "nests an unbounded repetition",
        "reject 1 matches the rule",
        "colour: Extra inputs are not permitted",
        "not valid TOML",
        "doc_url 'javascript:alert(document.cookie)' is not an https:// link",
        "ruleset.version: String should match pattern",
        "ruleset.doc_base: String should match pattern",
    ],
)
def test_each_problem_class_is_named(fragment: str) -> None:
    _, issues = check_paths([BROKEN])
    assert any(fragment in str(issue) for issue in issues), fragment


def test_every_problem_names_file_and_line() -> None:
    _, issues = check_paths([BROKEN])
    for issue in issues:
        assert issue.path.endswith(".toml")
        assert issue.line is not None and issue.line > 0, issue


def test_load_table_refuses_a_table_that_does_not_check() -> None:
    with pytest.raises(TableError) as caught:
        load_table([BROKEN])
    assert len(caught.value.issues) >= 10


def test_loading_for_serve_runs_what_check_runs_on_operator_rules() -> None:
    """serve and enrich skip the alone runs of built-in rules (the suite runs those), never an
    operator rule's: the same errors come out of both, the operator's reject included."""
    _, everything = check_paths([BROKEN])
    with pytest.raises(TableError) as caught:
        load_table([BROKEN])
    errors = sorted(str(issue) for issue in everything if not issue.warning)
    assert sorted(str(issue) for issue in caught.value.issues if not issue.warning) == errors
    assert any("reject 1 matches the rule" in error for error in errors)


def test_operator_rules_load_with_the_builtin_set() -> None:
    result = cli("check", str(FIXTURES / "rules" / "ok"), "--with-builtin")
    assert result.code == 0, result.stderr
    assert b"site@1+jupyterhub@" in result.stdout


def test_missing_file_is_reported(tmp_path: Path) -> None:
    result = cli("check", str(tmp_path / "absent.toml"))
    assert result.code == 1
    assert "cannot read the file" in result.stderr
