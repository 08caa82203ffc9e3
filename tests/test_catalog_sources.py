"""The evidence tables in docs/catalog/ against the built-in table, and the table against itself:
every rule a table names exists, every built-in rule is named by a row, every row without a rule
says why, the projects whose every warning-or-higher call is accounted for have rules for most of
them, the most specific matching rule decides, and no pattern leans on a module:line or on a user
or host name of its examples.
"""

import csv
import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.check import classify_lines
from app.compiler import CompiledRule, Table
from app.spec import Example
from tests.helpers import ROOT

CATALOG = ROOT / "docs" / "catalog"
COLUMNS = ["project", "versions", "location", "level", "message", "rule", "note"]
LEVELS = {"debug", "info", "warning", "error", "critical", "exception"}
WARNING_OR_HIGHER = {"warning", "error", "critical", "exception"}
# the projects whose table accounts for every warning-or-higher call; most of those need a rule
FULLY_LISTED = ("jupyterhub", "configurable-http-proxy", "kubespawner", "jupyterhub-idle-culler")
MIN_RULED_SHARE = 0.75
# `path:line@tag` inside the project, or a documentation / source URL for messages from below
# path:line@tag; a documentation URL; or, for messages from below (Kubernetes, systemd), the
# project and the source file that writes them, with the function in parentheses
LOCATION = re.compile(r"^(?:[\w./@+-]+:\d+@[\w.+-]+|https://\S+|[\w./-]+ [\w./-]+(?: \([\w.,_ ]+\))?)$")
# a range of releases; "jupyterhub 0.9.0-1.1.0" when the call shipped in another project's releases
VERSIONS = re.compile(r"^(?:[a-z][\w-]* )?v?\d+(?:\.\d+)*[\w.]*-(?:v?\d+(?:\.\d+)*[\w.]*)?$")
# a file rule that would only hold for one release: `base:1349]`, `\w+:\d+\]`, `[a-z_]+:[0-9]{2,}\]`
MODULE_LINE = re.compile(r":(?:\\d|\[0-9\]|[0-9])\S{0,12}?\\\]")
# fields that carry who or where: their example values must not be spelled out in the pattern
PERSON_OR_PLACE = {"user", "username", "name", "owner", "host", "hostname", "node", "ip", "client"}
# values that are the message's own words or placeholders, not somebody's name
NOT_A_NAME = re.compile(r"^(?:user|users|admin|server|host|name|<[^<>]*>|\{[^{}]*\})$")
SYSLOG_HOST = re.compile(r"^[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2} (?P<host>\S+) ")
GENERIC_FILE = "90-generic.toml"


def _catalog_files() -> list[Path]:
    return sorted(CATALOG.glob("*.csv"))


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == COLUMNS, f"{path.name}: header {reader.fieldnames}"
        return list(reader)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "catalog_file" in metafunc.fixturenames:
        files = _catalog_files()
        metafunc.parametrize("catalog_file", files, ids=[path.stem for path in files])
    if "listed_project" in metafunc.fixturenames:
        present = [name for name in FULLY_LISTED if (CATALOG / f"{name}.csv").exists()]
        metafunc.parametrize("listed_project", present)


def test_there_are_evidence_tables() -> None:
    names = {path.stem for path in _catalog_files()}
    assert {"jupyterhub", "jupyter-server", "notebook", "z2jh"} <= names


def test_rows_are_well_formed(catalog_file: Path) -> None:
    rows = read_rows(catalog_file)
    assert rows, catalog_file.name
    for number, row in enumerate(rows, 2):
        where = f"{catalog_file.name}:{number}"
        assert row["project"] == catalog_file.stem, where
        assert VERSIONS.match(row["versions"]), (where, row["versions"])
        assert LOCATION.match(row["location"]), (where, row["location"])
        assert row["level"] in LEVELS, (where, row["level"])
        assert row["message"].strip(), where


def test_every_named_rule_exists(table: Table, catalog_file: Path) -> None:
    known = {rule.id for rule in table.rules}
    missing = sorted({row["rule"] for row in read_rows(catalog_file) if row["rule"]} - known)
    assert not missing, f"{catalog_file.name} names rules the built-in table lacks: {missing}"


def test_every_builtin_rule_is_named_by_a_row(table: Table) -> None:
    """Each built-in rule names its evidence: the call or message it classifies."""
    named = {row["rule"] for path in _catalog_files() for row in read_rows(path) if row["rule"]}
    unnamed = sorted(rule.id for rule in table.rules if rule.id not in named)
    assert not unnamed, f"built-in rules that no evidence table names: {unnamed}"


def test_every_row_without_a_rule_says_why(catalog_file: Path) -> None:
    silent = [
        (number, row["message"])
        for number, row in enumerate(read_rows(catalog_file), 2)
        if not row["rule"] and not row["note"].strip()
    ]
    assert not silent, f"{catalog_file.name}: rows with neither rule nor note: {silent[:10]}"


def test_most_warning_or_higher_calls_have_a_rule(listed_project: str) -> None:
    rows = [row for row in read_rows(CATALOG / f"{listed_project}.csv") if row["level"] in WARNING_OR_HIGHER]
    assert rows, listed_project
    ruled = sum(1 for row in rows if row["rule"])
    share = ruled / len(rows)
    assert share >= MIN_RULED_SHARE, f"{listed_project}: {ruled} of {len(rows)} ({share:.0%}) have a rule"


# --- specific beats general ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Matches:
    """Which built-in rules match each example line on their own, and which rule wins it."""

    alone: dict[str, frozenset[str]]  # line -> ids of the rules that match it alone
    winner: dict[str, str]  # line -> id of the rule that classifies it in the whole table
    examples: dict[str, tuple[str, ...]]  # rule id -> its example lines
    generic: frozenset[str]  # ids of the rules of the generic file

    def matches_all(self, rule_id: str, lines: tuple[str, ...]) -> bool:
        return all(rule_id in self.alone[line] for line in lines)

    def more_general(self, wide: str, narrow: str) -> bool:
        """`wide` is the fallback of the generic file and `narrow` is not; or `wide` matches every
        example of `narrow` while `narrow` does not match every example of `wide`."""
        if wide in self.generic and narrow not in self.generic:
            return True
        if narrow in self.generic:
            return False
        return self.matches_all(wide, self.examples[narrow]) and not self.matches_all(
            narrow, self.examples[wide]
        )


def _alone(table: Table, rule: CompiledRule) -> Table:
    return Table((dataclasses.replace(rule, index=0),), table.version, table.rulesets)


@pytest.fixture(scope="module")
def matches(table: Table) -> Matches:
    lines = sorted({example.line for rule in table.rules for example in rule.spec.examples})
    alone: dict[str, set[str]] = {line: set() for line in lines}
    for rule in table.rules:
        for line, found in zip(lines, classify_lines(_alone(table, rule), lines), strict=True):
            if found[0] == rule.id:
                alone[line].add(rule.id)
    winners = classify_lines(table, lines)
    return Matches(
        alone={line: frozenset(ids) for line, ids in alone.items()},
        winner={line: str(found[0]) for line, found in zip(lines, winners, strict=True)},
        examples={rule.id: tuple(e.line for e in rule.spec.examples) for rule in table.rules},
        generic=frozenset(rule.id for rule in table.rules if Path(rule.path).name == GENERIC_FILE),
    )


def test_the_most_specific_rule_decides(matches: Matches, example: tuple[CompiledRule, Example]) -> None:
    """The rule that wins an example line is not more general than another rule matching it (the
    example's own rule among them)."""
    rule, case = example
    winner = matches.winner[case.line]
    beaten = sorted(
        other for other in matches.alone[case.line] - {winner} if matches.more_general(winner, other)
    )
    assert not beaten, f"{winner} wins {rule.id}'s example {case.line!r} over the more specific {beaten}"


def test_more_general_is_a_strict_order(matches: Matches) -> None:
    """What the test above relies on: no rule is more general than itself, and never both ways."""
    ids = sorted(matches.examples)
    for wide in ids:
        assert not matches.more_general(wide, wide), wide
        for narrow in ids:
            if wide < narrow:
                assert not (matches.more_general(wide, narrow) and matches.more_general(narrow, wide))


# --- what a pattern must not spell out ------------------------------------------------------------


def _who_and_where(rule: CompiledRule) -> Iterator[str]:
    for case in rule.spec.examples:
        for name, value in (case.fields or {}).items():
            if (
                name in PERSON_OR_PLACE
                and isinstance(value, str)
                and len(value) >= 3
                and not NOT_A_NAME.match(value)
            ):
                yield value
        host = SYSLOG_HOST.match(case.line)
        if host:
            yield host["host"]


def _literal_text(pattern: str) -> str:
    """The pattern with its escapes taken as the characters they stand for."""
    return re.sub(r"\\(.)", r"\1", pattern)


def test_no_pattern_matches_a_module_line(rule: CompiledRule) -> None:
    sources = [rule.spec.pattern] + [derived.pattern for derived in rule.spec.derive]
    for source in sources:
        assert not MODULE_LINE.search(source), f"{rule.id}: {source!r}"


def test_no_pattern_spells_out_a_user_or_host_of_its_examples(rule: CompiledRule) -> None:
    literal = _literal_text(rule.spec.pattern)
    named = sorted({value for value in _who_and_where(rule) if value in literal})
    assert not named, f"{rule.id}: pattern spells out {named}"


def test_the_module_line_check_catches_what_it_should() -> None:
    """The check above is only as good as MODULE_LINE: it must flag these shapes and pass the
    ordinary ones."""
    flagged = [r"base:1349\] Failing", r"\w+:\d+\] ", r"[a-z_]+:[0-9]{2,}\]", r"app:\d{3,4}\]"]
    passed = [r"^(?P<status>\d{3}) ", r"(?P<port>\d+)\]", r"\[(?P<code>\d+)\]", r"https?://[^/\s:]+:\d+/"]
    assert all(MODULE_LINE.search(text) for text in flagged)
    assert not any(MODULE_LINE.search(text) for text in passed)


def test_more_general_on_a_small_case() -> None:
    """`wide` matches both of `narrow`'s lines and one line `narrow` does not; `fallback` is in
    the generic file; `other` shares nothing."""
    lines = {
        "a": frozenset({"wide", "narrow", "fallback"}),
        "b": frozenset({"wide", "narrow"}),
        "c": frozenset({"wide"}),
        "d": frozenset({"other", "fallback"}),
    }
    found = Matches(
        alone=lines,
        winner={},
        examples={"wide": ("a", "c"), "narrow": ("a", "b"), "fallback": ("d",), "other": ("d",)},
        generic=frozenset({"fallback"}),
    )
    assert found.more_general("wide", "narrow")
    assert not found.more_general("narrow", "wide")
    assert found.more_general("fallback", "other")
    assert found.more_general("fallback", "narrow")
    assert not found.more_general("other", "fallback")
    assert not found.more_general("wide", "other")
