"""Parse the prefix of a JupyterHub-family log line: level, time, logger, module and line.

``parse_line`` follows the format table of ``app.formats``: it cleans the line (colour codes,
leading white space, a terminal border), recognises the application's own prefix, and otherwise
peels supervisor prefixes (kubectl, journald, docker-compose, or an application prefix found
further in) off the front, at most ``MAX_SUPERVISORS`` of them. Lines with no known prefix keep
their whole text as the message. The ``format`` key of the source names the format:

    jupyterhub      [W 2022-03-10 17:25:19.774 JupyterHub base:1349] msg   (hub, traitlets, culler>=2;
                    W 2022-03-10 17:25:19.774 JupyterHub base:1349] msg     also with the opening `[`
                    2022-03-10 17:25:19.774 JupyterHub base:1349] msg       or `[L ` lost: no level)
    jupyter-server  [I 2024-05-21 20:49:19.082 ServerApp] msg              (no module:line)
    notebook        [W 09:28:06.807 NotebookApp] msg                       (classic notebook < 7)
    tornado         [I 220331 15:02:13 __init__:191] msg                   (tornado default, culler<2)
    level-first     WARNING 2024-03-01T10:00:00.123Z [App mixins:123] msg  (a custom traitlets log_format:
                    INFO 2024-03-01 10:00:00,123 [ServerApp] msg            level word, ISO time with any
                    INFO: [ServerApp] msg                                   zone or none, [App( mod:line)])
    chp             2025-06-01T12:34:56.789Z [ConfigProxy] info: msg       (configurable-http-proxy >= 4,
                    21:44:04.424 [ConfigProxy] info: msg                    both timestamp styles, or
                    [ConfigProxy] info: msg                                 none: the time column lost)
    chp-legacy      13:03:57.919 - error: [ConfigProxy] msg                (configurable-http-proxy < 4,
                    error: [ConfigProxy] msg                                also without the time)
    python-logging  ERROR:asyncio:Task exception was never retrieved       (logging.basicConfig default,
                    2018-05-02 15:03:49,119 WARNING Retrying …              and asctime-levelname shape)
    json            {"msg": …, "level": …, "logger": …}                    (classic notebook's log_json)
    python-json-logger  {"message": …, "levelname": …, "name": …, "asctime": …, "exc_info": …}
    structlog       {"event": …, "level": …, "logger": …, "timestamp": …, "exception": …}
    plain           a line behind a supervisor prefix, in no known format

A line wrapped by Docker's json-file driver (`{"log": "…\\n", "stream": …}`) is unwrapped first;
the line it holds may be a JSON record itself. A JSON record's traceback (`exc_info`,
`exception`) follows its message on lines of their own, as a text log writes it, and the record
is read wherever it came: the whole line, or the string in the record's message field.
The VRL export (``app.export_vrl``) writes the same algorithm step by step, which is why it is
free of loops and recursion here too.
"""

import re
from typing import Any, Final

import orjson

from app import formats
from app.formats import AppFormat
from app.regexes import compile_pattern
from app.severity import Severity, normalise_level

_ANSI: Final = compile_pattern(formats.ANSI)
_APP: Final[tuple[tuple[AppFormat, re.Pattern[str]], ...]] = tuple(
    (fmt, compile_pattern(fmt.pattern)) for fmt in formats.APP_FORMATS
)
_HUB: Final = _APP[0][1]
_SUPERVISORS: Final = tuple((sup, compile_pattern(sup.pattern)) for sup in formats.SUPERVISORS)
_EMBEDDED_HUB: Final = compile_pattern(formats.EMBEDDED_HUB)
_EMBEDDED_CHP: Final = compile_pattern(formats.EMBEDDED_CHP)
_LETTER_LEVELS: Final[dict[str, Severity]] = {
    letter: level for letter in formats.UPPER if (level := normalise_level(letter)) is not None
}

ParsedLine = tuple[str, Severity | None, dict[str, Any] | None]
"""(message, normalised level or None, source or None)"""


def embedded_start(line: str) -> int:
    """Where an application prefix starts after the first character (-1 when there is none):
    the leftmost match of either embedded pattern within the window."""
    start = -1
    within = formats.EMBEDDED_WITHIN
    if line.find(formats.EMBEDDED_HUB_LITERAL, 1, within) >= 0:
        m = _EMBEDDED_HUB.search(line, 1, within)
        if m:
            start = m.start()
    if line.find(formats.EMBEDDED_CHP_LITERAL, 1, within) >= 0:
        m = _EMBEDDED_CHP.search(line, 1, within)
        if m and (start < 0 or m.start() < start):
            start = m.start()
    return start


def _strip_supervisor(line: str) -> tuple[str, str | None]:
    """The line without one supervisor prefix, and the supervisor's name (None: no prefix)."""
    first = line[:1]
    for sup, regex in _SUPERVISORS:
        if sup.starts is not None and (not first or first not in sup.starts):
            continue
        if sup.within is not None and sup.within not in line[: sup.within_chars]:
            continue
        m = regex.match(line)
        if m:
            return line[m.end() :], sup.name
    start = embedded_start(line)
    if start > 0:
        return line[start:], formats.EMBEDDED_VIA
    return line, None


def _clean(line: str) -> str:
    """Colour codes out, leading white space off, a terminal UI's right border off."""
    if any(literal in line for literal in formats.ANSI_LITERALS):
        line = _ANSI.sub("", line)
    line = line.lstrip()  # what `^\s+` removes: str.isspace is `\s` (see app.patterns.SPACE_CHARS)
    if line[-1:] == formats.BORDER:
        line = line.rstrip(formats.BORDER_STRIP)
    return line


def _source(fmt: AppFormat, m: re.Match[str], via: str | None) -> ParsedLine:
    groups = m.groupdict()
    source: dict[str, Any] = {"format": fmt.name}
    logger = groups.get("logger")
    if logger:
        source["logger"] = logger
    file = groups.get("file")
    if file:
        source["file"] = file
        source["line"] = int(groups["line"])
    elif fmt.name_without_file is not None:
        source["format"] = fmt.name_without_file
    time = groups.get("time")
    if time is not None:
        source["time"] = time
    if via:
        source["via"] = via
    level = groups.get("level")
    return m.string[m.end() :], normalise_level(level) if level is not None else None, source


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


def _json_record(data: dict[str, Any], via: str | None) -> ParsedLine | None:
    """A structured logger's JSON record (`formats.JSON_FORMATS`), or None when it is none of them."""
    for fmt in formats.JSON_FORMATS:
        message = data.get(fmt.message)
        if not isinstance(message, str):
            continue
        if fmt.marks and not any(isinstance(data.get(key), str) for key in fmt.marks):
            continue
        source: dict[str, Any] = {"format": fmt.name}
        logger = data.get(fmt.logger)
        if isinstance(logger, str):
            source["logger"] = logger
        file = data.get(fmt.file) if fmt.file is not None else None
        if isinstance(file, str):
            source["file"] = file
            number = data.get(fmt.line) if fmt.line is not None else None
            if isinstance(number, int) and not isinstance(number, bool):
                source["line"] = number
        time = data.get(fmt.time)
        if isinstance(time, str):
            source["time"] = time
        if via:
            source["via"] = via
        exception = data.get(fmt.exception) if fmt.exception is not None else None
        if isinstance(exception, str) and exception:
            message = message + "\n" + exception
        level = data.get(fmt.level)
        return message, normalise_level(level) if isinstance(level, str) else None, source
    return None


def _unwrap_json(line: str, via: str | None, docker: bool) -> ParsedLine | None:
    """A line that is itself a JSON log record: Docker's json-file (`{"log": …}`, whose line is
    then parsed; `docker` False inside it) or a structured logger's record."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    inner = data.get(formats.DOCKER_JSON_KEY) if docker else None
    if isinstance(inner, str):
        inner = _clean(inner.rstrip("\n"))
        via = via or formats.DOCKER_JSON_VIA
        return _match_format(inner, via, docker=False) or (inner, None, {"format": "plain", "via": via})
    return _json_record(data, via)


def _match_format(line: str, via: str | None, docker: bool = True) -> ParsedLine | None:
    first = line[:1]
    if first == "{":
        return _unwrap_json(line, via, docker) if line[1:2] == '"' else None
    if (
        first
        and first in formats.LOST_BRACKET_LETTERS
        and line[1:2] == " "
        and "0" <= line[2:3] <= "9"
        and "] " in line[: formats.LOST_BRACKET_WITHIN]
    ):
        line = "[" + line
        first = "["
    if not first:
        return None
    for fmt, regex in _APP:
        if first in fmt.starts:
            m = regex.match(line)
            if m:
                return _hub_line(line, m, via) if regex is _HUB else _source(fmt, m, via)
    return None


def parse_line(line: str) -> ParsedLine:
    """Split one log line (or multi-line record) into message, level and source."""
    if line[:1] == "[" and "\x1b" not in line and "^[" not in line and line[-1:] != formats.BORDER:
        m = _HUB.match(line)  # the common case first: a plain hub / server line
        if m:
            return _hub_line(line, m, None)
    line = _clean(line)
    parsed = _match_format(line, None)
    if parsed is not None:
        return parsed
    via: str | None = None
    for _ in range(formats.MAX_SUPERVISORS):
        rest, found = _strip_supervisor(line)
        if found is None:
            break
        via = via or found  # the outermost supervisor names the way the line came
        line = rest.lstrip()
        parsed = _match_format(line, via)
        if parsed is not None:
            return parsed
    return line, None, None if via is None else {"format": "plain", "via": via}


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
