"""Wire decoding and encoding, independent of HTTP."""

import gzip
import zlib
from decimal import Decimal

import cramjam
import msgpack
import pytest
import zstandard

from app.batch import Limits
from app.codecs import (
    OUT_TYPES,
    Decoded,
    accepted_encoding,
    answer_framing,
    answer_preference,
    decode_records,
    decompress,
    dumps,
    encode_answer,
    may_change_numbers,
    request_kind,
)
from app.errors import CodecError
from tests.payloads import PAYLOADS, Payload, compress, decode_response, exact_json, input_records

LIMITS = Limits()


def decode_body(body: bytes, content_type: str | None, encoding: str | None, limits: Limits) -> Decoded:
    """Decompress and decode, as the service does before enriching."""
    data, _ = decompress(body, encoding, limits.max_decompressed_bytes)
    return decode_records(data, request_kind(content_type), limits)


def encode_batch(decoded: Decoded, accept: str | None) -> tuple[bytes, str]:
    framing = answer_framing(answer_preference(accept), decoded.framing)
    return encode_answer(decoded, framing), OUT_TYPES[framing]


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.name)
@pytest.mark.parametrize("encoding", ["identity", "gzip", "deflate", "zstd", "snappy"])
def test_decode_every_shape_and_encoding(payload: Payload, encoding: str) -> None:
    data, got = decompress(compress(payload.body, encoding), encoding, LIMITS.max_decompressed_bytes)
    assert got == encoding
    batch = decode_records(data, request_kind(payload.content_type), LIMITS)
    assert batch.framing == payload.framing
    expected = input_records(payload)
    if payload.framing == "msgpack":
        assert batch.records == [event[1] for event in expected]
    else:
        assert [exact_json(dumps(record)) for record in batch.records] == expected


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.name)
def test_encode_keeps_the_framing(payload: Payload) -> None:
    batch = decode_body(payload.body, payload.content_type, None, LIMITS)
    body, media = encode_batch(batch, None)
    assert media == payload.response_type
    got = decode_response(body, media)
    sent = input_records(payload)
    assert got == sent  # nothing enriched yet: the same records, in the same order
    if payload.framing == "msgpack":
        assert body == payload.body  # MessagePack events are written back byte for byte


def test_ndjson_trailing_newline_is_kept() -> None:
    for body in (b'{"a":1}\n{"a":2}', b'{"a":1}\n{"a":2}\n'):
        batch = decode_body(body, "application/x-ndjson", None, LIMITS)
        assert encode_batch(batch, None)[0] == body


def test_msgpack_round_trip_is_byte_exact_and_json_adds_date() -> None:
    payload = next(p for p in PAYLOADS if p.framing == "msgpack")
    batch = decode_body(payload.body, payload.content_type, None, LIMITS)
    assert encode_batch(batch, None)[0] == payload.body
    body, media = encode_batch(batch, "application/json")
    records = decode_response(body, media)
    assert media == "application/json"
    assert all(isinstance(r["date"], Decimal) for r in records)  # seconds, with a fraction


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        ("application/x-ndjson", "application/x-ndjson"),
        ("application/msgpack", "application/msgpack"),
        ("*/*", "application/json"),
        ("text/html, application/x-ndjson;q=0.5", "application/x-ndjson"),
        ("application/json;q=0.1, application/msgpack;q=0.9", "application/msgpack"),
    ],
)
def test_accept_chooses_the_framing(accept: str, media: str) -> None:
    batch = decode_body(b'[{"message":"x"}]', "application/json", None, LIMITS)
    body, got = encode_batch(batch, accept)
    assert got == media
    assert decode_response(body, got) == [{"message": "x"}]


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("gzip", "gzip"),
        ("gzip;q=0.5, zstd", "zstd"),
        ("br", "identity"),
        ("deflate, gzip;q=0", "deflate"),
        (None, "identity"),
    ],
)
def test_accept_encoding(header: str | None, chosen: str) -> None:
    assert accepted_encoding(header) == chosen


@pytest.mark.parametrize(
    ("body", "content_type", "encoding", "kind", "fragment"),
    [
        (b'[{"message": "a"},', "application/json", None, "undecodable", "line 1, column 19"),
        (b'{"a":1}\n{"a":\n', "application/x-ndjson", None, "undecodable", "not valid NDJSON at line 2"),
        (b"hello", "application/json", None, "undecodable", "starts with neither"),
        (b"\xc1\xc1\xc1", "application/msgpack", None, "undecodable", "MessagePack"),
        (b"[]", "application/xml", None, "unsupported_type", "unknown Content-Type"),
        (b"[]", "application/json", "br", "unsupported_encoding", "unknown Content-Encoding"),
        (b"not gzip", "application/json", "gzip", "undecodable", "not valid gzip"),
        (gzip.compress(b"[]")[:-6], "application/json", "gzip", "undecodable", "truncated"),
        (b"\x05garbage", "application/json", "snappy", "undecodable", "not valid snappy"),
        (b"\x28\xb5\x2f\xfd garbage", "application/json", "zstd", "undecodable", "not valid zstd"),
    ],
)
def test_bad_bodies_say_what_and_where(
    body: bytes, content_type: str, encoding: str | None, kind: str, fragment: str
) -> None:
    with pytest.raises(CodecError) as caught:
        decode_body(body, content_type, encoding, LIMITS)
    assert caught.value.kind == kind
    assert fragment in caught.value.detail


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd", "snappy"])
def test_bombs_stop_at_the_limit(encoding: str) -> None:
    inflated = b"\0" * (8 * 1024 * 1024)
    bomb = compress(inflated, encoding)
    assert len(inflated) / len(bomb) > 20  # snappy's block format caps its ratio near 21:1
    with pytest.raises(CodecError) as caught:
        decompress(bomb, encoding, 1024 * 1024)
    assert caught.value.kind == "too_large"


def test_framed_snappy_and_raw_deflate() -> None:
    body = b'[{"message":"x"}]'
    assert decompress(bytes(cramjam.snappy.compress(body)), "snappy", 1000)[0] == body
    raw = zlib.compressobj(wbits=-15)
    assert decompress(raw.compress(body) + raw.flush(), "deflate", 1000)[0] == body
    assert (
        decompress(zstandard.ZstdCompressor(write_content_size=False).compress(body), "zstd", 1000)[0] == body
    )


def test_record_limit() -> None:
    with pytest.raises(CodecError) as caught:
        decode_body(b"[" + b",".join([b"{}"] * 11) + b"]", "application/json", None, Limits(max_records=10))
    assert caught.value.kind == "too_many_records"


def test_msgpack_extension_types_pass_through() -> None:
    body = msgpack.packb({"log": "x", "blob": msgpack.ExtType(42, b"\x01\x02")})
    batch = decode_body(body, "application/msgpack", None, LIMITS)
    assert encode_batch(batch, None)[0] == body
    json_body, _ = encode_batch(batch, "application/json")
    assert b'"ext_type":42' in json_body


def test_text_plain_groups_continuation_lines() -> None:
    batch = decode_body(b"first\n    more\n\nsecond", "text/plain; charset=utf-8", None, LIMITS)
    assert batch.records == [{"message": "first\n    more"}, {"message": "second"}]


@pytest.mark.parametrize(
    "number",
    [2**63 - 1, 2**63, 2**64 - 1, 2**64, 10**30, -(2**63), -(2**63) - 1, -(10**25), 1602537422042635000],
)
@pytest.mark.parametrize("framing", ["json", "ndjson"])
def test_integers_are_kept_exactly(number: int, framing: str) -> None:
    record = f'{{"message": "x", "n": {number}}}'.encode()
    body = b"[" + record + b"]" if framing == "json" else record + b"\n" + record + b"\n"
    batch = decode_body(body, None, None, Limits())
    answer, media = encode_batch(batch, None)
    assert [r["n"] for r in decode_response(answer, media)] == [number] * len(batch.records)


@pytest.mark.parametrize(
    ("text", "may_change"),
    [
        (b'{"ts": 1602537422042635000}', False),  # nanoseconds: 19 digits, exact in orjson
        (b'{"m": "written_ts\\": 1602537422042635000"}', False),
        (b'{"n": 18446744073709551616}', True),
        (b'{"n": -9223372036854775809}', True),
        (b'{"n": 12345678901234567890123}', True),
        (b'{"x": 1.0000000000000001}', True),  # 17 significant digits: a double rounds it
        (b'{"x": 1234567.12345678}', False),  # 15: a double keeps it
        (b'{"x": 1e400}', True),
        (b'{"x": 1e-400}', True),
        (b'{"x": 1.5e-45}', False),
    ],
)
def test_numbers_a_double_may_change_are_spotted(text: bytes, may_change: bool) -> None:
    assert may_change_numbers(text) is may_change
