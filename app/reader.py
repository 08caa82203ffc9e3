"""Read log input for the CLI: raw log lines, a JSON array, or NDJSON records — detected.

Raw lines are grouped into records: a line indented by four spaces (or a tab) continues the
record before it, the way tornado's formatter writes tracebacks and multi-line messages. Each
record becomes ``{"message": text}``. A JSON line that does not parse is kept as a raw line, so
nothing is lost; ``Reader.bad_lines`` counts them.
"""

import re
from collections.abc import Iterator
from typing import IO, Any, Final

import orjson

# `[` followed by what can start a JSON value, not by a log level letter and a space
_JSON_ARRAY_START: Final = re.compile(rb"\[\s*(?:[\[{\]\"0-9tfn-]|$)")


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


class Reader:
    """Iterate the records of a binary stream, deciding its shape from its first bytes."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.bad_lines = 0
        self.shape = "raw"
        self.bytes_read = 0

    def _lines(self, first: bytes) -> Iterator[str]:
        for chunk in (
            (first, *iter(self._stream.readline, b"")) if first else iter(self._stream.readline, b"")
        ):
            self.bytes_read += len(chunk)
            yield chunk.decode("utf-8", "replace")

    def records(self) -> Iterator[Any]:
        head = self._stream.readline()
        stripped = head.lstrip()
        if stripped.startswith(b"{"):
            self.shape = "ndjson"
            yield from self._ndjson(head)
        elif _JSON_ARRAY_START.match(stripped):
            body = head + self._stream.read()
            self.bytes_read = len(body)
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError:
                data = None
            if isinstance(data, list):
                self.shape = "json"
                yield from data
                return
            yield from self._raw_text(body)
        else:
            for text in group_lines(self._lines(head)):
                yield {"message": text}

    def _raw_text(self, body: bytes) -> Iterator[Any]:
        for text in group_lines(iter(body.decode("utf-8", "replace").splitlines())):
            yield {"message": text}

    def _ndjson(self, first: bytes) -> Iterator[Any]:
        for line in self._lines(first):
            text = line.strip()
            if not text:
                continue
            try:
                yield orjson.loads(text)
            except orjson.JSONDecodeError:
                self.bad_lines += 1
                yield {"message": line.rstrip("\r\n")}
