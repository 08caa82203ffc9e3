"""Rule patterns: the regex subset we accept, and the literals a match cannot do without.

The subset is what Python's ``re``, RE2 and Rust's ``regex`` (VRL) all accept with the same
meaning, and that matches in time linear in the input: no backreferences, no lookaround, no
conditionals, no atomic groups or possessive quantifiers, no ``\\Z``, named capture groups only,
and no unbounded repetition nested inside another one (``(\\w+\\s?)+``), the shape that makes a
backtracking engine explode.

``guard_keys`` finds, from the parsed pattern, literal strings at least one of which every match
contains. The matcher feeds them to a multi-literal prefilter, and the VRL export turns them into
cheap ``contains`` checks, so a rule's regex only runs on lines that can match it.
"""

import functools
import re
import warnings
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

from app.backtracking import SPACE_CHARS, group_body, unpinned, unrolled_loop

MIN_KEY_LENGTH = 3
_ALLOWED_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE | re.UNICODE
_UNBOUNDED_ABOVE = 10  # a repeat that may take more than this many counts as unbounded for nesting

_FORBIDDEN: dict[Any, str] = {
    sre.GROUPREF: "backreference (\\1 or (?P=name)) — not supported by RE2/VRL",
    sre.GROUPREF_EXISTS: "conditional group (?(name)…) — not supported by RE2/VRL",
    sre.ASSERT: "lookahead/lookbehind (?=…) (?<=…) — not supported by RE2/VRL",
    sre.ASSERT_NOT: "negative lookahead/lookbehind (?!…) (?<!…) — not supported by RE2/VRL",
    sre.ATOMIC_GROUP: "atomic group (?>…) — not supported by RE2/VRL",
    sre.POSSESSIVE_REPEAT: "possessive quantifier (*+, ++, ?+) — not supported by RE2/VRL",
}


def _walk(items: Any) -> Any:
    """Yield every (op, arg) in a parsed pattern, depth first."""
    for op, av in items:
        yield op, av
        if op is sre.SUBPATTERN:
            yield from _walk(av[3])
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            yield from _walk(av[2])
        elif op is sre.BRANCH:
            for alternative in av[1]:
                yield from _walk(alternative)
        elif op is sre.ATOMIC_GROUP:
            yield from _walk(av)
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            yield from _walk(av[1])
        elif op is sre.GROUPREF_EXISTS:
            yield from _walk(av[1])
            if av[2] is not None:
                yield from _walk(av[2])


def _is_unbounded(op: Any, av: Any) -> bool:
    return op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and (av[1] is sre.MAXREPEAT or av[1] > _UNBOUNDED_ABOVE)


def _nested_repeat(items: Any, flags: int) -> bool:
    for op, av in _walk(items):
        nested = _is_unbounded(op, av) and any(_is_unbounded(o, a) for o, a in _walk(av[2]))
        if nested and not unrolled_loop(group_body(av[2]), flags):
            return True
    return False


def parse(pattern: str) -> Any:
    return sre_parse.parse(pattern)


@functools.cache
def group_names(pattern: str) -> frozenset[str]:
    """The names of the pattern's groups."""
    return frozenset(parse(pattern).state.groupdict)


def check_pattern(pattern: str) -> list[str]:
    """Every reason the pattern is outside the accepted subset (empty when it is fine)."""
    try:
        with warnings.catch_warnings():
            # Python warns where a class holds what the `regex` crate reads as a set operation
            # or a nested class (`&&`, `--`, `~~`, `[[`, `[:alpha:]`): the engines would differ
            warnings.simplefilter("error", FutureWarning)
            parsed = parse(pattern)  # the parser warns (compiling would not, once cached)
            re.compile(pattern)
    except re.error as exc:
        return [f"invalid regex: {exc}"]
    except FutureWarning as exc:
        return [
            f"pattern has a class that Python and the regex crate read differently ({exc}): "
            "escape the character (\\&, \\-, \\~, \\[)"
        ]
    problems: list[str] = []
    seen: set[str] = set()
    for op, av in _walk(parsed.data):
        reason = _FORBIDDEN.get(op)
        if reason and reason not in seen:
            seen.add(reason)
            problems.append(f"pattern uses a {reason}")
        if op is sre.AT and av is sre.AT_END_STRING and "\\Z" not in seen:
            seen.add("\\Z")
            problems.append("pattern uses \\Z, which RE2/VRL do not know — use $")
        if op is sre.SUBPATTERN and av[0] is not None and "unnamed" not in seen:
            names = set(parsed.state.groupdict.values())
            if av[0] not in names:
                seen.add("unnamed")
                problems.append("pattern has an unnamed capture group — name it (?P<name>…) or use (?:…)")
        if op is sre.SUBPATTERN and (av[1] | av[2]) & ~_ALLOWED_FLAGS and "flags" not in seen:
            seen.add("flags")
            problems.append("pattern sets an inline flag other than i, m, s, x")
    if (
        parsed.state.flags & ~(_ALLOWED_FLAGS | re.UNICODE) & ~0x20 and "flags" not in seen
    ):  # 0x20: str default
        problems.append("pattern sets a global flag other than i, m, s, x")
    if _nested_repeat(parsed.data, parsed.state.flags):
        problems.append(
            "pattern nests an unbounded repetition inside another one (like (\\w+\\s?)+), which can take "
            "exponential time — rewrite it without the nesting"
        )
    else:
        problems.extend(quadratic_problems(pattern))
    return problems


def quadratic_problems(pattern: str) -> list[str]:
    """Every unbounded repetition of the pattern that a backtracking engine may run in time
    quadratic in the line's length (app.backtracking)."""
    return [
        f"pattern has an unbounded repetition {shown} that can start at many places and run over "
        "them: a backtracking engine takes time quadratic in the line's length — anchor the "
        "pattern with ^, or put before it a character it cannot match (x[^x]*), or bound it"
        for shown in unpinned(parse(pattern))
    ]


def _guards(items: Any, ignorecase: bool) -> list[tuple[str, ...]]:
    """Alternative guards of a sequence: each is a tuple of literals, one of which every match holds."""
    guards: list[tuple[str, ...]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            guards.append(("".join(run),))
            run.clear()

    for op, av in items:
        if op is sre.LITERAL and not ignorecase:
            run.append(chr(av))
            continue
        flush()
        if op is sre.SUBPATTERN:
            sub_ignorecase = (ignorecase or bool(av[1] & re.IGNORECASE)) and not av[2] & re.IGNORECASE
            guards.extend(_guards(av[3], sub_ignorecase))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and av[0] >= 1:
            guards.extend(_guards(av[2], ignorecase))
        elif op is sre.BRANCH:
            per_alternative = [_best(_guards(alt, ignorecase)) for alt in av[1]]
            if all(per_alternative):
                keys = tuple(sorted({key for guard in per_alternative if guard for key in guard}))
                guards.append(keys)
    flush()
    return guards


def _best(guards: list[tuple[str, ...]]) -> tuple[str, ...] | None:
    usable = [guard for guard in guards if guard and min(map(len, guard)) >= MIN_KEY_LENGTH]
    if not usable:
        return None
    return max(usable, key=lambda guard: (min(map(len, guard)), -len(guard)))


def literal_guards(pattern: str) -> tuple[tuple[str, ...] | None, tuple[tuple[str, ...], ...]]:
    """(the guard the prefilter searches, the other guards): each guard a tuple of literals one of
    which every match holds. The first is the best (None when the pattern has no usable one); a
    line the prefilter lets through can still be dropped before the pattern runs when it lacks
    any of the others (rules that share their longest literal and differ in another)."""
    parsed = parse(pattern)
    guards = _guards(parsed.data, bool(parsed.state.flags & re.IGNORECASE))
    chosen = _best(guards)
    others = [g for g in guards if g and min(map(len, g)) >= MIN_KEY_LENGTH and g != chosen]
    return chosen, tuple(dict.fromkeys(others))


def guard_keys(pattern: str) -> tuple[str, ...] | None:
    """Literals of which every match holds at least one; None when the pattern has no usable ones."""
    return literal_guards(pattern)[0]


def _first_chars(items: Any) -> frozenset[str] | None:
    """The characters a match of this sequence can start with, when the pattern makes that plain.
    The empty string stands for the end of the text: in the set when a match may be empty there."""
    if not items:
        return None
    op, av = items[0]
    if op is sre.LITERAL:
        return frozenset(chr(av))
    if op is sre.IN:
        chars: set[str] = set()
        for kind, value in av:
            if kind is sre.LITERAL:
                chars.add(chr(value))
            elif kind is sre.RANGE and value[1] - value[0] <= 64:
                chars.update(chr(c) for c in range(value[0], value[1] + 1))
            elif kind is sre.CATEGORY and value is sre.CATEGORY_SPACE:
                chars.update(SPACE_CHARS)
            else:
                return None  # negations, \d, \w, wide ranges: not a small plain set
        return frozenset(chars)
    if op is sre.AT and av is sre.AT_END:  # `$`: the end of the text, or a newline that ends it
        return frozenset(("", "\n"))
    if op is sre.SUBPATTERN and not (av[1] & re.IGNORECASE):
        return _first_chars(list(av[3]))
    if op is sre.BRANCH:
        found: set[str] = set()
        for alternative in av[1]:
            sub = _first_chars(list(alternative))
            if sub is None:
                return None
            found |= sub
        return frozenset(found)
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
        inner = _first_chars(list(av[2]))
        if av[0] >= 1 or inner is None:
            return inner
        rest = _first_chars(items[1:])  # may repeat zero times: what follows can start the match
        return None if rest is None else inner | rest
    return None


def _after_caret(pattern: str) -> list[Any] | None:
    """The parsed items after a leading `^`, for a case-sensitive pattern without MULTILINE."""
    parsed = parse(pattern)
    if parsed.state.flags & (re.IGNORECASE | re.MULTILINE):
        return None
    data = list(parsed.data)
    if not data or data[0] != (sre.AT, sre.AT_BEGINNING):
        return None
    return data[1:]


def first_chars(pattern: str) -> frozenset[str] | None:
    """For a `^…` pattern, the characters a matching text can start with; None when unknown."""
    items = _after_caret(pattern)
    return None if items is None else _first_chars(items)


def is_anchored(pattern: str) -> bool:
    """Whether every match starts at the beginning of the text (`^…` without MULTILINE)."""
    parsed = parse(pattern)
    data = list(parsed.data)
    return bool(data) and data[0] == (sre.AT, sre.AT_BEGINNING) and not parsed.state.flags & re.MULTILINE
