"""The accepted regex subset and the guard literals the prefilter uses."""

import pytest

from app.patterns import check_pattern, guard_keys, is_anchored
from benchmarks import linear


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (r"(?P<a>x)(?P=a)", "backreference"),
        (r"(?P<a>x)\1", "backreference"),
        (r"a(?=b)", "lookahead"),
        (r"a(?!b)", "negative lookahead"),
        (r"(?<=a)b", "lookahead/lookbehind"),
        (r"(?<!a)b", "negative lookahead/lookbehind"),
        (r"(?>ab)", "atomic group"),
        (r"a++", "possessive"),
        (r"(?P<a>x)?(?(a)y|z)", "conditional"),
        (r"end\Z", "\\Z"),
        (r"(x)", "unnamed capture group"),
        (r"(?:a+)+b", "nests an unbounded repetition"),
        (r"(?P<w>\w+\s?)*$", "nests an unbounded repetition"),
        (r"(?P<x>", "invalid regex"),
    ],
)
def test_outside_the_subset_is_refused(pattern: str, problem: str) -> None:
    problems = check_pattern(pattern)
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    "pattern",
    [
        r"^Failing suspected API request to not-running server: (?P<path>\S+)",
        r"(?P<user>[^']+)'s server failed to start in (?P<timeout>\d+) seconds",
        r"(?i)received signal (?P<signal>\w+)",
        r"^(?:\S+ ){2}x{1,3}$",
        r"(?P<a>\d+(?:\.\d+)?)ms",
    ],
)
def test_inside_the_subset_is_accepted(pattern: str) -> None:
    assert check_pattern(pattern) == []


@pytest.mark.parametrize(
    ("pattern", "keys"),
    [
        (r"^Failing suspected API request: (?P<path>\S+)", ("Failing suspected API request: ",)),
        (r"(?P<user>\S+)'s server failed to start", ("'s server failed to start",)),
        (r"^(?:User logged in|Logged in user): (?P<u>.+)", ("Logged in user", "User logged in")),
        (r"(?i)case blind", None),
        (r"^(?P<status>\d{3}) (?P<m>[A-Z]+)", None),
        (r"Culling (?:server|user) (?P<name>\S+)", ("Culling ",)),
        (r"(?:abc)+ tail", (" tail",)),
        (r"(?:abcd)+ x", ("abcd",)),
    ],
)
def test_guard_keys(pattern: str, keys: tuple[str, ...] | None) -> None:
    assert guard_keys(pattern) == keys


def test_anchoring() -> None:
    assert is_anchored(r"^abc")
    assert not is_anchored(r"abc")
    assert not is_anchored(r"(?m)^abc")


def test_every_shipped_rule_matches_in_linear_time() -> None:
    """The length-scaling benchmark, small: 4 KiB -> 32 KiB lines built from every example.

    A generous per-character budget; a superlinear rule grows ~64x here, not ~8x.
    """
    assert linear.main(["--small", "4096", "--large", "32768", "--budget-us", "20", "--slack", "4"]) == 0
