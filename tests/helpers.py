"""What several test modules share: paths, the in-process CLI runner, the built-in table (loaded
on first use, never at import) and the labelled corpus. Test modules import this, never each other."""

import functools
import io
from pathlib import Path

import orjson
import pytest

from app.catalog import rule_paths
from app.check import load_table
from app.cli import run
from app.compiler import Table
from app.engine import Engine, EngineName, load_engine
from app.enrich import EnrichOptions

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DATA = Path(__file__).resolve().parent / "data"
CORPUS = DATA / "corpus.jsonl"


@functools.cache
def builtin_table() -> Table:
    """The built-in table, loaded and checked once per test run."""
    return load_table(rule_paths(None))


# every engine the product has: each test that takes `engine_name` runs on each of them
ENGINES: tuple[EngineName, ...] = ("python", "native")


@functools.cache
def engine_for(name: EngineName, options: EnrichOptions | None = None) -> Engine:
    """The built-in table on that engine (the native one must be there: no quiet fallback)."""
    engine = load_engine(builtin_table(), options, name)
    assert engine.name == name, f"the {name} engine is not available"
    return engine


@functools.cache
def corpus_lines() -> tuple[str, ...]:
    """Every line of the labelled corpus, in file order."""
    return tuple(orjson.loads(raw)["line"] for raw in CORPUS.read_bytes().splitlines() if raw.strip())


TIMEOUT = "[W 2019-08-22 04:13:17.776 JupyterHub user:{line}] ablekh's server failed to start in {n} seconds, giving up"
MISMATCH = (
    "jupyterhub version {v}.0.0 != jupyterhub-singleuser version 1.3.0. "
    "This could cause failure to authenticate and result in redirect loops!"
)
# numbers no store keeps: past 64 bits, and past the digits Python converts to int (4300)
OVERSIZED_NUMBERS = [
    TIMEOUT.format(line=471, n="9" * 40),
    TIMEOUT.format(line=471, n="9" * 5000),
    TIMEOUT.format(line="4" * 5000, n=30),
    TIMEOUT.format(line="4" * 12, n=30),
    MISMATCH.format(v="1" * 5000),
]


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
