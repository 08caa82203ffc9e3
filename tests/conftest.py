import io
import os
from pathlib import Path

import pytest
from hypothesis import settings

from app.check import load_table, rule_paths
from app.cli import run
from app.compiler import Table

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = ROOT.parent / "shared"

settings.register_profile("ci", max_examples=300, deadline=None)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def table() -> Table:
    return load_table(rule_paths(None))


class CliResult:
    def __init__(self, code: int, stdout: bytes, stderr: str) -> None:
        self.code = code
        self.stdout = stdout
        self.stderr = stderr

    @property
    def lines(self) -> list[str]:
        return self.stdout.decode().splitlines()


def cli(*argv: str, stdin: bytes | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> CliResult:
    """Run the CLI in-process, optionally with bytes on standard input."""
    out, err = io.BytesIO(), io.StringIO()
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = run(list(argv), stdout=out, stderr=err)
    return CliResult(code, out.getvalue(), err.getvalue())
