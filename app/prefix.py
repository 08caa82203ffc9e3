"""Parse the prefix of a JupyterHub-family log line: level, time, logger, module and line.

``parse_line`` strips ANSI colour codes, leading white space and a supervisor prefix (journald,
docker-compose, ``kubectl logs --timestamps``), then recognises one of the formats below and
returns the message after the prefix. Lines with no known prefix keep their whole text as the
message. The ``format`` key of the source names the format:

    jupyterhub      [W 2022-03-10 17:25:19.774 JupyterHub base:1349] msg   (hub, traitlets, culler>=2)
    jupyter-server  [I 2024-05-21 20:49:19.082 ServerApp] msg              (no module:line)
    notebook        [W 09:28:06.807 NotebookApp] msg                       (classic notebook < 7)
    tornado         [I 220331 15:02:13 __init__:191] msg                   (tornado default, culler<2)
    chp             2025-06-01T12:34:56.789Z [ConfigProxy] info: msg       (configurable-http-proxy >= 4,
                    21:44:04.424 [ConfigProxy] info: msg                    both timestamp styles)
    chp-legacy      13:03:57.919 - error: [ConfigProxy] msg                (configurable-http-proxy < 4)
    python-logging  ERROR:asyncio:Task exception was never retrieved       (logging.basicConfig default,
                    2018-05-02 15:03:49,119 WARNING Retrying …              and asctime-levelname shape)
    json            {"msg": …, "level": …, "logger": …}                    (classic notebook's log_json)

A line wrapped by Docker's json-file driver (`{"log": "…\n", "stream": …}`) is unwrapped first.
"""

import re
from typing import Any, Final

import orjson

from app.severity import Severity, normalise_level

# ANSI colour codes, also in the caret notation a terminal paste leaves (`^[[31m`, `^[(B`)
_ANSI: Final = re.compile(r"(?:\x1b|\^\[)(?:\[[0-9;]*[A-Za-z]|\([AB0-2])")

# [L YYYY-MM-DD HH:MM:SS(.fff) Logger( module:line)] message
_BRACKET_DATE: Final = re.compile(
    r"\[(?P<level>[A-Z]) (?P<time>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?) "
    r"(?P<logger>[^\s\]]+)(?: (?P<file>[^\s:\]]+):(?P<line>\d{1,9}))?\] ?",
    re.ASCII,
)
# [L HH:MM:SS.fff Logger] message — classic notebook
_BRACKET_TIME: Final = re.compile(
    r"\[(?P<level>[A-Z]) (?P<time>\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?) (?P<logger>[^\s\]:]+)\] ?"
)
# [L yymmdd HH:MM:SS module:line] message — tornado's default formatter
_BRACKET_TORNADO: Final = re.compile(
    r"\[(?P<level>[A-Z]) (?P<time>\d{6} \d{2}:\d{2}:\d{2}) (?P<file>[^\s:\]]+):(?P<line>\d{1,9})\] ?"
)
# configurable-http-proxy, winston 3: "<time> [ConfigProxy] <level>: message"
_CHP: Final = re.compile(
    r"(?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z|\d{2}:\d{2}:\d{2}\.\d{3}) "
    r"\[(?P<logger>ConfigProxy)\] (?P<level>[a-z]+): ?"
)
# configurable-http-proxy < 4, winston 2: "<time> - <level>: [ConfigProxy] message"
_CHP_LEGACY: Final = re.compile(
    r"(?P<time>\d{2}:\d{2}:\d{2}\.\d{3}) - (?P<level>[a-z]+): \[(?P<logger>ConfigProxy)\] ?"
)
# Python logging's "%(asctime)s %(levelname)s %(message)s"
_PYASCTIME: Final = re.compile(
    r"(?P<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) (?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) "
)
_LETTERS: Final = frozenset("DIWEC")
_LETTER_LEVELS: Final[dict[str, Severity]] = {
    "D": "debug",
    "I": "info",
    "W": "warning",
    "E": "error",
    "C": "critical",
    "F": "critical",
}
# Python logging's default "LEVEL:logger:message"
_PYLOG: Final = re.compile(r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL):(?P<logger>[\w.]+):")

# Supervisor prefixes in front of the application's own line.
_JOURNALD: Final = re.compile(r"[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \S+ [^\s:\[]+(?:\[\d+\])?: ")
_KUBECTL: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}) ")
_COMPOSE: Final = re.compile(r"[\w.-]+(?:[-_]\d+)? +\| ")
# Anything else in front (a localised journald date, `bash: `, a terminal UI's border): find the
# application's own prefix further in the line. Searched as two patterns, each only when its
# literal is there: one alternation searched everywhere costs ~10 µs on a line without a prefix.
_EMBEDDED_HUB: Final = re.compile(r"\[[DIWEC] \d")
_EMBEDDED_CHP: Final = re.compile(
    r"\d{2}:\d{2}:\d{2}\.\d{3}Z? (?:\[ConfigProxy\]|- [a-z]+: \[ConfigProxy\])|"
    r"\d{4}-\d{2}-\d{2}T[\d:.]+Z \[ConfigProxy\]"
)
_EMBEDDED: Final = re.compile(f"{_EMBEDDED_HUB.pattern}|{_EMBEDDED_CHP.pattern}")  # both, for the VRL export
_EMBEDDED_WITHIN: Final = 256  # the embedded prefix must end within this many characters


def _embedded_start(line: str) -> int:
    """Where an application prefix starts after the first character (-1 when there is none):
    the leftmost match of ``_EMBEDDED`` within the window."""
    start = -1
    if line.find("[", 1, _EMBEDDED_WITHIN) >= 0:
        m = _EMBEDDED_HUB.search(line, 1, _EMBEDDED_WITHIN)
        if m:
            start = m.start()
    if line.find("[ConfigProxy]", 1, _EMBEDDED_WITHIN) >= 0:
        m = _EMBEDDED_CHP.search(line, 1, _EMBEDDED_WITHIN)
        if m and (start < 0 or m.start() < start):
            start = m.start()
    return start


_BRACKET: Final = ((_BRACKET_DATE, "jupyterhub"), (_BRACKET_TIME, "notebook"), (_BRACKET_TORNADO, "tornado"))

ParsedLine = tuple[str, Severity | None, dict[str, Any] | None]
"""(message, normalised level or None, source or None)"""


def _strip_supervisor(line: str) -> tuple[str, str | None]:
    first = line[:1]
    if "0" <= first <= "9":
        m = _KUBECTL.match(line)
        if m:
            return line[m.end() :], "kubectl"
    elif first.isalpha():
        m = _JOURNALD.match(line)
        if m:
            return line[m.end() :], "journald"
    if " | " in line[:64]:
        m = _COMPOSE.match(line)
        if m:
            return line[m.end() :], "docker-compose"
    start = _embedded_start(line)
    if start > 0:
        return line[start:], "other"
    return line, None


def _source(m: re.Match[str], fmt: str, via: str | None) -> dict[str, Any]:
    groups = m.groupdict()
    source: dict[str, Any] = {"format": fmt}
    logger = groups.get("logger")
    if logger:
        source["logger"] = logger
    file = groups.get("file")
    if file:
        source["file"] = file
        source["line"] = int(groups["line"])
    source["time"] = groups["time"]
    if via:
        source["via"] = via
    return source


def _clean(line: str) -> str:
    """Colour codes out, leading white space off, a terminal UI's right border off."""
    if "\x1b" in line or "^[" in line:
        line = _ANSI.sub("", line)
    line = line.lstrip()  # what `^\s+` removes: str.isspace is `\s` (see app.patterns.SPACE_CHARS)
    if line[-1:] == "│":  # the right border of a terminal UI (k9s) pasted with the line
        line = line.rstrip("│ ")
    return line


def _unwrap_json(line: str, via: str | None) -> ParsedLine | None:
    """A line that is itself a JSON log record: Docker's json-file (`{"log": …}`, whose line is
    then parsed) or the classic notebook's json logging (`{"msg": …, "level": …, "logger": …}`)."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    inner = data.get("log")
    if isinstance(inner, str):
        inner = _clean(inner.rstrip("\n"))
        via = via or "docker-json"
        return _match_format(inner, via, allow_json=False) or (inner, None, {"format": "plain", "via": via})
    inner = data.get("msg")
    if not isinstance(inner, str):
        return None
    fields: dict[str, Any] = {"format": "json"}
    if isinstance(data.get("logger"), str):
        fields["logger"] = data["logger"]
    if isinstance(data.get("module"), str):
        fields["file"] = data["module"]
        if isinstance(data.get("line_no"), int) and not isinstance(data.get("line_no"), bool):
            fields["line"] = data["line_no"]
    if isinstance(data.get("written_at"), str):
        fields["time"] = data["written_at"]
    if via:
        fields["via"] = via
    level = data.get("level")
    return inner, normalise_level(level) if isinstance(level, str) else None, fields


def _hub_line(line: str, m: re.Match[str], via: str | None) -> ParsedLine:
    """A `[L date time logger( module:line)]` line, unpacked by position: the hot path."""
    level, time, logger, file, number = m.groups()
    source: dict[str, Any]
    if file is None:
        source = {"format": "jupyter-server", "logger": logger, "time": time}
    else:
        source = {"format": "jupyterhub", "logger": logger, "file": file, "line": int(number), "time": time}
    if via:
        source["via"] = via
    return line[m.end() :], _LETTER_LEVELS.get(level), source


def _match_format(line: str, via: str | None, allow_json: bool = True) -> ParsedLine | None:
    first = line[:1]
    if first == "{":
        return _unwrap_json(line, via) if allow_json and line[1:2] == '"' else None
    if first in _LETTERS and line[1:2] == " " and "0" <= line[2:3] <= "9" and "] " in line[:80]:
        line = (
            "[" + line
        )  # a paste that lost the opening bracket: "E 2018-06-29 14:55:25.090 JupyterHub web:1591] …"
        first = "["
    if first == "[":
        m = _BRACKET_DATE.match(line)
        if m:
            return _hub_line(line, m, via)
        for pattern, name in _BRACKET[1:]:
            m = pattern.match(line)
            if m:
                return line[m.end() :], normalise_level(m.group("level")), _source(m, name, via)
    elif "0" <= first <= "9":
        m = _CHP.match(line)
        if m:
            return line[m.end() :], normalise_level(m.group("level")), _source(m, "chp", via)
        m = _PYASCTIME.match(line)
        if m:
            return line[m.end() :], normalise_level(m.group("level")), _source(m, "python-logging", via)
        m = _CHP_LEGACY.match(line)
        if m:
            return line[m.end() :], normalise_level(m.group("level")), _source(m, "chp-legacy", via)
    elif "A" <= first <= "Z":
        m = _PYLOG.match(line)
        if m:
            source = {"format": "python-logging", "logger": m.group("logger")}
            if via:
                source["via"] = via
            return line[m.end() :], normalise_level(m.group("level")), source
    return None


def parse_line(line: str) -> ParsedLine:
    """Split one log line (or multi-line record) into message, level and source.

    Loop-free and recursion-free on purpose: the VRL export (app/export_vrl.py) is the same
    algorithm, step by step. At most two supervisor prefixes are peeled off.
    """
    if line[:1] == "[" and "\x1b" not in line and "^[" not in line and line[-1:] != "│":
        m = _BRACKET_DATE.match(line)  # the common case first: a plain hub / server line
        if m:
            return _hub_line(line, m, None)
    line = _clean(line)
    parsed = _match_format(line, None)
    if parsed is not None:
        return parsed
    rest, via = _strip_supervisor(line)
    if via is None:
        return line, None, None
    rest = rest.lstrip()
    parsed = _match_format(rest, via)
    if parsed is not None:
        return parsed
    again, found = _strip_supervisor(rest)  # supervisors stack: docker-compose in front of journald…
    if found is None:
        return rest, None, {"format": "plain", "via": via}
    again = again.lstrip()
    return _match_format(again, via) or (again, None, {"format": "plain", "via": via})


def first_line(message: str) -> str:
    """The line a rule matches: the first line of a record, or the first indented line when the
    message starts with a newline (as some JupyterHub warnings do)."""
    end = message.find("\n")
    if end < 0:
        return message
    head = message[:end]
    if head.strip():
        return head
    for part in message[end + 1 :].split("\n"):
        if part.strip():
            return part.strip()
    return head
