"""Hostile and odd input against a real server: each gets its status, nothing crashes or hangs,
and time and memory stay bounded."""

import socket
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
import pytest

from tests.helpers import OVERSIZED_NUMBERS
from tests.payloads import compress
from tests.server import rss_kib, running_server

LINE = "[W 2022-03-10 17:25:19.774 JupyterHub base:1349] Failing suspected API request to not-running server: /u/x"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    args = ("--reload-interval", "0", "--body-timeout", "1", "--max-decompressed-bytes", str(8 * 1024 * 1024))
    with running_server(*args, tmp_path=tmp_path_factory.mktemp("hostile")) as s:
        yield s


def post(server: Any, body: bytes, content_type: str = "application/json", **headers: str) -> httpx.Response:
    return httpx.post(
        server.url + "/v1/enrich", content=body, headers={"content-type": content_type, **headers}, timeout=30
    )


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd", "snappy"])
def test_compression_bombs_are_refused_within_the_limit(server: Any, encoding: str) -> None:
    inflated = b"[" + b" " * (512 * 1024 * 1024) + b"]"  # 512 MiB of JSON white space
    bomb = compress(inflated, encoding)
    del inflated
    assert encoding == "snappy" or len(bomb) * 1000 < 512 * 1024 * 1024  # > 1000:1 (snappy caps at ~21:1)
    before = rss_kib(server.process.pid)
    started = time.monotonic()
    response = post(server, bomb, **{"content-encoding": encoding})
    assert response.status_code == 413, response.text
    assert time.monotonic() - started < 10
    assert rss_kib(server.process.pid) - before < 64 * 1024  # never near the 512 MiB it inflates to


def test_deeply_nested_json(server: Any) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    started = time.monotonic()
    response = post(server, body)
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]
    assert time.monotonic() - started < 5


def test_a_one_mib_message_is_enriched_in_bounded_time(server: Any) -> None:
    message = LINE + " " + "x" * (1024 * 1024)
    started = time.monotonic()
    response = post(server, orjson.dumps([{"message": message}]))
    assert response.status_code == 200
    [record] = response.json()
    assert record["message"] == message  # kept whole; only 16 KiB of it is examined
    assert record["enrichment"]["classification"] == "jupyterhub.proxy.not-running-server"
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("body", "check"),
    [
        (b'[{"message": "a\\u0000b", "n": 1}]', lambda r: r[0]["message"] == "a\x00b"),
        (b'[{"message": "x", "k": 1, "k": 2}]', lambda r: r[0]["k"] == 2),  # the last duplicate wins
        (
            b'[{"message": "x", "big": 123456789012345678901234567890}]',
            lambda r: r[0]["big"] == 123456789012345678901234567890,
        ),
        (b'[{"message": "x", "neg": -9223372036854775809}]', lambda r: r[0]["neg"] == -9223372036854775809),
        (b'[{"message": "\\ud83d\\ude00 emoji"}]', lambda r: r[0]["message"] == "\U0001f600 emoji"),
    ],
)
def test_odd_values_pass_through(server: Any, body: bytes, check: Any) -> None:
    response = post(server, body)
    assert response.status_code == 200, response.text
    assert check(response.json())


def test_oversized_numbers_in_lines_are_classified_not_fatal(server: Any) -> None:
    records = [{"message": line, "n": n} for n, line in enumerate(OVERSIZED_NUMBERS)]
    for content_type in ("application/json", "application/x-ndjson"):
        body = (
            orjson.dumps(records)
            if content_type == "application/json"
            else b"\n".join(map(orjson.dumps, records))
        )
        response = post(server, body, content_type)
        assert response.status_code == 200, response.text
        if content_type.endswith("ndjson"):
            got = [orjson.loads(line) for line in response.content.splitlines()]
        else:
            got = orjson.loads(response.content)
        assert [r["n"] for r in got] == list(range(len(records)))
        assert all(r["enrichment"]["classification"] != "unclassified" for r in got)


def test_invalid_utf8(server: Any) -> None:
    response = post(server, b'[{"message": "\xff\xfe bad"}]')
    assert response.status_code == 400  # not JSON at all: nothing can be returned faithfully
    raw = post(server, b"\xff\xfe a raw line\n" + LINE.encode(), "text/plain")
    assert raw.status_code == 200  # raw lines: replaced characters, every line kept
    records = [orjson.loads(line) for line in raw.content.splitlines()]
    assert records[0]["message"] == "\ufffd\ufffd a raw line"
    assert records[1]["enrichment"]["classification"] == "jupyterhub.proxy.not-running-server"


def test_msgpack_extension_types(server: Any) -> None:
    import msgpack

    body = msgpack.packb({"log": LINE, "ext": msgpack.ExtType(77, b"\x00\x01")})
    response = post(server, body, "application/msgpack")
    assert response.status_code == 200
    [record] = list(msgpack.Unpacker(__import__("io").BytesIO(response.content), raw=False))
    assert record["ext"] == msgpack.ExtType(77, b"\x00\x01")


def _raw(server: Any, head: bytes, body: bytes, wait: float = 0.0) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        for byte in body:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break  # the server gave up on us: read its answer
            time.sleep(wait)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_slow_client_gets_408_not_a_hang(server: Any) -> None:
    head = (
        b"POST /v1/enrich HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n"
    )
    started = time.monotonic()
    answer = _raw(server, head, b'[{"message": "slowly"}]', wait=0.2)  # 23 bytes over 4.6 s
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert time.monotonic() - started < 8


def test_content_length_that_lies(server: Any) -> None:
    head = b"POST /v1/enrich HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    started = time.monotonic()
    answer = _raw(server, head, b"[]")  # promised 1000 bytes, sent 2
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert time.monotonic() - started < 5
    assert post(server, b"[]").status_code == 200  # and the server is fine afterwards


def test_bodies_in_flight_share_a_memory_budget(tmp_path: Path) -> None:
    """Many large bodies at once get 503 past --max-buffered-bytes, and the budget comes back."""
    mib = 1024 * 1024
    args = (
        "--max-body-bytes",
        str(mib),
        "--max-buffered-bytes",
        str(mib + mib // 2),
        "--reload-interval",
        "0",
    )
    body = orjson.dumps([{"message": "x" * 1000}] * 880)  # ~870 KiB: two do not fit in 1.5 MiB
    with running_server(*args, tmp_path=tmp_path) as s:
        holder = socket.create_connection(("127.0.0.1", s.port))
        holder.sendall(
            b"POST /v1/enrich HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body[:-10]  # all but its last bytes
        )
        try:
            deadline = time.monotonic() + 5
            while True:  # the server takes the held bytes in as they arrive
                response = post(s, body)
                if response.status_code == 503 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert response.status_code == 503
            assert response.headers["retry-after"] == "1"
            assert "request bodies" in response.json()["detail"]
        finally:
            holder.close()  # a sender that goes away gives its bytes back
        deadline = time.monotonic() + 5
        while post(s, body).status_code != 200:
            assert time.monotonic() < deadline, "the budget was not given back"
            time.sleep(0.05)


def test_huge_array_is_refused_by_count(server: Any) -> None:
    body = b"[" + b",".join([b"{}"] * 100_001) + b"]"
    response = post(server, body)
    assert response.status_code == 413
    assert "100000" in response.json()["detail"]
