"""Read log input for the CLI in chunks the engine takes whole: raw log lines, a JSON array, or
NDJSON records — detected from the first line.

Raw lines are grouped into records: a line indented by four spaces (or a tab) continues the
record before it, the way tornado's formatter writes tracebacks and multi-line messages. A chunk
never ends inside a record. Each record becomes ``{"message": text}`` in the engine.
"""

import re
from collections.abc import Iterator
from typing import IO, Final, Literal

from app.batch import Kind

# `[` followed by what can start a JSON value, not by a log level letter and a space
_JSON_ARRAY_START: Final = re.compile(rb"\[\s*(?:[\[{\]\"0-9tfn-]|$)")
CHUNK_BYTES: Final = 512 * 1024


def is_continuation(line: str) -> bool:
    # tornado indents every continuation, blank lines included ("\n" -> "\n    ")
    return line.startswith(("    ", "\t"))


def group_lines(lines: Iterator[str]) -> Iterator[str]:
    """Join continuation lines to the record they belong to."""
    current: str | None = None
    for raw in lines:
        line = raw.rstrip("\r\n")
        if current is not None and is_continuation(line):
            current += "\n" + line
            continue
        if current is not None:
            yield current
        current = line if line.strip() else None
    if current is not None:
        yield current


Shape = Literal["raw", "ndjson", "json"]


class Reader:
    """The chunks of a binary stream, its shape decided from its first line."""

    def __init__(self, stream: IO[bytes], chunk_bytes: int = CHUNK_BYTES) -> None:
        self._stream = stream
        self.chunk_bytes = chunk_bytes
        self.shape: Shape = "raw"
        self.bytes_read = 0

    def _line(self) -> bytes:
        line = self._stream.readline()
        self.bytes_read += len(line)
        return line

    def chunks(self) -> Iterator[tuple[Kind, bytes]]:
        """(how to read it, bytes) for each chunk, in order; each holds whole records."""
        head = self._line()
        stripped = head.lstrip()
        if stripped.startswith(b"{"):
            self.shape = "ndjson"
            yield from self._blocks(head, "ndjson", continuation=False)
        elif _JSON_ARRAY_START.match(stripped):
            body = head + self._stream.read()
            self.bytes_read = len(body)
            self.shape = "json"
            yield "json", body
        elif head:
            yield from self._blocks(head, "text", continuation=True)

    def _blocks(self, head: bytes, kind: Kind, continuation: bool) -> Iterator[tuple[Kind, bytes]]:
        """Blocks of about `chunk_bytes`, each cut after the last line break that starts a
        record (with `continuation`, an indented line belongs to the record before it)."""
        pending = head
        while True:
            block = self._stream.read(self.chunk_bytes)
            self.bytes_read += len(block)
            if not block:
                break
            pending += block
            cut = _record_start(pending, continuation)
            if cut > 0:
                yield kind, pending[:cut]
                pending = pending[cut:]
        if pending:
            yield kind, pending


def _record_start(data: bytes, continuation: bool) -> int:
    """Where the last whole line that starts a record begins (after its line break); 0: none."""
    end = len(data)
    while True:
        newline = data.rfind(b"\n", 0, end)
        if newline < 0:
            return 0
        start = newline + 1
        if continuation:
            # how the next line starts is known once it has four bytes or has ended
            undecided = end - start < 4 and data.find(b"\n", start) < 0
            if undecided or data.startswith((b"    ", b"\t"), start):
                end = newline
                continue
        return start
