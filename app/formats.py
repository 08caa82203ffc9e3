"""The log-line formats of the JupyterHub family, as data: one table that the prefix parser
(``app.prefix``), the VRL export and the native engine all read.

A line is recognised in three steps (docs/design.md, "Prefix parsing"):

1. *clean*: ANSI colour codes out (``ANSI``), leading white space off, a terminal UI's right
   border (``│``) off;
2. *application format*: the line's own prefix, one of ``APP_FORMATS``, tried in order among those
   whose ``starts`` holds the line's first character;
3. *supervisors*: a prefix that a supervisor wrote in front of the application's line
   (``SUPERVISORS``: ``kubectl logs --timestamps``, journald, docker-compose, or an application
   prefix found further in the line, ``EMBEDDED_*``) is peeled off and step 2 tried again, at most
   ``MAX_SUPERVISORS`` times: a compose prefix in front of a kubectl time in front of a journald
   line is real.

A line that is a JSON object is a record of one of ``JSON_FORMATS`` (the classic notebook,
python-json-logger, structlog), or Docker's json-file wrapper around a line (``DOCKER_JSON_KEY``),
which is then read as above, a JSON record included.

Every pattern is in the rule subset (``app.patterns``) and matches the same in Python's ``re``
and Rust's ``regex``: classes are spelt out where ``\\d`` or ``\\s`` would take more than ASCII.
"""

from dataclasses import dataclass
from typing import Final

DIGITS: Final = "0123456789"
UPPER: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class AppFormat:
    """An application's own line prefix. Named groups: ``level``, ``time``, ``logger``,
    ``file`` and ``line`` (``file`` and ``line`` together, both optional)."""

    name: str  # source.format
    starts: str  # the characters a line in this format starts with
    pattern: str  # matched at the start of the line; the message is what follows the match
    name_without_file: str | None = None  # source.format when the optional `file:line` is absent


@dataclass(frozen=True, slots=True)
class Supervisor:
    """A prefix another program writes in front of the application's line."""

    name: str  # source.via
    pattern: str  # matched at the start of the line; the rest is the application's line
    starts: str | None = None  # the characters it starts with (None: any)
    within: str | None = None  # a literal that must occur in the line's first WITHIN_CHARS characters
    within_chars: int = 64


# pieces of the hub's prefix, shared by the shapes built from it
HUB_TIME: Final = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]{1,9})?"
HUB_LOGGER: Final = r"(?P<logger>[^\t\n\x0b\x0c\r \]]+)"
HUB_FILE_LINE: Final = r"(?P<file>[^\t\n\x0b\x0c\r :\]]+):(?P<line>[0-9]{1,9})"
# the level words of Python's logging (`%(levelname)s`)
PYTHON_LEVELS: Final = "DEBUG|INFO|WARNING|ERROR|CRITICAL"
# the levels of configurable-http-proxy's logger (winston's npm levels)
CHP_LEVELS: Final = "error|warn|info|http|verbose|debug|silly"

# [L YYYY-MM-DD HH:MM:SS(.fff) Logger( module:line)] message       (hub, traitlets apps, culler >= 2)
# [L YYYY-MM-DD HH:MM:SS.fff Logger] message                       (jupyter-server: no module:line)
HUB: Final = AppFormat(
    "jupyterhub",
    "[",
    rf"\[(?P<level>[A-Z]) (?P<time>{HUB_TIME}) {HUB_LOGGER}(?: {HUB_FILE_LINE})?\] ?",
    name_without_file="jupyter-server",
)
APP_FORMATS: Final[tuple[AppFormat, ...]] = (
    HUB,
    # [L HH:MM:SS.fff Logger] message                                (classic notebook < 7)
    AppFormat(
        "notebook",
        "[",
        r"\[(?P<level>[A-Z]) (?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?) (?P<logger>[^\s\]:]+)\] ?",
    ),
    # [L yymmdd HH:MM:SS module:line] message                        (tornado's default, culler < 2)
    AppFormat(
        "tornado",
        "[",
        r"\[(?P<level>[A-Z]) (?P<time>[0-9]{6} [0-9]{2}:[0-9]{2}:[0-9]{2}) "
        r"(?P<file>[^\s:\]]+):(?P<line>[0-9]{1,9})\] ?",
    ),
    # <time> [ConfigProxy] <level>: message                          (configurable-http-proxy >= 4)
    AppFormat(
        "chp",
        DIGITS,
        r"(?P<time>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?Z"
        r"|[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}) "
        r"\[(?P<logger>ConfigProxy)\] (?P<level>[a-z]+): ?",
    ),
    # 2018-05-02 15:03:49,119 WARNING message                        (logging "%(asctime)s %(levelname)s")
    AppFormat(
        "python-logging",
        DIGITS,
        r"(?P<time>[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{3}) "
        r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) ",
    ),
    # <time> - <level>: [ConfigProxy] message                        (configurable-http-proxy < 4)
    AppFormat(
        "chp-legacy",
        DIGITS,
        r"(?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}) - (?P<level>[a-z]+): \[(?P<logger>ConfigProxy)\] ?",
    ),
    # LEVEL:logger:message                                           (logging.basicConfig's default)
    AppFormat("python-logging", UPPER, rf"(?P<level>{PYTHON_LEVELS}):(?P<logger>[\w.]+):"),
    # LEVEL YYYY-MM-DDTHH:MM:SS(.fff)(zone) [App( module:line)] message
    #                                  (a traitlets app's log_format set to put the level word first)
    # LEVEL: [App] message             (the same without the time)
    AppFormat(
        "level-first",
        UPPER,
        rf"(?P<level>{PYTHON_LEVELS}):? {{1,8}}"
        rf"(?:(?P<time>{HUB_TIME}(?:Z|[+-][0-9]{{2}}:?[0-9]{{2}})?) {{1,8}})?"
        rf"\[{HUB_LOGGER}(?: {HUB_FILE_LINE})?\] ?",
    ),
    # YYYY-MM-DD HH:MM:SS.fff Logger module:line] message             (a hub line that lost its `[L `
    #                                  to a paste or a collector's split: the level is unknown)
    AppFormat("jupyterhub", DIGITS, rf"(?P<time>{HUB_TIME}) {HUB_LOGGER} {HUB_FILE_LINE}\] ?"),
    # [ConfigProxy] level: message                                   (configurable-http-proxy >= 4,
    # [ConfigProxy] message                                           without the time column)
    AppFormat("chp", "[", rf"\[(?P<logger>ConfigProxy)\] (?:(?P<level>{CHP_LEVELS}): ?)?"),
    # level: [ConfigProxy] message                                   (configurable-http-proxy < 4,
    #                                                                  without the time column)
    AppFormat("chp-legacy", "ewihvds", rf"(?P<level>{CHP_LEVELS}): \[(?P<logger>ConfigProxy)\] ?"),
)

# A paste or a collector's split that lost the opening bracket:
#   E 2018-06-29 14:55:25.090 JupyterHub web:1591] …
# When a line starts with one of these letters, a space and a digit, and "] " occurs in its first
# LOST_BRACKET_WITHIN characters, "[" is put back in front.
LOST_BRACKET_LETTERS: Final = "DIWEC"
LOST_BRACKET_WITHIN: Final = 80

SUPERVISORS: Final[tuple[Supervisor, ...]] = (
    # 2024-01-23T09:51:06.938123456Z message                          (kubectl logs --timestamps)
    Supervisor(
        "kubectl",
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:?[0-9]{2}) ",
        starts=DIGITS,
    ),
    # Jan 23 09:51:06 host jupyterhub[123]: message                   (journald / syslog)
    Supervisor(
        "journald",
        r"[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} \S+ [^\s:\[]+(?:\[[0-9]+\])?: ",
        starts=UPPER + UPPER.lower(),
    ),
    # hub-1  | message                                                (docker-compose)
    Supervisor("docker-compose", r"[\w.-]+(?:[-_][0-9]+)? +\| ", within=" | "),
)
# Anything else in front (a localised journald date, `bash: `, a terminal UI's border): the
# application's own prefix found further in the line, within EMBEDDED_WITHIN characters. Searched
# as two patterns, each only when its literal is there.
EMBEDDED_HUB: Final = r"\[[DIWEC] [0-9]"
EMBEDDED_HUB_LITERAL: Final = "["
EMBEDDED_CHP: Final = (
    r"[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z? (?:\[ConfigProxy\]|- [a-z]+: \[ConfigProxy\])|"
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z \[ConfigProxy\]"
)
EMBEDDED_CHP_LITERAL: Final = "[ConfigProxy]"
EMBEDDED_WITHIN: Final = 256
EMBEDDED_VIA: Final = "other"
# supervisor prefixes peeled off one line, at most
MAX_SUPERVISORS: Final = 4

# ANSI colour codes, also in the caret notation a terminal paste leaves (`^[[31m`, `^[(B`)
ANSI: Final = r"(?:\x1b|\^\[)(?:\[[0-9;]*[A-Za-z]|\([AB0-2])"
ANSI_LITERALS: Final = ("\x1b", "^[")
# the right border of a terminal UI (k9s) pasted with the line, and what is cut with it
BORDER: Final = "│"
BORDER_STRIP: Final = "│ "

# A line that is itself a JSON log record: Docker's json-file driver ({"log": "…\n", "stream": …},
# whose `log` line is then parsed, a JSON record included) or a structured logger's record.
DOCKER_JSON_KEY: Final = "log"
DOCKER_JSON_VIA: Final = "docker-json"


@dataclass(frozen=True, slots=True)
class JsonFormat:
    """The keys of one producer's JSON log records. A record is this producer's when its
    ``message`` key holds a string and (when ``marks`` is not empty) one of the ``marks`` keys
    holds a string too; the first such producer of ``JSON_FORMATS`` reads it."""

    name: str  # source.format
    message: str
    level: str
    logger: str
    time: str
    file: str | None = None
    line: str | None = None  # an integer, taken with `file`
    exception: str | None = None  # a formatted traceback: the lines after the message
    marks: tuple[str, ...] = ()


JSON_FORMATS: Final[tuple[JsonFormat, ...]] = (
    # the classic notebook's log_json (the json-logging package)
    JsonFormat("json", "msg", "level", "logger", "written_at", file="module", line="line_no"),
    # python-json-logger's JsonFormatter (`%(message)s %(levelname)s %(name)s %(asctime)s`…)
    JsonFormat(
        "python-json-logger",
        "message",
        "levelname",
        "name",
        "asctime",
        file="module",
        line="lineno",
        exception="exc_info",
        marks=("levelname", "name", "asctime"),
    ),
    # structlog's JSONRenderer (add_log_level, add_logger_name, TimeStamper, format_exc_info)
    JsonFormat(
        "structlog",
        "event",
        "level",
        "logger",
        "timestamp",
        exception="exception",
        marks=("level", "logger", "timestamp"),
    ),
)
