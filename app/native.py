"""The native engine: the Rust extension ``app._native`` (crate ``native/``), one call per batch.

Python compiles the table (rule models, checks, guards, first-character gates, precedence) and
hands it to Rust as data once per table (``native_config``): the rules, the output profile
(``app.profiles``) and the log formats (``app.formats``) — one definition for both engines. A
batch is then one call, body bytes in, answer bytes out, with the GIL released, so one process
runs two batches on two cores. A panic in Rust comes back as ``InternalError``; the batch then
runs on the Python engine and the failure is logged.

When the extension cannot be imported the service runs on ``app.engine.PythonEngine``.
"""

import functools
import logging
import re
import sys
import threading
import unicodedata
from collections import Counter
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

import orjson

from app import formats
from app.batch import Answer, BatchResult, Bulk, JsonLines, Kind, Limits, Output
from app.codecs import BOM, position
from app.enrich import EnrichOptions
from app.errors import CodecError
from app.matcher import EXCEPTION_LINE
from app.regexes import extension
from app.severity import LEVEL_WORDS

if TYPE_CHECKING:
    from app.compiler import CompiledRule, Table
    from app.engine import Engine, EngineName

log = logging.getLogger("logenrich")


def module() -> ModuleType | None:
    """The extension, or None when it cannot be imported."""
    return extension()


def native_available() -> bool:
    return module() is not None


_DIGIT = re.compile(r"\d")  # Unicode decimal digits: the characters int() reads


@functools.cache
def digit_zeros() -> tuple[int, ...]:
    """Every Unicode decimal digit zero: int() and float() read any script's digits."""
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    return tuple(ord(c) for c in _DIGIT.findall(every) if unicodedata.decimal(c, -1) == 0)


def _rule(rule: "CompiledRule") -> dict[str, Any]:
    spec = rule.spec
    conditions: list[dict[str, Any]] = []
    for condition in spec.conditions:
        if condition.kind == "range":
            conditions.append(
                {
                    "kind": "range",
                    "field": condition.field,
                    "min": condition.min,
                    "max": condition.max,
                    "severity": condition.severity,
                }
            )
        else:
            conditions.append(
                {
                    "kind": "version-boundary",
                    "fields": list(condition.fields),
                    "boundaries": list(condition.boundaries),
                    "severity": condition.severity,
                }
            )
    return {
        "id": rule.id,
        "pattern": spec.pattern,
        "guard": list(rule.guard) if rule.guard is not None else None,
        "requires": [list(keys) for keys in rule.requires],
        "first_chars": sorted(rule.first_chars) if rule.first_chars is not None else None,
        "plain": rule.plain,
        "loggers": sorted(rule.loggers) if rule.loggers is not None else None,
        "levels": sorted(rule.levels) if rule.levels is not None else None,
        "formats": sorted(rule.formats) if rule.formats is not None else None,
        "derive": [[d.source, d.pattern] for d in spec.derive],
        "convert": [[name, kind] for name, kind in rule.convert],
        "conditions": conditions,
        "severity": spec.severity,
        "adjust": spec.adjust,
        "values": {
            "title": spec.title,
            "category": spec.category,
            "doc_url": rule.doc_url,
            "summary": spec.summary,
            "action": spec.action,
            "ruleset": rule.ruleset,
            "ruleset_version": rule.ruleset_version,
        },
    }


def _formats() -> dict[str, Any]:
    return {
        "app": [
            {
                "name": f.name,
                "starts": f.starts,
                "pattern": f.pattern,
                "name_without_file": f.name_without_file,
            }
            for f in formats.APP_FORMATS
        ],
        "supervisors": [
            {
                "name": s.name,
                "pattern": s.pattern,
                "starts": s.starts,
                "within": s.within,
                "within_chars": s.within_chars,
            }
            for s in formats.SUPERVISORS
        ],
        "lost_bracket_letters": formats.LOST_BRACKET_LETTERS,
        "lost_bracket_within": formats.LOST_BRACKET_WITHIN,
        "embedded_hub": formats.EMBEDDED_HUB,
        "embedded_hub_literal": formats.EMBEDDED_HUB_LITERAL,
        "embedded_chp": formats.EMBEDDED_CHP,
        "embedded_chp_literal": formats.EMBEDDED_CHP_LITERAL,
        "embedded_within": formats.EMBEDDED_WITHIN,
        "embedded_via": formats.EMBEDDED_VIA,
        "max_supervisors": formats.MAX_SUPERVISORS,
        "ansi": formats.ANSI,
        "ansi_literals": list(formats.ANSI_LITERALS),
        "border": formats.BORDER,
        "border_strip": formats.BORDER_STRIP,
        "docker_json_key": formats.DOCKER_JSON_KEY,
        "docker_json_via": formats.DOCKER_JSON_VIA,
        "json_formats": [
            {
                "name": f.name,
                "message": f.message,
                "level": f.level,
                "logger": f.logger,
                "time": f.time,
                "file": f.file,
                "line": f.line,
                "exception": f.exception,
                "marks": list(f.marks),
            }
            for f in formats.JSON_FORMATS
        ],
        "level_words": LEVEL_WORDS,
    }


def native_config(table: "Table", options: EnrichOptions) -> bytes:
    """The table, profile and formats as the native engine reads them (JSON)."""
    spec = options.spec
    profile = {
        "guard_key": spec.guard_key,
        "targets": [
            {
                "path": list(target.path),
                "replace": target.replace,
                "needs": list(target.needs),
                "slots": [[slot.key, slot.value, slot.keep_existing] for slot in target.slots],
            }
            for target in spec.targets
        ],
    }
    config = {
        "rules": [_rule(rule) for rule in table.rules],
        "formats": _formats(),
        "profile": profile,
        "message_fields": [path.split(".") for path in options.message_fields],
        "max_message_bytes": options.max_message_bytes,
        "exception_line": EXCEPTION_LINE,
        "digit_zeros": list(digit_zeros()),
    }
    return orjson.dumps(config)


def _output(output: Output) -> tuple[Any, ...]:
    if isinstance(output, Answer):
        return ("answer", output.prefer)
    if isinstance(output, JsonLines):
        return ("json", output.array)
    if isinstance(output, Bulk):
        return ("bulk", output.index)
    return ("loki", list(output.labels), output.line == "json")


_FRAMING_WORD: Final = {"JSON": "JSON", "NDJSON": "NDJSON", "MessagePack": "MessagePack", "": "JSON"}


class NativeEngine:
    """The table on the Rust engine; the Python engine stands by for a batch that makes Rust fail."""

    name: "EngineName" = "native"

    def __init__(self, table: "Table", options: EnrichOptions | None = None) -> None:
        native = module()
        assert native is not None, "the native extension is not importable"
        self.table = table
        self.options = options or EnrichOptions()
        self._engine = native.Engine(native_config(table, self.options))
        self._failure: type[Exception] = native.CodecFailure
        self._internal: type[Exception] = native.InternalError
        self._fallback: Engine | None = None

    def _python(self) -> "Engine":
        if self._fallback is None:
            from app.engine import PythonEngine

            self._fallback = PythonEngine(self.table, self.options)
        return self._fallback

    def run(self, data: bytes, kind: Kind, output: Output, limits: Limits, received_ns: int) -> BatchResult:
        body = data[len(BOM) :] if kind != "msgpack" and data.startswith(BOM) else data
        try:
            answer = self._engine.run(body, kind, _output(output), limits.max_records, received_ns)
        except self._failure as failure:
            raise _codec_error(body, *failure.args) from None
        except self._internal:
            log.exception("the native engine failed on a batch; it ran on the Python engine")
            return self._python().run(data, kind, output, limits, received_ns)
        out, framing, out_framing, records, counts, outcomes, ids, documents = answer
        return BatchResult(
            out,
            framing,
            out_framing,
            records,
            Counter(dict(counts)),
            outcomes,
            tuple(ids),
            tuple(documents),
        )


def _codec_error(body: bytes, kind: str, reason: str, offset: int | None, framing: str) -> CodecError:
    if kind == "too_many_records":
        return CodecError("too_many_records", reason, {})
    if framing == "MessagePack":
        where = {"offset": offset} if offset is not None else {}
        return CodecError("undecodable", f"the body is not valid MessagePack: {reason}", where)
    where = position(body, offset or 0)
    word = _FRAMING_WORD.get(framing, framing)
    detail = f"the body is not valid {word} at line {where['line']}, column {where['column']}: {reason}"
    return CodecError("undecodable", detail, where)


# the engine built last: loading a table checks its examples on the engine, and the service
# or CLI then asks for the same table with the same options; one engine is ~18 MiB of compiled
# automata, so it is built once (a new table, or other options, replace it)
_last: list[NativeEngine] = []
_last_lock = threading.Lock()


def load(table: "Table", options: EnrichOptions | None) -> "Engine | None":
    """The table on the native engine; None when the extension cannot be imported."""
    if not native_available():
        return None
    options = options or EnrichOptions()
    with _last_lock:
        if _last and _last[0].table is table and _last[0].options == options:
            return _last[0]
        engine = NativeEngine(table, options)
        _last[:] = [engine]
        return engine
