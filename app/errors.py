"""The product's one error tree, and the problem values that checks collect.

    LogenrichError
    ├── TableError          a rule table did not load, compile or check (carries every Issue)
    ├── InputError          CLI input that cannot be read at all
    ├── SettingsError       settings or a downstreams file that cannot be used
    ├── CodecError          a request body that cannot be read (kind: undecodable, too_large,
    │                       too_many_records, unsupported_type, unsupported_encoding)
    └── Refused             the service does not take a request now or ever
        ├── Unauthorized    missing or wrong bearer token
        ├── NotFound        no downstream of that name
        │   └── NoSample    no sample of unclassified messages, or nothing in it to draft
        ├── BodyTimeout     the body did not arrive in time
        ├── Overloaded      no place, no memory for another body, or the request waited too long
        ├── DownstreamDown  the downstream is unreachable, slow, throttling or misconfigured
        └── DownstreamRejected   the downstream refused the batch as it is (a 4xx of its own)

The HTTP adapter maps each class to a status and a problem type in one table
(``app.api.problems``); the CLI maps them to exit codes. Checks never raise on the first problem:
they return ``Issue`` values, and the caller decides whether to print them all (``logenrich check``)
or to refuse the table (``serve``, ``enrich``).
"""

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in a rule file: where it is, what is wrong, how to fix it."""

    path: str
    line: int | None
    rule_id: str | None
    message: str
    warning: bool = False  # reported, but does not fail the check

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        who = f" [{self.rule_id}]" if self.rule_id else ""
        kind = "warning" if self.warning else "error"
        return f"{where}: {kind}:{who} {self.message}"


class LogenrichError(Exception):
    """Base of every error the product raises on purpose."""


class TableError(LogenrichError):
    def __init__(self, issues: list[Issue]) -> None:
        self.issues = [issue for issue in issues if not issue.warning]
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"the rule table has {len(self.issues)} problem(s):\n{lines}")


class InputError(LogenrichError):
    """CLI input that cannot be read at all."""


class SettingsError(LogenrichError):
    """Settings, or a downstreams file, that cannot be used."""


CodecErrorKind = Literal[
    "undecodable", "too_large", "too_many_records", "unsupported_type", "unsupported_encoding"
]


class CodecError(LogenrichError):
    """A request body that cannot be read; `where` says where (offset, line, column…)."""

    def __init__(self, kind: CodecErrorKind, detail: str, where: dict[str, Any] | None = None) -> None:
        self.kind = kind
        self.detail = detail
        self.where = where or {}
        super().__init__(detail)


class Refused(LogenrichError):
    """The service does not take this request; `detail` says why, `retry_after` when to come back."""

    def __init__(self, detail: str, retry_after: int | None = None) -> None:
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(detail)


class Unauthorized(Refused):
    pass


class NotFound(Refused):
    pass


class NoSample(NotFound):
    pass


class BodyTimeout(Refused):
    pass


class Overloaded(Refused):
    pass


class DownstreamDown(Refused):
    pass


class DownstreamRejected(Refused):
    """The downstream's own 4xx: the batch can never succeed as it is."""

    def __init__(self, detail: str, status: int) -> None:
        self.status = status
        super().__init__(detail)
