"""Hostile input, round two (issue 19): against a real `logenrich serve` on loopback, on both
engines wherever both serve the path. Relay tests deliver to a loopback downstream that keeps
every request it gets (tests/downstream.py), named downstreams for every format and failure."""

import base64
import contextlib
import gzip
import json
import re
import select
import shutil
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import cramjam
import httpx2 as httpx
import msgpack
import orjson
import pytest
import zstandard

from tests.downstream import Answer, recording_downstream
from tests.helpers import ENGINES, cli
from tests.server import Server, running_server

LINE = (
    "[W 2022-03-10 17:25:19.774 JupyterHub base:1349] "
    "Failing suspected API request to not-running server: /hub/user/alice/api/metrics/v1"
)
LINE_ID = "jupyterhub.proxy.not-running-server"
MARKER = "logenrich-test-marker seen on {}"  # the site rule's own line (the reload test changes it)
BIG = 123456789012345678901234567890
MIB = 1024 * 1024
BOM = b"\xef\xbb\xbf"
FORMATS = ("json", "ndjson", "elasticsearch", "loki")
ISO_NS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


# --- the downstream: one loopback server, a path per downstream --------------------------------


@dataclass
class Downstreams:
    """Every request the loopback downstream got, as (path, decoded body), and what it answers."""

    port: int
    reset_port: int
    seen: list[tuple[str, bytes]] = field(default_factory=list)
    es_item_status: Any = 201  # the `status` of every _bulk item under /esstr
    lock: threading.Lock = field(default_factory=threading.Lock)

    def since(self, mark: int, prefix: str) -> list[bytes]:
        with self.lock:
            return [body for path, body in self.seen[mark:] if path.startswith(prefix)]

    def mark(self) -> int:
        with self.lock:
            return len(self.seen)


def _behaviour(state: Downstreams) -> Callable[[str, bytes], Answer]:
    def behaviour(path: str, body: bytes) -> Answer:
        with state.lock:
            state.seen.append((path, body))
        if path.startswith("/redirect/"):
            status = int(path.rsplit("/", 1)[1])
            return status, b"", {"Location": f"http://127.0.0.1:{state.port}/moved"}
        if path.startswith(("/es/", "/esstr/")):
            status: Any = 201 if path.startswith("/es/") else state.es_item_status
            actions = [orjson.loads(line) for line in body.splitlines()[0::2]]
            items = [{"create": {"_id": a["create"]["_id"], "status": status}} for a in actions]
            return 200, orjson.dumps({"errors": False, "items": items})
        return None  # json, ndjson, loki: taken (200)

    return behaviour


@contextlib.contextmanager
def resetting_server() -> Iterator[int]:
    """A downstream that reads the request and resets the connection (RST, no answer)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port: int = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with contextlib.suppress(OSError):
                conn.settimeout(2)
                conn.recv(65536)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        listener.close()


SITE_RULES = """
[ruleset]
name = "site"
version = "{version}"
doc_base = "https://wiki.example.org/jupyterhub/"

[[rules]]
id = "site.test-marker"
title = "{title}"
pattern = 'logenrich-test-marker seen on (?P<where>\\S+)'
severity = "warning"
category = "benign"
doc_url = "marker"
summary = "A line the tests send."
action = "None."

[[rules.examples]]
line = "logenrich-test-marker seen on hub"
fields = {{ where = "hub" }}
"""


@dataclass
class Rig:
    server: Server
    engine: str
    down: Downstreams
    rules: Path


@pytest.fixture(scope="module")
def downstreams() -> Iterator[Downstreams]:
    with resetting_server() as reset_port:
        state = Downstreams(port=0, reset_port=reset_port)
        with recording_downstream(_behaviour(state)) as recorder:
            state.port = recorder.port
            yield state


@pytest.fixture(scope="module", params=ENGINES)
def rig(
    request: pytest.FixtureRequest, downstreams: Downstreams, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rig]:
    engine: str = request.param
    tmp = tmp_path_factory.mktemp(f"hostile-two-{engine}")
    base = f"http://127.0.0.1:{downstreams.port}"
    config = tmp / "downstreams.toml"
    config.write_text(
        f'default = "json"\n'
        f'[downstreams.json]\nurl = "{base}/json"\nformat = "json"\n'
        f'[downstreams.ndjson]\nurl = "{base}/ndjson"\nformat = "ndjson"\n'
        f'[downstreams.elasticsearch]\nurl = "{base}/es"\nformat = "elasticsearch"\n'
        f'[downstreams.esstr]\nurl = "{base}/esstr"\nformat = "elasticsearch"\n'
        f'[downstreams.loki]\nurl = "{base}/loki"\nformat = "loki"\n'
        + "".join(
            f'[downstreams.r{s}]\nurl = "{base}/redirect/{s}"\nformat = "json"\n' for s in (301, 307, 308)
        )
        + f'[downstreams.reset]\nurl = "http://127.0.0.1:{downstreams.reset_port}/in"\nformat = "json"\n'
    )
    rules = tmp / "site.toml"
    rules.write_text(SITE_RULES.format(version="1", title="Test marker"))
    args = (
        "--engine", engine, "--reload-interval", "0", "--probe-interval", "0",
        "--downstreams-file", str(config), "--rules", str(rules), "--forward-timeout", "5",
    )  # fmt: skip
    with running_server(*args, tmp_path=tmp) as server:
        info = httpx.get(server.url + "/readyz").json()
        assert info["engine"] == engine, info
        yield Rig(server, engine, downstreams, rules)


def post(
    server: Server, path: str, body: bytes, content_type: str | None = "application/json", **headers: str
) -> httpx.Response:
    sent = dict(headers)
    if content_type is not None:
        sent["content-type"] = content_type
    return httpx.post(server.url + path, content=body, headers=sent, timeout=60)


def enrich(
    server: Server, body: bytes, content_type: str | None = "application/json", **headers: str
) -> httpx.Response:
    return post(server, "/v1/enrich", body, content_type, **headers)


def strict_json(raw: bytes) -> Any:
    """JSON as a strict reader takes it: UTF-8, no NaN / Infinity, numbers exact."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} is not JSON")

    return json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=refuse)


def lines_of(raw: bytes) -> list[Any]:
    return [strict_json(line) for line in raw.splitlines() if line.strip()]


def delivered_records(rig: Rig, fmt: str, mark: int) -> list[Any]:
    """The records the downstream of that format got since `mark`, each read as strict JSON."""
    prefix = {"json": "/json", "ndjson": "/ndjson", "elasticsearch": "/es/", "loki": "/loki"}[fmt]
    bodies = rig.down.since(mark, prefix)
    assert len(bodies) == 1, f"{len(bodies)} requests reached the {fmt} downstream"
    [body] = bodies
    if fmt == "json":
        records = strict_json(body)
        assert isinstance(records, list)
        return records
    if fmt == "ndjson":
        return lines_of(body)
    if fmt == "elasticsearch":
        return lines_of(body)[1::2]
    push = strict_json(body)
    return [strict_json(entry[1].encode("utf-8")) for stream in push["streams"] for entry in stream["values"]]


def forward_to(
    rig: Rig, fmt: str, body: bytes, content_type: str = "application/json"
) -> tuple[httpx.Response, int]:
    mark = rig.down.mark()
    return post(rig.server, f"/v1/forward/{fmt}", body, content_type), mark


def depth(value: Any) -> int:
    level = 0
    while isinstance(value, list) and value:
        level, value = level + 1, value[0]
    return level + (1 if isinstance(value, list) else 0)


# --- 1. the relay never answers 500 for a record /v1/enrich accepts ------------------------------

RAW_UTF8_BAD = b"\x83" + msgpack.packb("message") + msgpack.packb(LINE) + msgpack.packb("n") + b"\x01"
RAW_UTF8_BAD += msgpack.packb("bad") + b"\xa3a\xffb"  # a str of 3 bytes, not UTF-8

ODD_RECORDS: dict[str, tuple[bytes, str, Callable[[dict[str, Any]], None]]] = {}


def _odd(name: str, body: bytes, content_type: str) -> Callable[[Callable[[dict[str, Any]], None]], None]:
    def register(check: Callable[[dict[str, Any]], None]) -> None:
        ODD_RECORDS[name] = (body, content_type, check)

    return register


@_odd("big-integer", b'[{"message": "x", "n": %d}]' % BIG, "application/json")
def _big(record: dict[str, Any]) -> None:
    assert record["n"] == BIG and isinstance(record["n"], int)


@_odd("lone-surrogate", b'[{"message": "x\\ud800y", "other": "a\\udc00b"}]', "application/json")
def _surrogate(record: dict[str, Any]) -> None:
    assert record["message"] == "x\ud800y"
    assert record["other"] == "a\udc00b"


DEEP = 126  # in a JSON array: the array is level 1, the record 2, so 126 more make 128


@_odd("deep-nesting", b'[{"message": "x", "deep": ' + b"[" * DEEP + b"]" * DEEP + b"}]", "application/json")  # fmt: skip
def _deep(record: dict[str, Any]) -> None:
    assert depth(record["deep"]) == DEEP


@_odd("msgpack-integer-key", msgpack.packb({"message": LINE, 1: "one", "n": 1}), "application/msgpack")
def _int_key(record: dict[str, Any]) -> None:
    assert record["1"] == "one"


@_odd("msgpack-invalid-utf8", RAW_UTF8_BAD, "application/msgpack")
def _bad_utf8(record: dict[str, Any]) -> None:
    assert record["bad"] == "a\ufffdb"  # U+FFFD for the byte that is not UTF-8 (app.codecs._json_safe)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", list(ODD_RECORDS))
def test_forward_keeps_every_record_enrich_accepts(rig: Rig, case: str, fmt: str) -> None:
    body, content_type, check = ODD_RECORDS[case]
    accepted = enrich(rig.server, body, content_type)
    assert accepted.status_code == 200, accepted.text
    response, mark = forward_to(rig, fmt, body, content_type)
    assert response.status_code == 200, f"{response.status_code}: {response.text}"
    [record] = delivered_records(rig, fmt, mark)
    check(record)


@pytest.mark.parametrize("fmt", ["elasticsearch", "loki"])
@pytest.mark.parametrize("value", [b"1e400", b"1e300", b'"0001-01-01T00:00:00+14:00"'])
def test_forward_keeps_odd_timestamps(rig: Rig, fmt: str, value: bytes) -> None:
    keys = ("@timestamp", "timestamp", "date", "time")
    body = b"[" + b",".join(b'{"message": "x", "k": %d, "%s": %s}' % (n, k.encode(), value) for n, k in enumerate(keys)) + b"]"  # fmt: skip
    expected = strict_json(value)
    assert enrich(rig.server, body).status_code == 200
    response, mark = forward_to(rig, fmt, body)
    assert response.status_code == 200, f"{response.status_code}: {response.text}"
    records = sorted(delivered_records(rig, fmt, mark), key=lambda r: r["k"])
    assert [r["k"] for r in records] == list(range(len(keys)))
    for key, record in zip(keys, records, strict=True):
        assert record[key] == expected, key  # kept as sent, not turned into another time
        if fmt == "elasticsearch" and key != "@timestamp":
            assert ISO_NS.match(record["@timestamp"]), record["@timestamp"]
    if fmt == "loki":
        [body_sent] = rig.down.since(mark, "/loki")
        stamps = [e[0] for s in strict_json(body_sent)["streams"] for e in s["values"]]
        assert all(isinstance(t, str) and t.isdigit() for t in stamps), stamps


# --- 2. Elasticsearch ids ------------------------------------------------------------------------


def bulk_ids(
    rig: Rig, body: bytes, content_type: str, downstream: str = "elasticsearch"
) -> tuple[list[str], list[Any]]:
    response, mark = forward_to(rig, downstream, body, content_type)
    assert response.status_code == 200, f"{response.status_code}: {response.text}"
    [sent] = rig.down.since(mark, "/es/")
    lines = lines_of(sent)
    return [action["create"]["_id"] for action in lines[0::2]], lines[1::2]


def event_time(seconds: int, nanoseconds: int) -> msgpack.ExtType:
    return msgpack.ExtType(0, struct.pack(">II", seconds, nanoseconds))


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ((LINE + "\n") * 3, "text/plain"),
        (orjson.dumps([{"message": LINE}] * 3).decode(), "application/json"),
        ("\n".join([orjson.dumps({"message": LINE}).decode()] * 3), "application/x-ndjson"),
    ],
    ids=["raw-lines", "json-array", "ndjson"],
)
def test_bulk_identical_records_are_all_kept(rig: Rig, body: str, content_type: str) -> None:
    ids, documents = bulk_ids(rig, body.encode(), content_type)
    assert len(documents) == 3
    assert len(set(ids)) == 3, ids  # three documents, none collapsed into another


def test_bulk_events_differing_only_in_time_have_distinct_ids(rig: Rig) -> None:
    record = {"log": LINE}
    body = b"".join(msgpack.packb([[event_time(1700000000 + n, 0), {}], record]) for n in range(3))
    body += b"".join(msgpack.packb([1700000100 + n, record]) for n in range(2))
    ids, documents = bulk_ids(rig, body, "application/msgpack")
    assert len(documents) == 5
    assert len(set(ids)) == 5, ids


def test_bulk_ids_are_the_same_on_retry(rig: Rig) -> None:
    body = orjson.dumps([{"message": LINE, "n": n} for n in range(4)] + [{"message": LINE, "n": 0}])
    first, _ = bulk_ids(rig, body, "application/json")
    again, _ = bulk_ids(rig, body, "application/json")
    assert first == again
    assert len(set(first)) == 5


def test_bulk_ids_survive_a_table_reload(rig: Rig) -> None:
    body = orjson.dumps([{"message": MARKER.format("hub")}, {"message": LINE}])
    before_ids, before_docs = bulk_ids(rig, body, "application/json")
    version = f"r{time.monotonic_ns()}"
    rig.rules.write_text(SITE_RULES.format(version=version, title=f"Test marker {version}"))
    reloaded = post(rig.server, "/v1/reload", b"", None)
    assert reloaded.status_code == 200, reloaded.text
    after_ids, after_docs = bulk_ids(rig, body, "application/json")
    assert before_docs[0]["enrichment"]["title"] != after_docs[0]["enrichment"]["title"]  # the reload took
    assert after_docs[0]["enrichment"]["ruleset_version"] == version
    assert before_ids == after_ids  # ids from the record as it came in, not from its enrichment


# --- 3. the envelope time reaches every downstream -----------------------------------------------

ENVELOPES = msgpack.packb([[event_time(1700000000, 123456000), {}], {"log": LINE, "n": 1}]) + msgpack.packb(
    [1700000100, {"log": LINE, "n": 2}]
)
ENVELOPE_NS = {1: 1700000000123456000, 2: 1700000100000000000}


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_envelope_time_reaches_json_downstreams(rig: Rig, fmt: str) -> None:
    response, mark = forward_to(rig, fmt, ENVELOPES, "application/msgpack")
    assert response.status_code == 200, response.text
    records = delivered_records(rig, fmt, mark)
    assert [r["n"] for r in records] == [1, 2]
    for record in records:
        # Fluent Bit's JSON output writes the event time as `date`, in seconds (app.codecs.json_records)
        assert "date" in record, record
        assert abs(Decimal(record["date"]) * 10**9 - ENVELOPE_NS[record["n"]]) < 2000, record["date"]


def test_envelope_time_is_the_elasticsearch_timestamp(rig: Rig) -> None:
    _, documents = bulk_ids(rig, ENVELOPES, "application/msgpack")
    stamps = {d["n"]: d["@timestamp"] for d in documents}
    assert stamps == {1: "2023-11-14T22:13:20.123456000Z", 2: "2023-11-14T22:15:00.000000000Z"}


def test_envelope_time_is_the_loki_timestamp(rig: Rig) -> None:
    response, mark = forward_to(rig, "loki", ENVELOPES, "application/msgpack")
    assert response.status_code == 200, response.text
    [sent] = rig.down.since(mark, "/loki")
    entries = [e for s in strict_json(sent)["streams"] for e in s["values"]]
    got = {strict_json(e[1].encode())["n"]: e[0] for e in entries}
    assert got == {n: str(ns) for n, ns in ENVELOPE_NS.items()}


# --- 4. truncated bodies are refused, never taken as a shorter batch -----------------------------

RECORDS_3000 = orjson.dumps([{"message": LINE, "n": n} for n in range(3000)])
MSGPACK_3 = b"".join(msgpack.packb({"log": LINE, "n": n}) for n in range(3))


def _truncated_bodies() -> dict[str, tuple[bytes, str, str | None]]:
    zstd = zstandard.ZstdCompressor().compress(RECORDS_3000)
    deflate = zlib.compress(RECORDS_3000)
    raw_snappy = bytes(cramjam.snappy.compress_raw(RECORDS_3000))
    framed_snappy = bytes(cramjam.snappy.compress(RECORDS_3000))
    assert framed_snappy.startswith(b"\xff\x06\x00\x00sNaPpY")
    json_type = "application/json"
    return {
        "zstd-half": (zstd[: len(zstd) // 2], json_type, "zstd"),
        "zstd-minus-one": (zstd[:-1], json_type, "zstd"),
        "deflate-half": (deflate[: len(deflate) // 2], json_type, "deflate"),
        "deflate-minus-one": (deflate[:-1], json_type, "deflate"),
        "snappy-raw-half": (raw_snappy[: len(raw_snappy) // 2], json_type, "snappy"),
        "snappy-raw-minus-one": (raw_snappy[:-1], json_type, "snappy"),
        "snappy-framed-half": (framed_snappy[: len(framed_snappy) // 2], json_type, "snappy"),
        "snappy-framed-minus-one": (framed_snappy[:-1], json_type, "snappy"),
        "msgpack-last-object-cut": (MSGPACK_3[:-3], "application/msgpack", None),
    }


TRUNCATED = _truncated_bodies()


@pytest.mark.parametrize("case", list(TRUNCATED))
def test_truncated_bodies_are_refused(rig: Rig, case: str) -> None:
    body, content_type, encoding = TRUNCATED[case]
    headers = {"content-encoding": encoding} if encoding else {}
    response = enrich(rig.server, body, content_type, **headers)
    assert response.status_code == 400, (
        f"{response.status_code}, records: {response.headers.get('x-logenrich-records')}"
    )
    assert response.headers["content-type"] == "application/problem+json"
    mark = rig.down.mark()
    relayed = post(rig.server, "/v1/forward/json", body, content_type, **headers)
    assert relayed.status_code == 400, f"{relayed.status_code}: {relayed.text}"
    assert rig.down.since(mark, "/") == []  # nothing delivered


# --- 5. a downstream that redirects: our settings are wrong, the shipper keeps the batch ---------


@pytest.mark.parametrize("status", [301, 307, 308])
def test_downstream_redirect_is_retryable_and_logged(rig: Rig, status: int) -> None:
    response = post(rig.server, f"/v1/forward/r{status}", orjson.dumps([{"message": LINE}]))
    assert response.status_code == 503, f"{response.status_code}: {response.text}"
    assert response.headers.get("retry-after", "").isdigit()
    assert "redirect" in response.json()["detail"]
    deadline = time.monotonic() + 5
    while True:
        logged = [
            line
            for line in rig.server.output().splitlines()
            if line.startswith("{") and "redirect" in line and f"({status})" in line and f"r{status}" in line
        ]
        if logged or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert logged, f"no log line names the {status} redirect of downstream r{status}"
    assert orjson.loads(logged[-1])["level"] in ("warning", "error")


# --- 6. compression bombs cost no more than the decompressed-size limit --------------------------


def vm_kib(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field_name} for {pid}")


BOMB_LIMIT = 32 * MIB  # --max-decompressed-bytes: both bombs fit under it, so the record count must stop them
OVERHEAD = 64 * MIB  # room for a second copy of the body (its text) and the 100,000 records the limit allows
BOMBS = {
    # 8M empty objects: 24 MiB of JSON, under the byte limit, 80 times the record limit
    "json-empty-objects": (lambda: b"[" + b"{}," * (8 * MIB - 1) + b"{}]", "application/json"),
    # 8M one-character lines, as text: 16 MiB
    "text-lines": (lambda: b"a\n" * (8 * MIB), "text/plain"),
}


@pytest.mark.parametrize("bomb", list(BOMBS))
@pytest.mark.parametrize("engine", ENGINES)
def test_compression_bomb_memory_is_bounded(tmp_path: Path, engine: str, bomb: str) -> None:
    """A 413, and the peak resident memory (VmHWM, reset just before the request) grows by less
    than the decompressed-size limit plus 64 MiB: that overhead allows one more copy of the body
    (a decoder's text of it) and the records up to --max-records, not one object per record of
    the bomb (which costs gigabytes)."""
    make, content_type = BOMBS[bomb]
    inflated = make()
    body = gzip.compress(inflated, 9)
    del inflated
    assert len(body) < 256 * 1024
    args = ("--engine", engine, "--reload-interval", "0", "--max-decompressed-bytes", str(BOMB_LIMIT))
    with running_server(*args, tmp_path=tmp_path) as server:
        assert enrich(server, orjson.dumps([{"message": LINE}])).status_code == 200  # warm
        pid = server.process.pid
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
        before = vm_kib(pid, "VmRSS")
        started = time.monotonic()
        response = enrich(server, body, content_type, **{"content-encoding": "gzip"})
        elapsed = time.monotonic() - started
        peak = vm_kib(pid, "VmHWM")
    assert response.status_code == 413, f"{response.status_code}: {response.text[:300]}"
    grown_mib = (peak - before) / 1024
    assert grown_mib < (BOMB_LIMIT + OVERHEAD) / MIB, f"peak memory grew by {grown_mib:.0f} MiB"
    assert elapsed < 20


# --- 7. quadratic rules ---------------------------------------------------------------------------

CAP = 16 * 1024


def _fill(unit: str, head: str = "") -> str:
    return (head + unit * (CAP // len(unit) + 1))[:CAP]


# 16 KiB lines made of each rule's own literals, each the slowest shape found for that rule
QUADRATIC_LINES = {
    "jupyterhub.oauth.state-mismatch": _fill("oauth state argument "),
    "jupyterhub.auth.pam-unix-failure": _fill("pam_unix(): authentication failure;"),
    "culler.cull-server": _fill(", inactive for ", "Culling server a/b (age: "),
}
PER_RECORD_S = 0.050  # generous: a linear matcher takes well under 1 ms for 16 KiB (timing flake margin)


@pytest.mark.parametrize("rule_id", list(QUADRATIC_LINES))
def test_rules_on_adversarial_lines_take_bounded_time(rig: Rig, rule_id: str) -> None:
    body = orjson.dumps([{"message": QUADRATIC_LINES[rule_id]}])
    best = float("inf")
    for _ in range(3):  # the best of three: a loaded machine only makes a single try slower
        started = time.perf_counter()
        response = enrich(rig.server, body)
        best = min(best, time.perf_counter() - started)
        assert response.status_code == 200
        if best > 4 * PER_RECORD_S:
            break  # far over: no need to wait for more tries
    assert best < PER_RECORD_S, (
        f"{rule_id}: one 16 KiB record took {best * 1000:.0f} ms on the {rig.engine} engine"
    )


RULE_FILE = """
[ruleset]
name = "site"
version = "{version}"
doc_base = "https://wiki.example.org/"

[[rules]]
id = "site.{rule}"
title = "A rule"
pattern = '{pattern}'
severity = "warning"
category = "actionable"
doc_url = "{doc_url}"
summary = "A line."
action = "None."

[[rules.examples]]
line = "{line}"
"""
STATE_LINE = "oauth state argument abc != cookie jupyterhub-user-ana-oauth-state=def"
PAM_LINE = (
    "pam_unix(jupyterhub:auth): authentication failure; logname= uid=0 euid=0 tty= ruser= rhost= user=ana"
)


def rule_file(tmp_path: Path, pattern: str, line: str, version: str = "1", doc_url: str = "page") -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(RULE_FILE.format(version=version, rule="a", pattern=pattern, line=line, doc_url=doc_url))
    return path


@pytest.mark.parametrize(
    ("pattern", "line"),
    [
        (r"oauth state argument (?P<state>.+?) != cookie (?P<cookie_name>\S+?)=", STATE_LINE),
        (r"pam_unix\((?P<service>[^)]*)\): authentication failure;.*?\buser=(?P<user>\S*)", PAM_LINE),
        (r"authentication failure;.*\buser=(?P<user>\S*)", PAM_LINE),
    ],
    ids=["lazy-state", "lazy-pam", "greedy-pam"],
)
def test_check_refuses_quadratic_shapes(tmp_path: Path, pattern: str, line: str) -> None:
    result = cli("check", str(rule_file(tmp_path, pattern, line)))
    assert result.code == 1, f"check accepted {pattern!r}: {result.stdout!r} {result.stderr}"
    assert "site.a" in result.stderr


@pytest.mark.parametrize(
    ("pattern", "line"),
    [
        (r"^oauth state argument (?P<state>[^ ]+) != cookie (?P<cookie_name>[^\s=]+)=", STATE_LINE),
        (r"^pam_unix\((?P<service>[^)]*)\): authentication failure;.* user=(?P<user>\S*)$", PAM_LINE),
    ],
    ids=["state", "pam"],
)
def test_check_keeps_linear_rewrites(tmp_path: Path, pattern: str, line: str) -> None:
    """The control: the same rules anchored with ^ (one start, so each repetition runs once), so
    the refusals above are for the shape, not for the file."""
    result = cli("check", str(rule_file(tmp_path, pattern, line)))
    assert result.code == 0, result.stderr


# --- 8. slow senders cannot keep real batches out -------------------------------------------------

TRICKLE_HEAD = (
    b"POST /v1/enrich HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
)


def _answered(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


def test_slow_senders_cannot_keep_real_batches_out(tmp_path: Path) -> None:
    """--max-pending 2: two places, and 8 x 2 = 16 set-aside places (app.admission.Admission).
    Slow senders keep arriving until every place and every set-aside place is held; then real
    batches must get 200 within a few seconds (a slow sender that cannot be set aside holds no
    place past the 2 s grace), not after the 60 s body timeout."""
    pending, set_aside = 2, 16
    args = ("--max-pending", str(pending), "--body-timeout", "60", "--reload-interval", "0")
    with running_server(*args, tmp_path=tmp_path) as server:
        alive: dict[socket.socket, float] = {}
        most_held = 0
        last_trickle = time.monotonic()
        deadline = time.monotonic() + 40
        try:
            while True:
                now = time.monotonic()
                for sock in [s for s in alive if _answered(s)]:
                    sock.close()
                    del alive[sock]
                held = sum(1 for opened in alive.values() if now - opened > 0.5)
                most_held = max(most_held, held)
                if most_held >= pending + set_aside:
                    break
                assert now < deadline, f"only {most_held} slow senders were ever held at once"
                if len(alive) < pending + set_aside + 4:
                    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
                    sock.sendall(TRICKLE_HEAD + b"[")
                    alive[sock] = now
                if now - last_trickle > 1:  # one more byte each, every second
                    for sock in alive:
                        with contextlib.suppress(OSError):
                            sock.send(b" ")
                    last_trickle = now
                time.sleep(0.1)
            for n in range(3):  # real batches now, retried on 503 as a shipper does
                started = time.monotonic()
                while True:
                    response = enrich(server, orjson.dumps([{"message": LINE, "n": n}]))
                    if response.status_code == 200:
                        break
                    assert response.status_code == 503, response.text
                    assert time.monotonic() - started < 5, "a real batch waited more than 5 s for a place"
                    time.sleep(0.1)
        finally:
            for sock in alive:
                sock.close()


# --- 9. valid JSON kept exactly, what is not JSON refused with where it is -----------------------


def test_lone_surrogate_in_a_message(rig: Rig) -> None:
    response = enrich(rig.server, b'[{"message": "x\\ud800y"}]')
    assert response.status_code == 200, response.text
    assert b'"x\\ud800y"' in response.content  # the escape written back as it came
    [record] = strict_json(response.content)
    assert record["enrichment"]["classification"] == "unclassified"


def test_lone_surrogate_outside_the_message(rig: Rig) -> None:
    response = enrich(rig.server, b'[{"message": "%s", "user": "a\\udc00b"}]' % LINE.encode())
    assert response.status_code == 200, response.text
    response.content.decode("utf-8")  # valid UTF-8
    assert b'"a\\udc00b"' in response.content
    [record] = strict_json(response.content)
    assert record["enrichment"]["classification"] == LINE_ID


@pytest.mark.parametrize(
    ("body", "content_type", "line", "column"),
    [
        (b'{"message": "ok"}\n{"message": "a\xffb"}\n', "application/x-ndjson", 2, 15),
        (b'{"message": "a\xffb"}', "application/json", 1, 15),
    ],
    ids=["ndjson", "single-object"],
)
def test_invalid_utf8_in_json_is_refused_with_where(
    rig: Rig, body: bytes, content_type: str | None, line: int, column: int
) -> None:
    response = enrich(rig.server, body, content_type)
    assert response.status_code == 400, f"{response.status_code}: {response.text[:300]}"
    where = response.json()["where"]
    assert (where["line"], where["column"]) == (line, column), where  # the column of the byte 0xff


@pytest.mark.parametrize(
    "body",
    [b'{"message": "ok"}\n{"message": "a\xffb"}\n', b'[{"message": "ok"},\n {"message": "a\xffb"}]'],
    ids=["ndjson", "array"],
)
def test_invalid_utf8_without_a_content_type_is_read_as_text(rig: Rig, body: bytes) -> None:
    """A body that says nothing of its type is JSON only when its bytes are JSON, whole: else it
    is raw text (the shipper keeps nothing that a 400 would have made it drop)."""
    response = enrich(rig.server, body, None)
    assert response.status_code == 200, response.text
    records = lines_of(response.content)
    lines = body.decode("utf-8", "replace").splitlines()
    assert [r["message"] for r in records] == lines


def test_invalid_utf8_in_text_is_replaced(rig: Rig) -> None:
    response = enrich(rig.server, b"a\xffb raw line\n" + LINE.encode() + b"\n", "text/plain")
    assert response.status_code == 200, response.text
    records = lines_of(response.content)
    assert [r["message"] for r in records] == ["a\ufffdb raw line", LINE]


@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
@pytest.mark.parametrize("with_big", [False, True], ids=["alone", "with-big-integer"])
def test_1e400_is_kept_exactly(rig: Rig, content_type: str, with_big: bool) -> None:
    extra = b', "n": %d' % BIG if with_big else b""
    record = b'{"message": "x", "v": 1e400%s}' % extra
    body = b"[" + record + b"]" if content_type == "application/json" else record + b"\n"
    response = enrich(rig.server, body, content_type)
    assert response.status_code == 200, response.text
    assert b'"v":1e400' in response.content.replace(b" ", b""), response.content[:200]
    [got] = (
        strict_json(response.content) if content_type == "application/json" else lines_of(response.content)
    )
    assert got["v"] == Decimal("1e400")
    if with_big:
        assert got["n"] == BIG


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
def test_nan_and_infinity_literals_are_refused_where_they_are(
    rig: Rig, literal: str, content_type: str
) -> None:
    bad = '{"message": "x", "v": ' + literal + "}"
    if content_type == "application/json":
        text, line = "[" + bad + "]", 1
    else:
        text, line = '{"message": "ok"}\n' + bad + "\n", 2
    at = bad.index(literal) + 1 + (1 if content_type == "application/json" else 0)
    response = enrich(rig.server, text.encode(), content_type)
    assert response.status_code == 400, f"{response.status_code}: {response.text[:300]}"
    where = response.json()["where"]
    assert where["line"] == line, where
    allowed = {at, at + 1} if literal.startswith("-") else {at}  # `-Infinity`: its sign or its word
    assert where["column"] in allowed, (where, sorted(allowed))


BOM_CASES = {
    "json-array": (orjson.dumps([{"message": LINE}]), "application/json"),
    "ndjson": (orjson.dumps({"message": LINE}) + b"\n", "application/x-ndjson"),
    "single-object": (orjson.dumps({"message": LINE}), "application/json"),
    "text": (LINE.encode() + b"\n", "text/plain"),
    "no-content-type": (orjson.dumps([{"message": LINE}]), None),
}


@pytest.mark.parametrize("case", list(BOM_CASES))
def test_one_leading_bom_is_skipped(rig: Rig, case: str) -> None:
    body, content_type = BOM_CASES[case]
    response = enrich(rig.server, BOM + body, content_type)
    assert response.status_code == 200, f"{response.status_code}: {response.text[:300]}"
    media = response.headers["content-type"]
    records = lines_of(response.content) if "ndjson" in media else strict_json(response.content)
    records = records if isinstance(records, list) else [records]
    assert [r["message"] for r in records] == [LINE]  # read as what follows the mark, no U+FEFF kept
    assert records[0]["enrichment"]["classification"] == LINE_ID
    if content_type is None:
        assert media.startswith("application/json")  # read as the JSON it is, not as a text line


# --- 10. sniffing: text stays text unless the bytes are MessagePack, whole -----------------------

SNIFF_TEXTS = {
    "form-feed": ["page one\fpage two", LINE, "nul \x00 inside", "last line"],
    "utf8-split-at-512": ["x" * 511 + "é and more", LINE],
    "thaana-first": ["\u0790 starts with 0xde, a MessagePack map16", LINE],
    "syriac-first": ["\u0710 starts with 0xdc, a MessagePack array16", LINE],
}


@pytest.mark.parametrize("content_type", [None, "application/octet-stream"])
@pytest.mark.parametrize("case", list(SNIFF_TEXTS))
def test_text_is_not_read_as_msgpack(rig: Rig, case: str, content_type: str | None) -> None:
    lines = SNIFF_TEXTS[case]
    body = "\n".join(lines).encode() + b"\n"
    if case == "utf8-split-at-512":
        assert body[511:513] == "é".encode()
    response = enrich(rig.server, body, content_type)
    assert response.status_code == 200, f"{response.status_code}: {response.text[:300]}"
    assert "msgpack" not in response.headers["content-type"]
    records = lines_of(response.content)
    assert [r["message"] for r in records] == lines
    assert all(set(r) == {"message", "enrichment"} for r in records)


# --- 11. versions and names are plain tokens -----------------------------------------------------


@pytest.mark.parametrize(
    ("header", "refused"),
    [
        ('name = "site"\nversion = "1 \u2014 beta"', True),
        ('name = "site"\nversion = "1.0\u00e9"', True),
        ('name = "site\u2014x"\nversion = "1"', True),
        ('name = "site"\nversion = "1.0-beta_2+build.7"', False),  # the control: a plain token
    ],
    ids=["em-dash-version", "latin1-version", "em-dash-name", "plain-token"],
)
def test_check_wants_plain_token_versions_and_names(tmp_path: Path, header: str, refused: bool) -> None:
    text = rule_file(tmp_path, r"^A line (?P<x>\d+)$", "A line 1").read_text()
    text = text.replace('name = "site"\nversion = "1"', header)
    (tmp_path / "rules.toml").write_text(text)
    result = cli("check", str(tmp_path / "rules.toml"))
    assert (result.code == 1) == refused, result.stderr
    if refused:
        assert "ruleset." in result.stderr


# --- 12. the catalog page ---------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
BROWSER_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def page_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server("--reload-interval", "0", tmp_path=tmp_path_factory.mktemp("page")) as server:
        yield server


def _script_sources(policy: str) -> str:
    directives = {d.strip().split(" ", 1)[0]: d.strip() for d in policy.split(";") if d.strip()}
    return directives.get("script-src") or directives.get("default-src") or ""


def test_catalog_page_has_a_content_security_policy(page_server: Server) -> None:
    response = httpx.get(page_server.url + "/")
    assert response.status_code == 200
    policy = response.headers.get("content-security-policy")
    assert policy, "the page has no Content-Security-Policy header"
    scripts = _script_sources(policy)
    assert scripts, policy  # scripts are restricted
    assert "'unsafe-inline'" not in scripts and "*" not in scripts.split(), policy


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_try_it_renders_only_what_the_service_computed(page_server: Server) -> None:
    from playwright.sync_api import sync_playwright

    pasted = [
        {"message": LINE},
        {
            "log": 5,
            "enrichment": {
                "classification": "fake.enrichment",
                "doc_url": "javascript:document.title='pwned'",
            },
        },
        {"log": 6, "rule": {"id": "fake.ecs", "reference": "javascript:document.title='pwned'"}},
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS)
        try:
            page = browser.new_page()
            page.goto(page_server.url + "/")
            page.get_by_text("rules", exact=False).first.wait_for()
            page.get_by_label("Log lines").fill(json.dumps(pasted))
            page.get_by_role("button", name="Classify").click()
            rows = page.locator("#results tbody tr")
            rows.first.wait_for(timeout=10_000)
            status = page.locator("#try-status").inner_text()
            count = rows.count()
            hrefs = [a.get_attribute("href") or "" for a in page.locator("#results a").all()]
            text = page.locator("#results").inner_text()
        finally:
            browser.close()
    # only the record with a log line is sent and shown; the others are named as passed through
    assert count == 1 and "2 pasted record(s) hold no message" in status, (count, status)
    assert all(h.startswith(("https://", "http://")) for h in hrefs), hrefs
    assert any(h.startswith("https://") for h in hrefs), hrefs  # the real line's doc link is there
    assert "fake.enrichment" not in text and "fake.ecs" not in text  # not computed by the service


def test_check_refuses_a_javascript_doc_url(tmp_path: Path) -> None:
    path = rule_file(tmp_path, r"^A line (?P<x>\d+)$", "A line 1", doc_url="javascript:alert(1)")
    result = cli("check", str(path))
    assert result.code == 1
    assert "javascript:" in result.stderr


# --- smaller -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("message", ["\n", "", "   ", " \t\r\n"])
def test_blank_message_is_not_a_multi_line_header(rig: Rig, message: str) -> None:
    """A bare blank message has no JupyterHub header: the product means the header rule for a
    prefix with nothing after it; a record with a string message is never passthrough (wire
    contract), so a blank one is unclassified."""
    response = enrich(rig.server, orjson.dumps([{"log": message}]))
    assert response.status_code == 200
    [record] = strict_json(response.content)
    assert record["log"] == message
    assert record["enrichment"]["classification"] == "unclassified"


@pytest.mark.parametrize("token", ["", " "])
def test_empty_token_is_refused_at_startup(tmp_path: Path, token: str) -> None:
    try:
        with running_server(
            "--reload-interval", "0", env={"LOGENRICH_TOKEN": token}, tmp_path=tmp_path
        ) as server:
            empty = post(server, "/v1/enrich", b"[]", authorization="Bearer ")
            bare = post(server, "/v1/enrich", b"[]")
    except AssertionError as refused:
        assert "exited" in str(refused) and "token" in str(refused).lower()
        return
    assert (empty.status_code, bare.status_code) == (401, 401), "an empty token accepts requests"


@pytest.mark.parametrize("q", ["Q=0", "q=nan", "q=inf", "q=-1", "q=NaN"])
def test_accept_q_values_that_mean_no(rig: Rig, q: str) -> None:
    body = orjson.dumps([{"message": LINE}])
    control = enrich(rig.server, body, accept="application/x-ndjson", **{"accept-encoding": "gzip"})
    assert control.headers["content-type"].startswith("application/x-ndjson")
    assert control.headers.get("content-encoding") == "gzip"
    response = enrich(
        rig.server, body, accept=f"application/x-ndjson;{q}", **{"accept-encoding": f"gzip;{q}"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json"), response.headers["content-type"]
    assert response.headers.get("content-encoding") is None


@pytest.mark.parametrize(
    ("status", "answer"),
    [("201", 200), (" 201 ", 200), ("429", 503), ("oops", 503), (None, 503), (201.5, 503)],
)
def test_bulk_item_status_of_another_type(rig: Rig, status: Any, answer: int) -> None:
    rig.down.es_item_status = status
    try:
        response = post(rig.server, "/v1/forward/esstr", orjson.dumps([{"message": LINE}]))
    finally:
        rig.down.es_item_status = 201
    assert response.status_code == answer, f"{response.status_code}: {response.text}"


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_relay_of_msgpack_bin_and_ext_is_plain_json(rig: Rig, fmt: str) -> None:
    record = {
        "log": LINE,
        "text_bin": b"hello",
        "bin": b"\xff\x00\x01",
        "ext": msgpack.ExtType(77, b"\x00\x01"),
    }
    response, mark = forward_to(rig, fmt, msgpack.packb(record, use_bin_type=True), "application/msgpack")
    assert response.status_code == 200, response.text
    [sent] = rig.down.since(mark, "/" + fmt)
    assert b"b'" not in sent and b"ExtType" not in sent
    [got] = delivered_records(rig, fmt, mark)
    # app.codecs._json_safe: UTF-8 binary as a string, other binary as base64, ext as type + hex
    assert got["text_bin"] == "hello"
    assert got["bin"] == base64.b64encode(b"\xff\x00\x01").decode()
    assert got["ext"] == {"ext_type": 77, "data": "0001"}


def _reset_forward(rig: Rig) -> httpx.Response:
    return post(rig.server, "/v1/forward/reset", orjson.dumps([{"message": LINE}]))


def test_reset_downstream_answer_names_a_reason(rig: Rig) -> None:
    response = _reset_forward(rig)
    assert response.status_code == 503, response.text
    detail = response.json()["detail"]
    assert re.search(r"unreachable: \S", detail), detail


def test_reset_downstream_is_logged_with_a_reason(rig: Rig) -> None:
    before = len(rig.server.output().splitlines())
    assert _reset_forward(rig).status_code == 503
    time.sleep(0.3)
    new = [orjson.loads(line) for line in rig.server.output().splitlines()[before:] if line.startswith("{")]
    about = [e for e in new if e.get("downstream") == "reset" and e.get("event") != "request"]
    assert about, "no log line about the reset downstream: " + repr([e.get("event") for e in new])
    reasons = [str(e.get("error") or e.get("detail") or "") for e in about]
    assert any(r.strip() and not r.rstrip().endswith("unreachable:") for r in reasons), reasons


def test_bom_is_one_behaviour_on_every_framing(rig: Rig) -> None:
    """The same record behind a byte-order mark in a JSON array, NDJSON and text: each 200, each
    the same message, none with U+FEFF."""
    messages = []
    for body, content_type in (
        (orjson.dumps([{"message": LINE}]), "application/json"),
        (orjson.dumps({"message": LINE}) + b"\n", "application/x-ndjson"),
        (LINE.encode() + b"\n", "text/plain"),
    ):
        response = enrich(rig.server, BOM + body, content_type)
        assert response.status_code == 200, f"{content_type}: {response.status_code} {response.text[:200]}"
        media = response.headers["content-type"]
        records = lines_of(response.content) if "ndjson" in media else strict_json(response.content)
        messages.append([r["message"] for r in records])
    assert messages == [[LINE]] * 3
