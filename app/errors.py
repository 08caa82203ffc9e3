"""The error tree and the problem values that checks collect.

    LogenrichError
    ├── TableError        a rule table did not load, compile or check (carries every Issue)
    └── InputError        input that cannot be read at all (CLI files)

Checks never raise on the first problem: they return ``Issue`` values, and the caller decides
whether to print them all (``logenrich check``) or to refuse the table (``serve``, ``enrich``).
"""

from dataclasses import dataclass


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
    """Input that cannot be read at all."""
