"""Which patterns a backtracking engine runs in time quadratic in the line's length, told by the
pattern's structure (never by timing, which depends on the machine).

The native engine never backtracks; the Python engine (the reference, and the fallback) does, and
``re.search`` tries the pattern at every start position. An unbounded repetition that can start
at many of those positions, and can run over the places where it could also have started, scans
the same characters again from each: ``(?P<p>\\S+) failed`` on 16 KiB of non-space characters
scans ~130 million times. A repetition is *pinned*, and costs linear time, when

- it comes right after the pattern's ``^`` (one start position), or
- what comes before it can only end with characters the repetition cannot match
  (``;[^;]*?user=``: the runs from two starts end at different ``;`` and never overlap), or the
  literal right before holds such a character;
- it follows, from a fixed position, a run of characters it cannot take (``\\S+\\s*$``);
- nothing after it can fail (it ends the match where it stops, after one scan).

``unpinned(parsed)`` names each unbounded repetition that is neither.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from re import _constants as sre  # type: ignore[attr-defined]
from typing import Any, Final

# every character `\s` takes in a str pattern (a test holds it against the running Python)
SPACE_CHARS: Final = frozenset(
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

# a set of preceding characters larger than this counts as unknown
_MAX_SET: Final = 256

Chars = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class State:
    """Where a backtracking match can be before an element.

    `fixed`: the position is one position after the start, give or take a run of characters
    that `run` accepts (empty: exactly one position), so a character `run` cannot take fixes it
    again. `ends`: the characters the text before can end with (None: unknown or many).
    `literal`: the literal text every match has right before."""

    fixed: bool
    run: tuple[Chars, ...] = ()
    ends: frozenset[str] | None = None
    literal: str = ""  # the literal text right before, when every path has it

    def join(self, other: "State") -> "State":
        literal = _common_suffix(self.literal, other.literal)
        return State(self.fixed and other.fixed, self.run + other.run, _union(self.ends, other.ends), literal)


def _category(code: Any) -> Chars:
    tests: dict[Any, Chars] = {
        sre.CATEGORY_DIGIT: str.isdecimal,
        sre.CATEGORY_NOT_DIGIT: lambda c: not c.isdecimal(),
        sre.CATEGORY_SPACE: str.isspace,
        sre.CATEGORY_NOT_SPACE: lambda c: not c.isspace(),
        sre.CATEGORY_WORD: lambda c: c.isalnum() or c == "_",
        sre.CATEGORY_NOT_WORD: lambda c: not (c.isalnum() or c == "_"),
    }
    return tests.get(code, lambda c: True)


def _class(items: Any, fold: bool) -> Chars:
    negate = any(kind is sre.NEGATE for kind, _ in items)
    tests: list[Chars] = []
    for kind, value in items:
        if kind is sre.LITERAL:
            tests.append(_literal(value, fold))
        elif kind is sre.RANGE:
            tests.append(_range(*value))
        elif kind is sre.CATEGORY:
            tests.append(_category(value))
    if fold:
        plain = list(tests)
        tests = [lambda c: any(t(c) or t(c.lower()) or t(c.upper()) for t in plain)]
    return lambda c: any(t(c) for t in tests) != negate


def _range(low: int, high: int) -> Chars:
    return lambda c: low <= ord(c) <= high


def _not_literal(code: int) -> Chars:
    char = chr(code)
    return lambda c: c != char


def _literal(code: int, fold: bool) -> Chars:
    char = chr(code)
    return (lambda c: c.lower() == char.lower()) if fold else (lambda c: c == char)


def _chars(items: Any, flags: int) -> Chars:
    """Every character a match of these items can contain."""
    fold = bool(flags & re.IGNORECASE)
    tests: list[Chars] = []
    for op, av in items:
        if op is sre.LITERAL:
            tests.append(_literal(av, fold))
        elif op is sre.NOT_LITERAL:
            tests.append(_not_literal(av))
        elif op is sre.ANY:
            tests.append((lambda c: True) if flags & re.DOTALL else (lambda c: c != "\n"))
        elif op is sre.IN:
            tests.append(_class(av, fold))
        elif op is sre.CATEGORY:
            tests.append(_category(av))
        elif op is sre.SUBPATTERN:
            tests.append(_chars(av[3], flags | av[1]))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            tests.append(_chars(av[2], flags))
        elif op is sre.BRANCH:
            tests.extend(_chars(alternative, flags) for alternative in av[1])
    return lambda c: any(t(c) for t in tests)


def _set(items: Any, flags: int) -> frozenset[str] | None:
    """Every character a match of these one-character elements can contain, when they are few."""
    found: frozenset[str] = frozenset()
    for op, av in items:
        ends = _ends(op, av, flags)
        if ends is None:
            return None
        found |= ends
    return found


def _ends(op: Any, av: Any, flags: int) -> frozenset[str] | None:
    """The characters a one-character element can match, when they are few."""
    fold = bool(flags & re.IGNORECASE)
    if op is sre.IN and av == [(sre.CATEGORY, sre.CATEGORY_SPACE)]:
        return SPACE_CHARS
    if op is sre.LITERAL:
        char = chr(av)
        return frozenset({char, char.lower(), char.upper()}) if fold else frozenset(char)
    if op is sre.IN and not any(kind in (sre.NEGATE, sre.CATEGORY) for kind, _ in av):
        found: set[str] = set()
        for kind, value in av:
            if kind is sre.LITERAL:
                found.add(chr(value))
            elif kind is sre.RANGE:
                if value[1] - value[0] > _MAX_SET:
                    return None
                found.update(chr(c) for c in range(value[0], value[1] + 1))
        if fold:
            found |= {c.lower() for c in found} | {c.upper() for c in found}
        return frozenset(found) if len(found) <= _MAX_SET else None
    return None


def unrolled_loop(body: Any, flags: int) -> bool:
    """Whether a repeated body is an unrolled loop such as `(?:\\\\.[^"\\\\]*)*`: it starts with
    one of a few characters that no repetition inside it can take, and its only unbounded
    repetitions are of single characters. Each pass then starts at the one place such a character
    is, so the outer loop cannot split a text two ways and backtracks in linear time."""
    if not body:
        return False
    op0, av0 = body[0]
    starts = _ends(op0, av0, flags)
    if not starts:
        return False
    for op, av in body[1:]:
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            if len(av[2]) != 1 or av[2][0][0] in (sre.SUBPATTERN, sre.BRANCH, sre.MAX_REPEAT, sre.MIN_REPEAT):
                return False
            takes = _chars(av[2], flags)
            if any(takes(c) for c in starts):
                return False
        elif op in (sre.SUBPATTERN, sre.BRANCH):
            return False
    return True


def group_body(items: Any) -> Any:
    """A repeated element's items, through a group around them."""
    if len(items) == 1 and items[0][0] is sre.SUBPATTERN:
        return items[0][1][3]
    return items


def _union(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    if a is None or b is None:
        return None
    joined = a | b
    return joined if len(joined) <= _MAX_SET else None


_CATEGORY_NAMES: Final = {
    sre.CATEGORY_DIGIT: r"\d",
    sre.CATEGORY_NOT_DIGIT: r"\D",
    sre.CATEGORY_SPACE: r"\s",
    sre.CATEGORY_NOT_SPACE: r"\S",
    sre.CATEGORY_WORD: r"\w",
    sre.CATEGORY_NOT_WORD: r"\W",
}


def _show(items: Any) -> str:
    """A short rendering of a repeated element, for the message."""
    if len(items) == 1:
        op, av = items[0]
        if op is sre.ANY:
            return "."
        if op is sre.LITERAL:
            return re.escape(chr(av))
        if op is sre.NOT_LITERAL:
            return f"[^{re.escape(chr(av))}]"
        if op is sre.IN and len(av) == 1 and av[0][0] is sre.CATEGORY:
            return _CATEGORY_NAMES.get(av[0][1], "[…]")
        if op is sre.IN:
            return "[…]"
    return "(…)"


def _can_be_empty(op: Any, av: Any) -> bool:
    """Whether the element always matches the empty string (no assertion that can fail)."""
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
        return av[0] == 0 or all(_can_be_empty(*item) for item in av[2])
    if op is sre.SUBPATTERN:
        return all(_can_be_empty(*item) for item in av[3])
    if op is sre.BRANCH:
        return any(all(_can_be_empty(*item) for item in alternative) for alternative in av[1])
    return False


class _Walker:
    def __init__(self) -> None:
        self.found: list[str] = []

    def sequence(self, items: Any, state: State, flags: int, free: bool) -> State:
        """Walk a sequence; the state after it. `free`: what follows the sequence always matches."""
        items = list(items)
        for index, (op, av) in enumerate(items):
            tail_free = free and all(_can_be_empty(*item) for item in items[index + 1 :])
            state = self.item(op, av, state, flags, tail_free)
        return state

    def item(self, op: Any, av: Any, state: State, flags: int, free: bool) -> State:
        if op is sre.AT:
            if not flags & re.MULTILINE:
                if av is sre.AT_BEGINNING:
                    return State(fixed=True, ends=frozenset())  # the text's start: one place
                if av is sre.AT_END:  # the text's end, or before a last newline: two places
                    return State(fixed=state.fixed, ends=state.ends)
            return state  # zero width
        if op is sre.SUBPATTERN:
            return self.sequence(av[3], state, flags | av[1], free)
        if op is sre.BRANCH:
            states = [self.sequence(alternative, state, flags, free) for alternative in av[1]]
            joined = states[0]
            for other in states[1:]:
                joined = joined.join(other)
            return joined
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            return self.repeat(op, av, state, flags, free)
        # one character: it fixes the position again unless the run before could take it too
        ends = _ends(op, av, flags)
        literal = state.literal + chr(av) if op is sre.LITERAL and not flags & re.IGNORECASE else ""
        if not state.fixed or not state.run or (ends is not None and not _meets(ends, state.run)):
            return State(state.fixed, (), ends, literal)
        return State(True, (*state.run, _chars([(op, av)], flags)), ends, literal)

    def repeat(self, op: Any, av: Any, state: State, flags: int, free: bool) -> State:
        low, high, sub = av
        chars = _chars(sub, flags)
        if high is sre.MAXREPEAT:
            unrolled = unrolled_loop(group_body(sub), flags)
            # an unrolled loop starts where its first character is: that is where it can begin
            own = _set(group_body(sub)[:1], flags) if unrolled else _set(sub, flags)
            pinned = (
                (state.fixed and (not state.run or (own is not None and not _meets(own, state.run))))
                or (state.ends is not None and not _meets(state.ends, (chars,)))
                or _stops_in(state.literal, chars)
            )
            # one that nothing after can make fail ends the match where it stops: scanned once
            if not pinned and not free:
                lazy = "?" if op is sre.MIN_REPEAT else ""
                self.found.append(f"{_show(sub)}{'*' if low == 0 else '+'}{lazy}")
            # an unrolled loop's passes start at one place each: its inner runs are judged with it
            inner = self.sequence(sub, state, flags, unrolled)
            # after it: the same position give or take a run of what it takes
            after = State(state.fixed, (*state.run, chars), inner.ends, "")
        else:
            after = self.sequence(sub, state, flags, False)
            if high is sre.MAXREPEAT or high > 1:  # a second pass sees it follow itself
                after = after.join(self.sequence(sub, after, flags, False))
        return after if low >= 1 else state.join(after)


def _common_suffix(a: str, b: str) -> str:
    size = 0
    while size < min(len(a), len(b)) and a[len(a) - 1 - size] == b[len(b) - 1 - size]:
        size += 1
    return a[len(a) - size :]


def _stops_in(literal: str, chars: Chars) -> bool:
    """Whether a run of `chars` after `literal` stops before the next place the literal is: the
    literal holds a character the run cannot take, and two of its occurrences cannot overlap."""
    if not literal or all(chars(c) for c in literal):
        return False
    return not any(literal[:size] == literal[-size:] for size in range(1, len(literal)))


def _meets(ends: frozenset[str], run: tuple[Chars, ...]) -> bool:
    return any(test(c) for test in run for c in ends)


def unpinned(parsed: Any) -> list[str]:
    """The unbounded repetitions of a parsed pattern (``re._parser.parse``) that nothing pins,
    shown as written (``\\S+``, ``.*?``, ``(…)*``), in order."""
    flags = parsed.state.flags
    items = list(parsed.data)
    state = State(fixed=False)
    if items and items[0] == (sre.AT, sre.AT_BEGINNING) and not flags & re.MULTILINE:
        state = State(fixed=True, ends=frozenset())
        items = items[1:]
    walker = _Walker()
    walker.sequence(items, state, flags, True)
    return walker.found
