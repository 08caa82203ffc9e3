"""The native engine against the Python engine, the reference: every rule example and reject,
the whole corpus, generated records (prefixes, wrappers, Unicode, nesting, odd numbers,
duplicate keys) and the hostile shapes, in every framing and every output. Results must be
equal, compared as decoded JSON (or MessagePack) with numbers exact."""

import base64
import functools
import json
import struct
from decimal import Decimal
from typing import Any

import msgpack
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import _native
from app.batch import MAX_DEPTH, Answer, BatchResult, Bulk, JsonLines, Kind, Limits, Loki, Output
from app.engine import Engine
from app.enrich import EnrichOptions
from app.errors import CodecError
from tests.helpers import PREFIX_SHAPES, builtin_table, corpus_lines, engine_for

PROFILES = ("default", "ecs")
OUTPUTS: list[Output] = [
    Answer(),
    Answer("json"),
    Answer("ndjson"),
    Answer("msgpack"),
    JsonLines(array=True),
    JsonLines(array=False),
    Bulk("logs-jupyterhub-default"),
    Loki((("job", "jupyterhub"),), "json"),
    Loki((), "message"),
]
RECEIVED = 1_764_331_200_123_456_789


@functools.cache
def engines(profile: str) -> tuple[Engine, Engine]:
    options = EnrichOptions(profile=profile)  # type: ignore[arg-type]
    return engine_for("python", options), engine_for("native", options)


def exact(text: bytes) -> Any:
    """JSON with every number exact and lone surrogates kept (the standard library reads them)."""
    return json.loads(text, parse_float=Decimal, parse_int=int)


def comparable(value: Any) -> Any:
    """A decoded MessagePack value with floats as their bits, so that NaN equals NaN."""
    if isinstance(value, float):
        return ("float", struct.pack(">d", value))
    if isinstance(value, list):
        return [comparable(item) for item in value]
    if isinstance(value, dict):
        return [(comparable(key), comparable(item)) for key, item in value.items()]
    return value


def unpack(body: bytes) -> list[Any]:
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, unicode_errors="surrogateescape")
    unpacker.feed(body)
    return [comparable(item) for item in unpacker]


def readable(result: BatchResult, output: Output) -> Any:
    """What a result says, in a form to compare: bodies decoded, ids, counts, outcomes."""
    body = result.body
    if isinstance(output, Answer):
        framing = result.out_framing
        if framing == "msgpack":
            decoded: Any = unpack(body)
        elif framing in ("json", "object"):
            decoded = exact(body)
        else:
            decoded = [exact(line) for line in body.split(b"\n") if line]
            decoded.append(body.endswith(b"\n"))
    elif isinstance(output, JsonLines):
        decoded = exact(body) if output.array else [exact(line) for line in body.splitlines()]
    elif isinstance(output, Bulk):
        decoded = [exact(line) for line in body.splitlines()]
        decoded.append([exact(body[start:end]) for start, end in result.documents])
    else:
        decoded = exact(body)
    return {
        "body": decoded,
        "framing": result.framing,
        "out_framing": result.out_framing,
        "records": result.records,
        "counts": dict(result.counts),
        "outcomes": result.outcomes,
        "ids": result.ids,
    }


def run_both(profile: str, body: bytes, kind: Kind, output: Output) -> tuple[Any, Any]:
    python, native = engines(profile)
    outcomes = []
    for engine in (python, native):
        try:
            outcomes.append(readable(engine.run(body, kind, output, Limits(), RECEIVED), output))
        except CodecError as error:
            outcomes.append(("error", error.kind, error.where))
    return outcomes[0], outcomes[1]


def assert_same(profile: str, body: bytes, kind: Kind, outputs: list[Output] = OUTPUTS) -> None:
    for output in outputs:
        python, native = run_both(profile, body, kind, output)
        assert native == python, f"{output}: {body[:300]!r}"


def ndjson(records: list[Any]) -> bytes:
    return b"".join(orjson.dumps(record) + b"\n" for record in records)


@pytest.mark.parametrize("profile", PROFILES)
def test_every_example_and_reject(profile: str) -> None:
    table = builtin_table()
    lines = [e.line for rule in table.rules for e in rule.spec.examples]
    lines += [line for rule in table.rules for line in rule.spec.rejects]
    records = [{"message": line, "n": n} for n, line in enumerate(lines)]
    assert_same(profile, ndjson(records), "ndjson")
    assert_same(profile, orjson.dumps(records), "json", [Answer(), Answer("msgpack")])


@pytest.mark.parametrize("profile", PROFILES)
def test_the_whole_corpus(profile: str) -> None:
    records = [
        {"message": line, "timestamp": "2026-11-28T12:00:00.000Z", "kubernetes": {"pod_name": "hub-0"}}
        for line in corpus_lines()
    ]
    assert_same(profile, ndjson(records), "ndjson")
    events = b"".join(
        msgpack.packb([[1_764_331_200 + i, {}], {"log": r["message"]}]) for i, r in enumerate(records)
    )
    assert_same(profile, events, "msgpack")
    text = "\n".join(corpus_lines()).encode()
    assert_same(profile, text, "text")


# --- generated records -------------------------------------------------------------------------

SUPERVISORS = [
    "",
    "hub_1      | ",
    "2024-01-23T09:51:06.938123456Z ",
    "Jan 23 09:51:06 hub-host jupyterhub[812]: ",
    "\x1b[32m",
    "   ",
    "^[[31m",
]


@pytest.mark.parametrize("profile", PROFILES)
def test_every_prefix_shape(profile: str) -> None:
    """Each shape the parser reads, and the near misses: bare, behind each supervisor, and in a
    Docker json-file wrapper (itself in a record's message field)."""
    lines = [lead + line for line in PREFIX_SHAPES for lead in SUPERVISORS]
    lines += [json.dumps({"log": line + "\n", "stream": "stdout"}) for line in PREFIX_SHAPES]
    records = [{"message": line, "n": n} for n, line in enumerate(lines)]
    assert_same(profile, ndjson(records), "ndjson")
    assert_same(profile, "\n".join(PREFIX_SHAPES).encode(), "text", [Answer()])


ODD_NUMBERS = [
    "0",
    "-0",
    "12",
    "1.10",
    "1e400",
    "-1e400",
    "1e-400",
    "123456789012345678901234567890",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "1.0000000000000001",
    "0.30000000000000004",
    "1701234567.123456",
    "1764331200",
    "1764331200123",
    "1764331200123456789",
    "5e-324",
    "1.5e300",
]
KEYS = [
    "message",
    "log",
    "msg",
    "host",
    "n",
    "enrichment",
    "rule",
    "event",
    "logenrich",
    "@timestamp",
    "timestamp",
    "date",
    "time",
    "kubernetes",
    "é",
    "",
]


def json_string(text: str, escape_all: bool) -> str:
    """A JSON string literal; `escape_all` writes every non-ASCII character as \\uXXXX."""
    return json.dumps(text, ensure_ascii=escape_all)


@st.composite
def messages(draw: st.DrawFn) -> str:
    """A JSON string literal of a message: a known line decorated, junk, a wrapper, a traceback."""
    table = builtin_table()
    known = draw(st.sampled_from([e.line for rule in table.rules for e in rule.spec.examples]))
    junk = draw(st.text(max_size=30))
    shape = draw(st.integers(0, 6))
    if shape == 0:
        text = draw(st.sampled_from(SUPERVISORS)) + draw(st.sampled_from(SUPERVISORS)) + known
    elif shape == 1:
        text = junk + known if draw(st.booleans()) else known + junk
    elif shape == 2:
        text = json.dumps({"log": known + "\n", "stream": "stderr"})
    elif shape == 3:
        text = known + '\nTraceback (most recent call last):\n  File "x.py"\nValueError: ' + junk
    elif shape == 4:
        text = junk
    elif shape == 5:  # a structured logger's record: the classic notebook, python-json-logger, structlog
        keys = draw(
            st.sampled_from(
                [
                    ("msg", "level", "logger", "line_no"),
                    ("message", "levelname", "name", "lineno"),
                    ("event", "level", "logger", "exception"),
                ]
            )
        )
        record: dict[str, Any] = {keys[0]: known}
        extras = draw(st.lists(st.sampled_from((*keys[1:], "module", "asctime", "exc_info")), max_size=4))
        for key in extras:
            record[key] = draw(
                st.sampled_from(["WARNING", "info", "x", "", "Traceback\nValueError: x", 12, None, True])
            )
        text = json.dumps(record)
        if draw(st.booleans()):
            text = json.dumps({"log": text + "\n", "stream": "stderr"})
    else:
        text = known.replace(" ", draw(st.sampled_from(["\u00a0", "\u2003", "\x1c", " "])), 1)
    literal = json_string(text, draw(st.booleans()))
    if draw(st.integers(0, 9)) == 0:  # a lone surrogate escape somewhere in it
        cut = draw(st.integers(1, max(1, len(literal) - 1)))
        if literal[cut - 1] != "\\":
            literal = literal[:cut] + draw(st.sampled_from(["\\ud800", "\\udfff", "\\u0000"])) + literal[cut:]
    return literal


@st.composite
def values(draw: st.DrawFn, depth: int = 0) -> str:
    kind = draw(st.integers(0, 6 if depth < 3 else 3))
    if kind == 0:
        return draw(st.sampled_from(ODD_NUMBERS))
    if kind == 1:
        return json_string(draw(st.text(max_size=12)), draw(st.booleans()))
    if kind == 2:
        return draw(st.sampled_from(["true", "false", "null"]))
    if kind == 3:
        return draw(st.sampled_from(['"\\ud83d\\ude00"', '"a\\ud800"', '"2024-06-03T11:02:41.517Z"']))
    if kind == 4:
        items = draw(st.lists(values(depth + 1), max_size=3))
        return "[" + ",".join(items) + "]"
    return draw(objects(depth + 1))


@st.composite
def objects(draw: st.DrawFn, depth: int = 0) -> str:
    members = draw(
        st.lists(st.tuples(st.sampled_from(KEYS), values(depth) if depth < 3 else st.just("1")), max_size=4)
    )
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in members) + "}"


@st.composite
def records(draw: st.DrawFn) -> str:
    """One record as JSON text: mostly an object with a message, sometimes anything."""
    if draw(st.integers(0, 7)) == 0:
        return draw(values())
    key = draw(st.sampled_from(["message", "log", "msg", "MESSAGE"]))
    members = draw(st.lists(st.tuples(st.sampled_from(KEYS), values()), max_size=4))
    position = draw(st.integers(0, len(members)))
    members.insert(position, (key, draw(messages())))
    spaces = draw(st.sampled_from(["", " ", "\t"]))
    return (
        "{" + spaces + ("," + spaces).join(f"{json.dumps(k)}:{spaces}{v}" for k, v in members) + spaces + "}"
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(records(), min_size=1, max_size=6), st.sampled_from(PROFILES))
def test_generated_batches_in_every_json_framing(batch: list[str], profile: str) -> None:
    text = [r.encode() for r in batch]
    assert_same(profile, b"\n".join(text) + b"\n", "ndjson")
    assert_same(profile, b"[" + b",".join(text) + b"]", "json", [Answer(), Bulk("x"), Loki()])
    assert_same(profile, b" ".join(text), "sniff", [Answer()])


def _packable(value: Any) -> Any:
    return value


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(
                st.integers(0, 2**33),
                st.floats(0, 2e9),
                st.just(msgpack.ExtType(0, b"\x68\x00\x00\x01\x00\x00\x00\x05")),
            ),
            st.dictionaries(
                st.one_of(st.sampled_from(KEYS), st.integers(-5, 5), st.binary(max_size=4)),
                st.one_of(
                    st.text(max_size=10),
                    st.binary(max_size=6),
                    st.integers(-(2**63), 2**64 - 1),
                    st.floats(allow_nan=True),
                    st.just(msgpack.ExtType(7, b"\x01")),
                    st.sampled_from(
                        [
                            "x",
                            "[W 2022-03-10 17:25:19.774 JupyterHub base:1349] Failing suspected API request to not-running server: /hub/user/alice/api/metrics/v1",
                        ]
                    ),
                ),
                max_size=4,
            ),
        ),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from(PROFILES),
    st.booleans(),
)
def test_generated_msgpack_events(
    events: list[tuple[Any, dict[Any, Any]]], profile: str, with_meta: bool
) -> None:
    body = b"".join(msgpack.packb([[t, {}] if with_meta else t, r]) for t, r in events)
    assert_same(profile, body, "msgpack")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=80), min_size=1, max_size=8), st.sampled_from(PROFILES))
def test_generated_text(lines: list[str], profile: str) -> None:
    table = builtin_table()
    known = [e.line for rule in table.rules for e in rule.spec.examples][:40]
    body = "\n".join(lines + known[: len(lines)] + ["    continued"]).encode("utf-8", "surrogatepass")
    assert_same(profile, body, "text", [Answer(), Answer("msgpack"), Bulk("x")])


@pytest.mark.parametrize("profile", PROFILES)
def test_long_lines(profile: str) -> None:
    """Past 4 KiB the native engine reads fields with its own backtracker: every rule's example
    stretched by a run of one of its characters, and followed by a long tail."""
    records = []
    for rule in builtin_table().rules:
        line = rule.spec.examples[0].line
        middle = len(line) // 2
        run = next((c for c in line[middle:] if not c.isspace()), "a") * 5000
        records.append({"message": line[:middle] + run + line[middle:]})
        records.append({"message": line + " " + "x" * 5000})
    assert_same(profile, ndjson(records), "ndjson", [Answer()])


# --- hostile shapes ----------------------------------------------------------------------------

HOSTILE = [
    (b'[{"message":"x","n":123456789012345678901234567890}]', "json"),
    (b'[{"message":"x\\ud800y"}]', "json"),
    (b'{"message":"x","a":"\\udc00"}\n', "ndjson"),
    (b'[{"message":"x","t":1e400}]', "json"),
    (b'[{"message":"x","t":NaN}]', "json"),
    (b'[{"message":"x","t":Infinity}]', "json"),
    (b'[{"message":"x","t":-Infinity}]', "json"),
    (b'{"message":"\xff"}\n', "ndjson"),
    (b'{"message":"\xff"}', "json"),
    (b'{"message":"\xff"}', "sniff"),
    (b'[{"message":"a"},', "json"),
    (b'{"a":1}\n{"a":\n', "ndjson"),
    (b"[" * 129 + b"]" * 129, "json"),
    (b"[" * 128 + b"]" * 128, "json"),
    (b"[" * 2000 + b"]" * 2000, "json"),
    (b'[{"a":' * 64 + b"1" + b"}]" * 64, "json"),
    (b'[{"message":"x"},' + b'{"a":[' * 64 + b"1" + b"]}" * 64 + b"]", "json"),
    (b'{"a":' * 128 + b"1" + b"}" * 128 + b"\n", "ndjson"),
    (b'{"m":1}\n' + b'{"a":' * 129 + b"1" + b"}" * 129 + b"\n", "ndjson"),
    (b'{"m":1}\n' + b'{"a":' * 129 + b"1" + b"}" * 128 + b"\n", "ndjson"),  # and cut short
    (b'{"m":1}\n' + b'{"a":' * 129 + b"NaN" + b"}" * 129 + b"\n", "ndjson"),
    (b'{\n "a": ' + b"[" * 129 + b"]" * 129 + b"\n}\n", "ndjson"),  # pretty, too deep
    (b'{\n "a": ' + b"[" * 129 + b"]" * 129 + b"\n}\n{\n}", "ndjson"),
    (b'{"a":' * 129 + b"1" + b"}" * 129, "sniff"),
    (b'[{"message": "a"},\n {\n  "message": "b", "n": [1,\r\n 2]}\n]\n', "json"),
    (b'{"message": "a"}\n{"message":\r"b"}\n', "ndjson"),
    (b'{"message":"a\\u0000b","message":"second"}\n', "ndjson"),
    (b'{"message":"x"} {"message":"y"}', "json"),
    (b'{\n  "message": "pretty"\n}\n', "json"),
    (b'[{"message":"x","enrichment":"not an object"}]', "json"),
    (b'[{"message":"x","rule":"s","log":"fluent bit line"}]', "json"),
    (b'[1, "two", null, [3], {"message": 4}]', "json"),
    (b"hello\n    world\n\nagain", "sniff"),
    (b"[W 2022-03-10 17:25:19.774 JupyterHub base:1349] line\n", "sniff"),
    (b"\x0c form feed line", "sniff"),
    (b"", "json"),
    (b"  \n ", "ndjson"),
    (b'{"message": "x"}   x', "json"),
    (b'[{"message": "x"}]  x', "json"),
    (b'[{"message": "x"},]', "json"),
    (b'{"message": "x"}\n\xef\xbb\xbf{"message": "y"}\n', "ndjson"),
]


@pytest.mark.parametrize(("body", "kind"), HOSTILE)
@pytest.mark.parametrize("profile", PROFILES)
def test_hostile_shapes(body: bytes, kind: Kind, profile: str) -> None:
    assert_same(profile, body, kind)


@pytest.mark.parametrize(
    "body",
    [
        b"\x92\x91\x01\x81\xa3log\xa1x",  # an event with [time] header
        b"\x81\x92\x01\x02\xa1a",  # a map key that is an array
        b"\x81\xa3log\xd6\xff\x00\x00\x00\x01",  # a timestamp extension
        b"\x81\xa3log\xc7\x0c\xff" + b"\xff" * 12,  # a timestamp with nanoseconds out of range
        b"\x92\xce\x00\x00\x00\x01\x81\xa3log\xa1x\x92",  # bytes left over
        b"\xc1",
        b"\x91" * 128 + b"\x01",
        b"\x91" * 129 + b"\x01",
        b"\x91" * 129 + b"\x90",
        b"\x91" * 128 + b"\x90",
        b"\x91" * 2000 + b"\x01",
        b"\x91" * 200,  # too deep and cut short
        b"\x91" * 100,  # cut short
        b"\x92\x01\x81\xa1a" + b"\x91" * 127 + b"\x90",  # an event 128 deep
        b"\x92\x01\x81\xa1a" + b"\x91" * 127 + b"\x91\x01",  # 129
        b"\x81\x91\x01" + b"\x91" * 200 + b"\x01",  # a list key, then too deep
        b"\x92\xc1" + b"\x91" * 200 + b"\x01",  # an unknown type, then too deep
        b"\x81\xa1a\x92\xd6\xff\x00\x00\x00\x01\xc7\x0c\xff" + b"\xff" * 12,  # bad timestamp, 2nd
        b"\xdc\xff\xff" + b"\x01" * 10,  # a long array cut short
    ],
)
def test_hostile_msgpack(body: bytes) -> None:
    assert_same("default", body, "msgpack")


def test_one_depth_limit() -> None:
    assert _native.MAX_DEPTH == MAX_DEPTH


def test_the_id_digest_is_the_same() -> None:
    body = ndjson([{"message": "x"}, {"message": "x"}, {"message": "y"}])
    python, native = run_both("default", body, "ndjson", Bulk("i"))
    assert python["ids"] == native["ids"] and len(set(python["ids"])) == 3
    digest = base64.urlsafe_b64decode(python["ids"][0])
    assert len(digest) == 15
