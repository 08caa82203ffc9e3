"""The fixture payloads in the exact shapes shippers send, and helpers to check round trips."""

import gzip
import io
import json
import zlib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import cramjam
import msgpack
import zstandard

PAYLOADS_DIR = Path(__file__).resolve().parent / "fixtures" / "payloads"


@dataclass(frozen=True)
class Payload:
    name: str
    file: str
    content_type: str | None
    framing: str
    response_type: str

    @property
    def body(self) -> bytes:
        return (PAYLOADS_DIR / self.file).read_bytes()


PAYLOADS = [
    Payload("vector-json", "vector_json_array.json", "application/json", "json", "application/json"),
    Payload(
        "vector-ndjson", "vector_ndjson.ndjson", "application/x-ndjson", "ndjson", "application/x-ndjson"
    ),
    Payload("fluentbit-json", "fluentbit_json.json", "application/json", "json", "application/json"),
    Payload(
        "fluentbit-json-lines",
        "fluentbit_json_lines.ndjson",
        "application/x-ndjson",
        "ndjson",
        "application/x-ndjson",
    ),
    Payload(
        "fluentbit-json-stream",
        "fluentbit_json_stream.json",
        "application/json",
        "json_stream",
        "application/x-ndjson",
    ),
    Payload(
        "fluentbit-msgpack", "fluentbit_msgpack.bin", "application/msgpack", "msgpack", "application/msgpack"
    ),
    Payload("single-object", "single_object.json", "application/json", "object", "application/json"),
    Payload("raw-lines", "raw_lines.txt", "text/plain", "text", "application/x-ndjson"),
    Payload("sniffed-array", "vector_json_array.json", None, "json", "application/json"),
    Payload("sniffed-ndjson", "fluentbit_json_lines.ndjson", None, "ndjson", "application/x-ndjson"),
    Payload("sniffed-msgpack", "fluentbit_msgpack.bin", None, "msgpack", "application/msgpack"),
]


def compress(body: bytes, encoding: str) -> bytes:
    """Independent encoders, as the shippers' own libraries would produce."""
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    if encoding == "zstd":
        return zstandard.ZstdCompressor().compress(body)
    if encoding == "snappy":
        return bytes(cramjam.snappy.compress_raw(body))
    return body


def exact_json(text: bytes | str) -> Any:
    """JSON read with the standard library, every number exact (floats as Decimal): an
    independent reader to compare answers with."""
    return json.loads(text, parse_float=Decimal)


def decode_response(body: bytes, media_type: str) -> list[Any]:
    """An answer body's records, read independently of the product (numbers exact)."""
    media = media_type.split(";", maxsplit=1)[0]
    if media == "application/json":
        data = exact_json(body)
        return data if isinstance(data, list) else [data]
    if media == "application/x-ndjson":
        return [exact_json(line) for line in body.splitlines() if line.strip()]
    if media == "application/msgpack":
        return list(msgpack.Unpacker(io.BytesIO(body), raw=False, strict_map_key=False))
    raise AssertionError(f"unexpected media type {media_type}")


def input_records(payload: Payload) -> list[Any]:
    """What the payload holds, decoded independently of the product's decoder."""
    body = payload.body
    if payload.framing in ("json", "object"):
        data = exact_json(body)
        return data if isinstance(data, list) else [data]
    if payload.framing == "ndjson":
        return [exact_json(line) for line in body.splitlines() if line.strip()]
    if payload.framing == "json_stream":
        decoder, text, pos, out = json.JSONDecoder(parse_float=Decimal), body.decode(), 0, []
        while pos < len(text):
            value, pos = decoder.raw_decode(text, pos)
            out.append(value)
        return out
    if payload.framing == "msgpack":
        return list(msgpack.Unpacker(io.BytesIO(body), raw=False, strict_map_key=False))
    if payload.framing == "text":
        records: list[Any] = []
        for line in body.decode().splitlines():
            if line.startswith("    ") and records:
                records[-1]["message"] += "\n" + line
            elif line:
                records.append({"message": line})
        return records
    raise AssertionError(payload.framing)


def canonical(value: Any) -> Any:
    """A decoded value with every float as the Decimal of its shortest form, so that records read
    by different readers compare by value."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def assert_round_trip(sent: list[Any], got: list[Any], key: str = "enrichment") -> None:
    """Same count and order, every input field unchanged, an enrichment on every line record."""
    assert len(got) == len(sent)
    for before, after in zip(canonical(sent), canonical(got), strict=True):
        if isinstance(before, list) and len(before) == 2 and isinstance(before[1], dict):  # msgpack event
            assert after[0] == before[0]
            before, after = before[1], after[1]
        if not isinstance(before, dict):
            assert after == before
            continue
        for field, value in before.items():
            assert after[field] == value, field
        message = next((before[f] for f in ("message", "log", "msg") if isinstance(before.get(f), str)), None)
        if message is None:
            assert after == before
        else:
            assert after[key]["classification"]
