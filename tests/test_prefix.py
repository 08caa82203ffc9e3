"""Line prefixes of every format the reference lists, with and without supervisor prefixes."""

import re
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app import formats
from app.batch import Answer, Limits
from app.engine import EngineName
from app.patterns import check_pattern
from app.prefix import embedded_start, first_line, parse_line
from app.severity import normalise_level
from tests.helpers import engine_for

CASES: list[tuple[str, str, str | None, dict[str, Any] | None]] = [
    (
        "[W 2022-03-10 17:25:19.774 JupyterHub base:1349] Failing suspected API request",
        "Failing suspected API request",
        "warning",
        {
            "format": "jupyterhub",
            "logger": "JupyterHub",
            "file": "base",
            "line": 1349,
            "time": "2022-03-10 17:25:19.774",
        },
    ),
    (
        "[I 2022-03-10 17:25:19 JupyterHub app:10] no milliseconds",
        "no milliseconds",
        "info",
        {
            "format": "jupyterhub",
            "logger": "JupyterHub",
            "file": "app",
            "line": 10,
            "time": "2022-03-10 17:25:19",
        },
    ),
    (
        "\x1b[31m[E 2016-01-05 23:17:55.352 JupyterHub ioloop:629]\x1b[0m coloured",
        "coloured",
        "error",
        {
            "format": "jupyterhub",
            "logger": "JupyterHub",
            "file": "ioloop",
            "line": 629,
            "time": "2016-01-05 23:17:55.352",
        },
    ),
    (
        "   [C 2024-01-23 09:51:06.938 JupyterHub app:3336] Received signal SIGINT, initiating shutdown...",
        "Received signal SIGINT, initiating shutdown...",
        "critical",
        {
            "format": "jupyterhub",
            "logger": "JupyterHub",
            "file": "app",
            "line": 3336,
            "time": "2024-01-23 09:51:06.938",
        },
    ),
    (
        "[I 2024-05-21 20:49:19.082 JupyterHubSingleUser] Starting jupyterhub single-user server extension "
        "version 5.0.0b2",
        "Starting jupyterhub single-user server extension version 5.0.0b2",
        "info",
        {"format": "jupyter-server", "logger": "JupyterHubSingleUser", "time": "2024-05-21 20:49:19.082"},
    ),
    (
        "[W 09:28:06.807 NotebookApp] 404 GET /kurento (127.0.0.1) 1.98ms referer=None",
        "404 GET /kurento (127.0.0.1) 1.98ms referer=None",
        "warning",
        {"format": "notebook", "logger": "NotebookApp", "time": "09:28:06.807"},
    ),
    (
        "[I 220331 15:02:13 __init__:191] Culling server alice (inactive for 00:02:09)",
        "Culling server alice (inactive for 00:02:09)",
        "info",
        {"format": "tornado", "file": "__init__", "line": 191, "time": "220331 15:02:13"},
    ),
    (
        "2025-06-01T12:34:56.789Z [ConfigProxy] info: Adding route /user/alice -> http://10.0.0.5:8888",
        "Adding route /user/alice -> http://10.0.0.5:8888",
        "info",
        {"format": "chp", "logger": "ConfigProxy", "time": "2025-06-01T12:34:56.789Z"},
    ),
    (
        "01:56:02.668 [ConfigProxy] error: 503 GET /user/bob/api/kernels socket hang up",
        "503 GET /user/bob/api/kernels socket hang up",
        "error",
        {"format": "chp", "logger": "ConfigProxy", "time": "01:56:02.668"},
    ),
    (
        "13:03:57.919 - error: [ConfigProxy] 503 GET /user/anto/api/terminals?_=1500667195820",
        "503 GET /user/anto/api/terminals?_=1500667195820",
        "error",
        {"format": "chp-legacy", "logger": "ConfigProxy", "time": "13:03:57.919"},
    ),
    (
        "ERROR:asyncio:Task exception was never retrieved",
        "Task exception was never retrieved",
        "error",
        {"format": "python-logging", "logger": "asyncio"},
    ),
    (
        "May 23 15:57:49 qpi jupyterhub[9578]: "
        "[I 2019-05-23 15:57:49.123 JupyterHub app:1234] behind journald",
        "behind journald",
        "info",
        {
            "format": "jupyterhub",
            "logger": "JupyterHub",
            "file": "app",
            "line": 1234,
            "time": "2019-05-23 15:57:49.123",
            "via": "journald",
        },
    ),
    (
        "jupyterhub_1  | [W 2019-05-23 15:57:49.123 JupyterHub base:1] behind compose",
        "behind compose",
        "warning",
        {
            "format": "jupyterhub",
            "logger": "JupyterHub",
            "file": "base",
            "line": 1,
            "time": "2019-05-23 15:57:49.123",
            "via": "docker-compose",
        },
    ),
    (
        "2019-06-24T16:19:08.150462878Z [D 2019-06-24 16:19:08.150 JupyterHub app:1] behind kubectl",
        "behind kubectl",
        "debug",
        {
            "format": "jupyterhub",
            "logger": "JupyterHub",
            "file": "app",
            "line": 1,
            "time": "2019-06-24 16:19:08.150",
            "via": "kubectl",
        },
    ),
    (
        "mag 21 18:00:43 host python3[705]: [W 2021-05-21 18:00:43.130 JupyterHub base:1350] localised date",
        "localised date",
        "warning",
        {
            "format": "jupyterhub",
            "logger": "JupyterHub",
            "file": "base",
            "line": 1350,
            "time": "2021-05-21 18:00:43.130",
            "via": "other",
        },
    ),
    (
        "Found database schema version 651f5419b74d != 0eee8c825d24.",
        "Found database schema version 651f5419b74d != 0eee8c825d24.",
        None,
        None,
    ),
    ("", "", None, None),
    (
        "^[[33m[W 2016-01-14 23:39:54.777 JupyterHub app:631]^[(B^[[m No admin users",
        "No admin users",
        "warning",
        {
            "format": "jupyterhub",
            "logger": "JupyterHub",
            "file": "app",
            "line": 631,
            "time": "2016-01-14 23:39:54.777",
        },
    ),
    (
        "E 2018-06-29 14:55:25.090 JupyterHub web:1591] lost its bracket",
        "lost its bracket",
        "error",
        {
            "format": "jupyterhub",
            "logger": "JupyterHub",
            "file": "web",
            "line": 1591,
            "time": "2018-06-29 14:55:25.090",
        },
    ),
    (
        '{"log":"[W 2018-03-02 12:45:43.318 jupyterhub web:1521] 500 GET /x (1.2.3.4): boom\\n",'
        '"stream":"stderr"}',
        "500 GET /x (1.2.3.4): boom",
        "warning",
        {
            "format": "jupyterhub",
            "logger": "jupyterhub",
            "file": "web",
            "line": 1521,
            "time": "2018-03-02 12:45:43.318",
            "via": "docker-json",
        },
    ),
    (
        '{"written_at": "2020-10-12T21:17:02.042Z", "msg": "Looking for jupyter_config in /etc/jupyter", '
        '"logger": "NotebookApp", "level": "DEBUG", "module": "application", "line_no": 179}',
        "Looking for jupyter_config in /etc/jupyter",
        "debug",
        {
            "format": "json",
            "logger": "NotebookApp",
            "file": "application",
            "line": 179,
            "time": "2020-10-12T21:17:02.042Z",
        },
    ),
    (
        "2018-05-02 15:03:49,119 WARNING Retrying (Retry(total=2))",
        "Retrying (Retry(total=2))",
        "warning",
        {"format": "python-logging", "time": "2018-05-02 15:03:49,119"},
    ),
    (
        "│ [I 2022-03-01 14:14:44.041 JupyterHub log:189] 200 GET /hub/api (bob@10.0.0.1) 1.00ms   │",
        "200 GET /hub/api (bob@10.0.0.1) 1.00ms",
        "info",
        {
            "format": "jupyterhub",
            "logger": "JupyterHub",
            "file": "log",
            "line": 189,
            "time": "2022-03-01 14:14:44.041",
            "via": "other",
        },
    ),
    ('{"neither": "log nor msg"}', '{"neither": "log nor msg"}', None, None),
    # a traitlets app whose log_format puts the level word first
    (
        "WARNING 2024-03-01T10:00:00.123Z [SingleUserNotebookApp mixins:123] message",
        "message",
        "warning",
        {
            "format": "level-first",
            "logger": "SingleUserNotebookApp",
            "file": "mixins",
            "line": 123,
            "time": "2024-03-01T10:00:00.123Z",
        },
    ),
    (
        "INFO 2024-03-01 10:00:00,123 [ServerApp] Jupyter Server 2.14.0 is running at:",
        "Jupyter Server 2.14.0 is running at:",
        "info",
        {"format": "level-first", "logger": "ServerApp", "time": "2024-03-01 10:00:00,123"},
    ),
    (
        "ERROR    2024-03-01T10:00:00+0100 [JupyterHub app:3] padded to eight",
        "padded to eight",
        "error",
        {
            "format": "level-first",
            "logger": "JupyterHub",
            "file": "app",
            "line": 3,
            "time": "2024-03-01T10:00:00+0100",
        },
    ),
    (
        "INFO: [ServerApp] Jupyter Server 2.14.0 is running at:",
        "Jupyter Server 2.14.0 is running at:",
        "info",
        {"format": "level-first", "logger": "ServerApp"},
    ),
    (
        "2024-06-03T11:02:41.517Z CRITICAL 2024-06-03T11:02:41.517+00:00 [IdleCuller __init__:255] behind kubectl",
        "behind kubectl",
        "critical",
        {
            "format": "level-first",
            "logger": "IdleCuller",
            "file": "__init__",
            "line": 255,
            "time": "2024-06-03T11:02:41.517+00:00",
            "via": "kubectl",
        },
    ),
    ("ERROR: [Errno 111] Connection refused", "ERROR: [Errno 111] Connection refused", None, None),
    ("WARNING 2024-03-01 the day [it] happened", "WARNING 2024-03-01 the day [it] happened", None, None),
    # the hub's line with its opening `[L ` lost: the level is unknown
    (
        "2022-03-10 17:25:19.774 JupyterHub base:1349] Failing suspected API request",
        "Failing suspected API request",
        None,
        {
            "format": "jupyterhub",
            "logger": "JupyterHub",
            "file": "base",
            "line": 1349,
            "time": "2022-03-10 17:25:19.774",
        },
    ),
    (
        "W 2022-03-10 17:25:19.774 JupyterHub base:1349] Failing suspected API request",
        "Failing suspected API request",
        "warning",
        {
            "format": "jupyterhub",
            "logger": "JupyterHub",
            "file": "base",
            "line": 1349,
            "time": "2022-03-10 17:25:19.774",
        },
    ),
    (
        "I 2024-05-21 20:49:19.082 JupyterHubSingleUser] Starting",
        "Starting",
        "info",
        {"format": "jupyter-server", "logger": "JupyterHubSingleUser", "time": "2024-05-21 20:49:19.082"},
    ),
    (
        "2022-03-10 17:25:19.774 JupyterHub] no module:line",
        "2022-03-10 17:25:19.774 JupyterHub] no module:line",
        None,
        None,
    ),
    (
        "2022-03-10 17:25:19.774 the job ran: done] ok",
        "2022-03-10 17:25:19.774 the job ran: done] ok",
        None,
        None,
    ),
    # configurable-http-proxy without its time column
    (
        "[ConfigProxy] info: Adding route /user/alice -> http://127.0.0.1:32772",
        "Adding route /user/alice -> http://127.0.0.1:32772",
        "info",
        {"format": "chp", "logger": "ConfigProxy"},
    ),
    (
        "[ConfigProxy] Proxy error: Error: socket hang up",
        "Proxy error: Error: socket hang up",
        None,
        {"format": "chp", "logger": "ConfigProxy"},
    ),
    (
        "error: [ConfigProxy] 503 GET /user/anto/api/terminals?_=1500667195820",
        "503 GET /user/anto/api/terminals?_=1500667195820",
        "error",
        {"format": "chp-legacy", "logger": "ConfigProxy"},
    ),
    (
        "Aug  7 09:25:19 by0q4n configurable-http-proxy: [ConfigProxy] warn: behind journald",
        "behind journald",
        "warning",
        {"format": "chp", "logger": "ConfigProxy", "via": "journald"},
    ),
    ("[ConfigProxyX] info: no", "[ConfigProxyX] info: no", None, None),
    # python-json-logger and structlog records, the traceback after the message
    (
        '{"asctime": "2024-03-01 10:00:00,123", "levelname": "WARNING", "name": "JupyterHub", "module": "base", '
        '"lineno": 1349, "message": "Failing suspected API request"}',
        "Failing suspected API request",
        "warning",
        {
            "format": "python-json-logger",
            "logger": "JupyterHub",
            "file": "base",
            "line": 1349,
            "time": "2024-03-01 10:00:00,123",
        },
    ),
    (
        '{"message": "Unhandled error", "levelname": "ERROR", "exc_info": '
        '"Traceback (most recent call last):\\nValueError: boom"}',
        "Unhandled error\nTraceback (most recent call last):\nValueError: boom",
        "error",
        {"format": "python-json-logger"},
    ),
    (
        '{"event": "Culling server alice", "level": "info", "logger": "jupyterhub_idle_culler", '
        '"timestamp": "2024-03-01T10:00:00.123456Z", "exception": "Traceback\\nKeyError: \'a\'"}',
        "Culling server alice\nTraceback\nKeyError: 'a'",
        "info",
        {"format": "structlog", "logger": "jupyterhub_idle_culler", "time": "2024-03-01T10:00:00.123456Z"},
    ),
    (
        '{"log": "{\\"event\\": \\"in docker\\", \\"level\\": \\"warning\\"}\\n", "stream": "stderr"}',
        "in docker",
        "warning",
        {"format": "structlog", "via": "docker-json"},
    ),
    (
        '{"msg": "the classic notebook first", "message": "not this", "levelname": "ERROR", "level": "INFO"}',
        "the classic notebook first",
        "info",
        {"format": "json"},
    ),
    ('{"message": "no other key"}', '{"message": "no other key"}', None, None),
    ('{"event": "x", "level": 30}', '{"event": "x", "level": 30}', None, None),
]


@pytest.mark.parametrize(("line", "message", "level", "source"), CASES)
def test_parse_line(line: str, message: str, level: str | None, source: dict[str, Any] | None) -> None:
    assert parse_line(line) == (message, level, source)


@pytest.mark.parametrize(("line", "message", "level", "source"), CASES)
def test_both_engines_read_the_prefix(
    engine_name: EngineName, line: str, message: str, level: str | None, source: dict[str, Any] | None
) -> None:
    """The level and source each engine writes for the line in a record's message field."""
    body = orjson.dumps({"message": line}) + b"\n"
    result = engine_for(engine_name).run(body, "ndjson", Answer(), Limits(), 0)
    enrichment = orjson.loads(result.body)["enrichment"]
    assert (enrichment.get("original_severity"), enrichment.get("source")) == (level, source)


@pytest.mark.parametrize(
    ("record", "exception"),
    [
        (
            {
                "levelname": "ERROR",
                "name": "JupyterHub",
                "exc_info": "Traceback (most recent call last):\n"
                '  File "x.py", line 1, in f\nValueError: boom',
            },
            "ValueError: boom",
        ),
        (
            {
                "level": "error",
                "logger": "jupyterhub",
                "exception": "Traceback (most recent call last):\nKeyError: 'a'",
            },
            "KeyError: 'a'",
        ),
    ],
)
def test_a_json_records_traceback_is_read_as_in_a_text_log(
    engine_name: EngineName, record: dict[str, str], exception: str
) -> None:
    """python-json-logger's `exc_info` and structlog's `exception` follow the message: the rule
    sees the message's line and the exception is the traceback's last line."""
    key = "message" if "levelname" in record else "event"
    line = orjson.dumps({key: "Uncaught exception GET /hub/api/users (10.0.0.1)", **record}).decode()
    body = orjson.dumps({"message": line}) + b"\n"
    result = engine_for(engine_name).run(body, "ndjson", Answer(), Limits(), 0)
    enrichment = orjson.loads(result.body)["enrichment"]
    assert enrichment["classification"] == "jupyterhub.uncaught-exception"
    assert enrichment["fields"]["exception"] == exception
    assert enrichment["original_severity"] == "error"


def test_every_format_pattern_is_in_the_rule_subset() -> None:
    """Matched at the start of a line (app formats, supervisors) or searched (embedded prefixes),
    each pattern is one the rule checks accept: Rust syntax, linear on a backtracker too."""
    anchored = [fmt.pattern for fmt in formats.APP_FORMATS] + [sup.pattern for sup in formats.SUPERVISORS]
    patterns = [f"^(?:{p})" for p in anchored] + [formats.EMBEDDED_HUB, formats.EMBEDDED_CHP, formats.ANSI]
    assert {p: check_pattern(p) for p in patterns} == {p: [] for p in patterns}


@pytest.mark.parametrize(
    ("given", "word"),
    [
        ("W", "warning"),
        ("WARNING", "warning"),
        ("warn", "warning"),
        ("D", "debug"),
        ("I", "info"),
        ("E", "error"),
        ("error", "error"),
        ("C", "critical"),
        ("CRITICAL", "critical"),
        ("fatal", "critical"),
        ("verbose", None),
        ("", None),
    ],
)
def test_normalise_level(given: str, word: str | None) -> None:
    assert normalise_level(given) == word


def test_first_line_of_a_multi_line_record() -> None:
    assert first_line("Error notifying Hub\n    Traceback (most recent call last):") == "Error notifying Hub"
    assert first_line("\n    Detected possible direct connection to Hub's private ip") == (
        "Detected possible direct connection to Hub's private ip"
    )
    assert first_line("single") == "single"


# Pieces of application prefixes, and the noise around them, for the embedded-prefix search.
_PIECES = st.sampled_from(
    [
        "[",
        "]",
        "[W ",
        "[E 2",
        "W 2",
        " ",
        "x",
        "é",
        "12:",
        "34:56",
        ".789",
        "Z",
        " - error: ",
        "- info: ",
        "[ConfigProxy]",
        "2024-01-02T",
        "03:04:05.678Z",
        "12:34:56.789 ",
        "bash: ",
        "│ ",
    ]
)


@given(st.lists(_PIECES, max_size=60).map("".join))
def test_embedded_prefix_is_found_where_the_one_alternation_finds_it(line: str) -> None:
    one_alternation = re.compile(f"{formats.EMBEDDED_HUB}|{formats.EMBEDDED_CHP}")
    m = one_alternation.search(line, 1, formats.EMBEDDED_WITHIN)
    assert embedded_start(line) == (m.start() if m else -1)


def test_embedded_prefix_past_the_window_is_not_looked_for() -> None:
    near = "Nov 28 12:00:00 host bash: [W 2026-11-28 12:00:00.000 JupyterHub app:1] m"
    assert embedded_start(near) == near.index("[W")
    far = "x" * 260 + "[W 2026-11-28 12:00:00.000 JupyterHub app:1] m"
    assert embedded_start(far) == -1
