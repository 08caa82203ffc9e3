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

# one line of every prefix shape the parser reads (app.formats), and lines that come close to one
# without being one; the engines and the VRL export must agree on each, bare or wrapped
PREFIX_SHAPES = [
    "[W 2022-03-10 17:25:19.774 JupyterHub base:1349] Failing suspected API request",
    "[I 2024-05-21 20:49:19.082 JupyterHubSingleUser] Starting jupyterhub single-user server extension",
    "[W 09:28:06.807 NotebookApp] 404 GET /kurento (127.0.0.1) 1.98ms referer=None",
    "[I 220331 15:02:13 __init__:191] Culling server alice (inactive for 00:02:09)",
    "2025-06-01T12:34:56.789Z [ConfigProxy] info: Adding route /user/alice -> http://10.0.0.5:8888",
    "13:03:57.919 - error: [ConfigProxy] 503 GET /user/anto/api/terminals?_=1500667195820",
    "ERROR:asyncio:Task exception was never retrieved",
    "2018-05-02 15:03:49,119 WARNING Retrying (Retry(total=2))",
    # a level word first (a custom log_format)
    "WARNING 2024-03-01T10:00:00.123Z [SingleUserNotebookApp mixins:123] message",
    "INFO 2024-03-01 10:00:00,123 [ServerApp] Jupyter Server 2.14.0 is running at:",
    "ERROR    2024-03-01T10:00:00+0100 [JupyterHub app:3] padded",
    "CRITICAL 2024-03-01T10:00:00.123456+00:00 [IdleCuller __init__:255] offset",
    "INFO: [ServerApp] 200 GET /user/a/api/status (a@10.0.0.1) 1.00ms",
    "DEBUG 2024-03-01T10:00:00.123Z [JupyterHub proxy:415]",
    "ERROR: [Errno 111] Connection refused",
    "WARNING 2024-03-01 the day [it] happened",
    "INFO  [ServerApp]",
    # a hub line that lost its `[` or `[L `
    "W 2022-03-10 17:25:19.774 JupyterHub base:1349] Failing suspected API request",
    "I 2024-05-21 20:49:19.082 JupyterHubSingleUser] Starting",
    "2022-03-10 17:25:19.774 JupyterHub base:1349] Failing suspected API request",
    "2024-01-23T09:51:06.938 JupyterHub app:3336] Received signal SIGINT",
    "2022-03-10 17:25:19.774 JupyterHub base:1349]",
    "2022-03-10 17:25:19.774 JupyterHub] no module:line",
    "2022-03-10 17:25:19.774 the job ran: done] ok",
    "2022-03-10 17:25:19.774 JupyterHub base:1349 ] a space before the bracket",
    # configurable-http-proxy without its time
    "[ConfigProxy] info: Adding route /user/alice -> http://127.0.0.1:32772",
    "[ConfigProxy] error: 503 GET /user/bob/api/kernels socket hang up",
    "[ConfigProxy] Proxy error: Error: socket hang up",
    "error: [ConfigProxy] 503 GET /user/anto/api/terminals?_=1500667195820",
    "debug: [ConfigProxy] PROXY WEB /hub/home to http://127.0.0.1:8081",
    "[ConfigProxyX] info: no",
    "notice: [ConfigProxy] not a level of the proxy",
    # JSON records: the classic notebook, python-json-logger, structlog, and ones that are none
    '{"written_at": "2020-10-12T21:17:02.042Z", "msg": "Looking for jupyter_config", "logger": "NotebookApp", '
    '"level": "DEBUG", "module": "application", "line_no": 179}',
    '{"asctime": "2024-03-01 10:00:00,123", "levelname": "WARNING", "name": "JupyterHub", "module": "base", '
    '"lineno": 1349, "message": "Failing suspected API request"}',
    '{"message": "Unhandled error", "levelname": "ERROR", "name": "JupyterHub", "exc_info": '
    '"Traceback (most recent call last):\\n  File \\"x.py\\", line 1\\nValueError: boom"}',
    '{"message": "m", "name": "JupyterHub", "exc_info": ""}',
    '{"message": "Uncaught exception GET /hub/api/users (10.0.0.1)", "levelname": "ERROR", "exc_info": '
    '"Traceback (most recent call last):\\n  File \\"x.py\\", line 1, in f\\nValueError: boom"}',
    '{"event": "Uncaught exception GET /hub/api/users (10.0.0.1)", "level": "error", "exception": '
    "\"Traceback (most recent call last):\\nKeyError: 'a'\"}",
    '{"event": "Culling server alice", "level": "info", "logger": "jupyterhub_idle_culler", '
    '"timestamp": "2024-03-01T10:00:00.123456Z"}',
    '{"event": "failed", "level": "error", "exception": "Traceback (most recent call last):\\nKeyError: \'a\'"}',
    '{"event": "x", "timestamp": 1709287200.5, "logger": 3, "level": "warning"}',
    '{"msg": "classic first", "message": "not this", "levelname": "ERROR", "level": "INFO"}',
    '{"message": "no marks"}',
    '{"event": "no marks", "level": 30}',
    '{"message": 42, "levelname": "ERROR"}',
    '{"log": "{\\"event\\": \\"in docker\\", \\"level\\": \\"warning\\"}\\n", "stream": "stderr"}',
    '{"log": "{\\"log\\": \\"twice\\"}\\n", "stream": "stderr"}',
    '{"log": "{\\"message\\": \\"x\\"}\\n"}',
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
