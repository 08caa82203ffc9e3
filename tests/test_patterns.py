"""The accepted regex subset and the guard literals the prefilter uses."""

import re
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.patterns import SPACE_CHARS, check_pattern, first_chars, guard_keys, is_anchored, literal_guards
from tests.helpers import ROOT


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
        # classes the regex crate reads as set operations or nested classes, Python as characters
        (r"[a&&b]", "read differently"),
        (r"[a~~b]", "read differently"),
        (r"[\w--\d]", "read differently"),
        (r"[[:alpha:]]", "read differently"),
        # repetitions a backtracking engine runs in quadratic time (app/backtracking.py)
        (r"(?P<p>\S+) failed", "quadratic"),
        (r"oauth state argument (?P<state>.+?) != cookie", "quadratic"),
        (r"pam_unix\((?P<s>[^)]*)\): failure;.*?\buser=(?P<u>\S*)", "quadratic"),
        (r"^(?P<a>\w+)(?P<b>\d+)$", "quadratic"),
        (r"^a.*b.*c$", "quadratic"),
        (r"(?P<x>\S+)$", "quadratic"),
        (r"Spawner failed to start \[status=(?P<s>[^\]]*)\]", "quadratic"),
        (r"^User logged in: (?P<user>.+?)\s*$", "quadratic"),
        # nested repetitions that are not unrolled loops: a pass can start where the run inside takes
        (r'^"(?:a[ab]*)*"', "nests an unbounded repetition"),
        (r'^"(?:\\.(?:x+)*)*"', "nests an unbounded repetition"),
        (r'^"(?:\\.[^"]*)*"', "nests an unbounded repetition"),
        # an unrolled loop that nothing pins
        (r'x(?:\\.[^"\\]*)*y', "quadratic"),
        (r'"(?P<m>[^"\\]*(?:\\.[^"\\]*)*)$', "quadratic"),  # every quote starts a pass to the end
    ],
)
def test_outside_the_subset_is_refused(pattern: str, problem: str) -> None:
    problems = check_pattern(pattern)
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    "pattern",
    [
        r"^Failing suspected API request to not-running server: (?P<path>\S+)",
        r"^(?P<user>[^']+)'s server failed to start in (?P<timeout>\d+) seconds",
        r"(?i)received signal (?P<signal>\w+)",
        r"^(?:\S+ ){2}x{1,3}$",
        r" (?P<a>\d+(?:\.\d+)?)ms",
        r"[a\&\&b\~\~c\[]",
        # pinned repetitions: after ^, after a character they cannot take, or ending the match
        r"x(?P<p>[^x]+) failed",
        r"Server at (?P<url>\S+) didn't respond",
        r"pam_unix\((?P<s>[^()]*)\): failure;[^;]*?user=(?P<u>\S*)",
        r"^(?P<user>.+?)'s server failed",
        r"failed: (?P<x>.*)",
        r"(?:^|: )(?P<user>\S+) is pending spawn",
        r"Spawner failed to start \[status=(?P<s>[^\][]*)\]",
        r"^User logged in: (?P<user>.*\S)",
        r"^(?P<s>\S+) (?P<m>[A-Z]+) (?P<p>\S+)\s*$",
        r"^x{0,40}y",
        # unrolled loops: each pass starts with a character no run inside it can take
        r'^"message":"(?P<m>[^"\\]*(?:\\.[^"\\]*)*)"',
        r'^x"(?P<m>[^"\\]*(?:\\.[^"\\]*)*)$',
        r"^(?:a[^a]*)*b",
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
    command = [sys.executable, "-m", "benchmarks.linear", "--small", "4096", "--large", "32768"]
    done = subprocess.run(
        [*command, "--budget-us", "20", "--slack", "4"], check=False, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.parametrize(
    ("pattern", "starts", "not_starts"),
    [
        (r"^Spawning (?P<user>\S+)", "S", "s"),
        (r"^(?P<status>[45]\d\d) ", "45", "2x"),
        (r"^\s*$", " \t\n\u3000", "ax"),  # a blank line: "" stands for the empty text
        (r"^(?:a)?b", "ab", "c"),
        (r"^x*$", "x\n", "y"),
    ],
)
def test_first_chars(pattern: str, starts: str, not_starts: str) -> None:
    chars = first_chars(pattern)
    assert chars is not None
    assert set(starts) <= chars and not set(not_starts) & chars
    assert ("" in chars) == (re.match(pattern, "") is not None)


@pytest.mark.parametrize(
    "pattern", [r"Spawning", r"^\w+", r"^\d{4}-", r"^(?P<a>a?)b", r"^(?:x|\s*)y", r"^[^a]"]
)
def test_first_chars_unknown(pattern: str) -> None:
    assert first_chars(pattern) is None


_ATOMS = st.sampled_from(["a", "b?", r"\s*", r"\d", "(?:a|$)", "$", "[0-9]+", "(?:x*)", "(?:ab|b)*", " "])


@given(
    st.lists(_ATOMS, min_size=1, max_size=5).map(lambda atoms: "^" + "".join(atoms)), st.text("ab x1\u0663\n")
)
def test_first_chars_never_excludes_a_match(pattern: str, text: str) -> None:
    chars = first_chars(pattern)
    if chars is not None and re.search(pattern, text):
        assert text[:1] in chars


def test_space_chars_are_what_backslash_s_takes() -> None:
    every = (chr(code) for code in range(sys.maxunicode + 1))
    assert {ch for ch in every if re.match(r"\s", ch)} == SPACE_CHARS


def test_the_other_guards_are_the_literals_every_match_holds() -> None:
    pattern = (
        r"^(?P<s>\d{3}) (?:GET|POST) /hub/api/tokens/(?P<n>\S+) spawned in (?P<ms>[\d.]+)ms \(Timed out\)$"
    )
    assert guard_keys(pattern) == (" /hub/api/tokens/",)  # the longest
    assert literal_guards(pattern)[1] == (("GET", "POST"), (" spawned in ",), ("ms (Timed out)",))
    line = "200 GET /hub/api/tokens/ana spawned in 3ms (Timed out)"
    assert re.search(pattern, line)
    assert all(any(key in line for key in keys) for keys in literal_guards(pattern)[1])
    # literals under a repetition that may not happen, or case-insensitive ones, are not required
    assert guard_keys(r"abc(?:defg)?xyz(?i:HIJK)") == ("abc",)
    assert literal_guards(r"abc(?:defg)?xyz(?i:HIJK)")[1] == (("xyz",),)
