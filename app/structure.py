"""What the decoders refuse beyond their grammar, found where the native engine finds it.

Depth: a body's top-level values (a batch's array, a line of NDJSON, a MessagePack object) are
level 1; a container deeper than MAX_DEPTH is refused (400), at the first such container in the
body's order. MessagePack also: a map key that is an array or a map (JSON has no such key) and a
timestamp extension that is not one.

    too_deep(value, level) -> bool         a decoded value, itself `level` deep
    json_deep_at(body, start, level)       where in JSON text the first too-deep container opens
    msgpack_problem(data, start, limit)    the first problem in a MessagePack object, and where

The locators run only once a decoder met a problem, so the common path pays one walk of the
decoded values (and for JSON not even that when the body has too few brackets to nest so deep).
"""

import re
from collections.abc import Iterator
from typing import Any, Final, NamedTuple

from app.batch import MAX_DEPTH

REASON: Final = f"nested more than {MAX_DEPTH} deep"

# a JSON string, skipped whole, or a bracket
_JSON_TOKEN: Final = re.compile(rb'"(?:[^"\\]++|\\.)*+"|[\[\]{}]', re.DOTALL)


def may_be_too_deep(data: bytes) -> bool:
    """False when JSON text holds too few brackets to nest deeper than the limit."""
    return data.count(b"[") + data.count(b"{") > MAX_DEPTH


def too_deep(value: Any, level: int = 1) -> bool:
    """Whether a decoded value, itself `level` deep, holds a container deeper than the limit."""
    if not isinstance(value, dict | list):
        return False
    stack = [(value, level)]
    while stack:
        container, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = container.values() if isinstance(container, dict) else container
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def json_deep_at(body: bytes, start: int, level: int = 1) -> int:
    """The offset of the first container deeper than the limit in the JSON text at `start`, the
    value there being `level` deep; -1 when there is none before the text ends."""
    depth = level - 1
    for match in _JSON_TOKEN.finditer(body, start):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > MAX_DEPTH:
                return match.start()
        elif token in (b"]", b"}"):
            depth -= 1
            if depth < level:
                return -1
    return -1


# MessagePack: the bytes a scalar's type byte is followed by, or how its length is written
_FIXED: Final = {0xC0: 0, 0xC2: 0, 0xC3: 0, 0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8} | {
    0xD0: 1,
    0xD1: 2,
    0xD2: 4,
    0xD3: 8,
}
# type byte -> width of the length (an extension has its type byte after it)
_SIZED: Final = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}
# extensions: the width of the length, or minus the fixed length of the data
_EXT: Final = {0xC7: 1, 0xC8: 2, 0xC9: 4, 0xD4: -1, 0xD5: -2, 0xD6: -4, 0xD7: -8, 0xD8: -16}
# type byte -> (width of the count, whether a map)
_COUNTED: Final = {0xDC: (2, False), 0xDD: (4, False), 0xDE: (2, True), 0xDF: (4, True)}


class _Cut(Exception):
    """The bytes end inside an object (the decoder says so itself)."""


class _Unknown(Exception):
    """The type byte MessagePack never uses (0xc1)."""

    def __init__(self, pos: int) -> None:
        super().__init__(f"unknown type 0x{0xC1:02x}")
        self.pos = pos


class Head(NamedTuple):
    items: int  # entries of a map, items of an array; -1 for a scalar
    is_map: bool
    after: int  # where the next object starts: the first entry, or past the scalar
    ext: tuple[int, int, int] | None = None  # an extension's (type, data start, data end)


def _uint(data: bytes, pos: int, width: int) -> int:
    if pos + width > len(data):
        raise _Cut
    return int.from_bytes(data[pos : pos + width], "big")


def _scalar(data: bytes, end: int, ext: tuple[int, int, int] | None = None) -> Head:
    if end > len(data):
        raise _Cut
    return Head(-1, False, end, ext)


def head(data: bytes, pos: int) -> Head:
    """The object at `pos`: a container's header or a whole scalar."""
    if pos >= len(data):
        raise _Cut
    tag = data[pos]
    if tag <= 0x7F or tag >= 0xE0:
        return Head(-1, False, pos + 1)
    if tag <= 0x8F:
        return Head(tag & 0x0F, True, pos + 1)
    if tag <= 0x9F:
        return Head(tag & 0x0F, False, pos + 1)
    if tag <= 0xBF:
        return _scalar(data, pos + 1 + (tag & 0x1F))
    if tag in _EXT:
        width = _EXT[tag]
        size = -width if width < 0 else _uint(data, pos + 1, width)
        start = pos + 2 + max(width, 0)
        code = int.from_bytes(data[start - 1 : start], "big", signed=True)
        return _scalar(data, start + size, (code, start, start + size))
    if tag in _FIXED:
        return _scalar(data, pos + 1 + _FIXED[tag])
    if tag in _SIZED:
        width = _SIZED[tag]
        return _scalar(data, pos + 1 + width + _uint(data, pos + 1, width))
    if tag in _COUNTED:
        width, is_map = _COUNTED[tag]
        return Head(_uint(data, pos + 1, width), is_map, pos + 1 + width)
    raise _Unknown(pos)


def _timestamp(data: bytes) -> bool:
    """Whether an extension of type -1 holds a timestamp MessagePack allows."""
    if len(data) == 8:
        return int.from_bytes(data, "big") >> 34 < 1_000_000_000
    if len(data) == 12:
        return int.from_bytes(data[:4], "big") < 1_000_000_000
    return len(data) == 4


def _walk(data: bytes, start: int) -> Iterator[tuple[int, int, bool, Head]]:
    """Every object inside the one at `start`, in order: (offset, level, is a map key, head)."""
    left: list[tuple[int, bool]] = [(1, False)]  # (objects still to read, in a map) per level
    pos = start
    while left:
        count, in_map = left[-1]
        if not count:
            left.pop()
            continue
        left[-1] = (count - 1, in_map)
        found = head(data, pos)
        yield pos, len(left), in_map and count % 2 == 0, found
        if found.items >= 0:
            left.append((found.items * (2 if found.is_map else 1), found.is_map))
        pos = found.after


def msgpack_problem(data: bytes, start: int, limit: int) -> tuple[int, str] | None:
    """The first thing the MessagePack object at `start` holds that is refused, and where: first
    what its reading stops at (an unknown type byte, a container longer than `limit`, nesting
    too deep), then what JSON cannot hold (a container as a map key, a malformed timestamp).
    None when there is nothing, or the bytes end first."""
    try:
        for pos, level, _, found in _walk(data, start):
            if found.items >= 0 and level > MAX_DEPTH:
                return pos, REASON
            if found.items > limit:
                return pos, "a container holds more elements than the limit"
        for pos, _, is_key, found in _walk(data, start):
            if is_key and found.items >= 0:
                return pos, "a map key that is an array or a map"
            if found.ext and found.ext[0] == -1 and not _timestamp(data[found.ext[1] : found.ext[2]]):
                return pos, "a timestamp extension that is not one"
    except _Unknown as exc:
        return exc.pos, str(exc)
    except _Cut:
        return None
    return None
