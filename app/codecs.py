"""Request and response bodies as real shippers send them (DESIGN.md §3).

    decode_body(body, content_type, content_encoding, limits) -> Batch
    encode_batch(batch, accept, accept_encoding) -> (bytes, content_type, content_encoding)

Framings: JSON array (Vector ``codec: json``, Fluent Bit ``format json``), NDJSON with or
without a trailing newline (Vector newline framing, Fluent Bit ``json_lines``), JSON objects
back to back (Fluent Bit ``json_stream``), one JSON object, MessagePack (Fluent Bit
``format msgpack``: a stream of ``[time, record]`` or ``[[time, meta], record]`` events) and
``text/plain`` raw lines. Encodings: gzip, deflate (zlib, or raw deflate), zstd, snappy
(raw block, or the framing format), identity.

Every decompressor stops at ``limits.max_decompressed_bytes``: a small bomb costs no more memory
than the limit. Errors are ``CodecError`` values with a kind the HTTP layer maps to a status.
"""

import io
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import cramjam
import msgpack
import orjson
import zstandard

from app.errors import LogenrichError
from app.reader import group_lines

Framing = Literal["json", "ndjson", "json_stream", "object", "msgpack", "text"]
ErrorKind = Literal[
    "undecodable", "too_large", "too_many_records", "unsupported_type", "unsupported_encoding"
]

ENCODINGS: Final = ("gzip", "deflate", "zstd", "snappy")


@dataclass(frozen=True, slots=True)
class Limits:
    max_body_bytes: int = 16 * 1024 * 1024
    max_decompressed_bytes: int = 64 * 1024 * 1024
    max_records: int = 100_000


class CodecError(LogenrichError):
    def __init__(self, kind: ErrorKind, detail: str, where: dict[str, Any] | None = None) -> None:
        self.kind = kind
        self.detail = detail
        self.where = where or {}
        super().__init__(detail)


@dataclass(slots=True)
class Batch:
    """Decoded records and what is needed to write them back in the same shape."""

    records: list[Any]
    framing: Framing
    encoding: str = "identity"
    trailing_newline: bool = False
    # msgpack: each decoded object, and where its record is ("event": obj[1], "map": obj itself)
    envelopes: list[tuple[str, Any]] = field(default_factory=list)


# --- decompression --------------------------------------------------------------------------------


def _too_large(limit: int, encoding: str) -> CodecError:
    return CodecError(
        "too_large", f"the {encoding} body decompresses to more than {limit} bytes", {"encoding": encoding}
    )


def _zlib(data: bytes, wbits: int, limit: int, encoding: str) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise CodecError(
            "undecodable", f"the body is not valid {encoding}: {exc}", {"encoding": encoding}
        ) from exc
    if len(out) > limit:
        raise _too_large(limit, encoding)
    if not inflater.eof:
        raise CodecError("undecodable", f"the {encoding} stream is truncated", {"encoding": encoding})
    rest = inflater.unused_data
    if rest and encoding == "gzip" and rest[:2] == b"\x1f\x8b":  # concatenated gzip members
        return out + _zlib(rest, wbits, limit - len(out), encoding)
    return out


def _zstd(data: bytes, limit: int) -> bytes:
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
        out = reader.read(limit + 1)
    except zstandard.ZstdError as exc:
        raise CodecError("undecodable", f"the body is not valid zstd: {exc}", {"encoding": "zstd"}) from exc
    if len(out) > limit:
        raise _too_large(limit, "zstd")
    return out


_SNAPPY_STREAM_ID: Final = b"\xff\x06\x00\x00sNaPpY"


def _varint(data: bytes) -> int:
    value = shift = 0
    for i, byte in enumerate(data[:10]):
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value
        shift += 7
        if i == 9:
            break
    raise CodecError("undecodable", "the snappy block has no valid length header", {"encoding": "snappy"})


def _snappy_raw(data: bytes, limit: int) -> bytes:
    if _varint(data) > limit:  # the block states its uncompressed length up front
        raise _too_large(limit, "snappy")
    try:
        return bytes(cramjam.snappy.decompress_raw(data))
    except cramjam.DecompressionError as exc:
        raise CodecError(
            "undecodable", f"the body is not valid snappy: {exc}", {"encoding": "snappy"}
        ) from exc


def _snappy_framed(data: bytes, limit: int) -> bytes:
    """The snappy framing format: chunks of at most 64 KiB, each decoded under the cap."""
    out = bytearray()
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise CodecError(
                "undecodable", "truncated snappy frame header", {"encoding": "snappy", "offset": pos}
            )
        kind = data[pos]
        size = int.from_bytes(data[pos + 1 : pos + 4], "little")
        chunk = data[pos + 4 : pos + 4 + size]
        if len(chunk) != size:
            raise CodecError("undecodable", "truncated snappy frame", {"encoding": "snappy", "offset": pos})
        if kind == 0x00:  # compressed data (4-byte CRC, then a raw block)
            out += _snappy_raw(chunk[4:], limit - len(out))
        elif kind == 0x01:  # uncompressed data
            out += chunk[4:]
        elif kind <= 0x7F and kind != 0xFF:
            raise CodecError(
                "undecodable", f"unknown snappy chunk type {kind:#x}", {"encoding": "snappy", "offset": pos}
            )
        if len(out) > limit:
            raise _too_large(limit, "snappy")
        pos += 4 + size
    return bytes(out)


def decompress(data: bytes, encoding: str | None, limit: int) -> tuple[bytes, str]:
    """The decoded body and the normalised encoding name; CodecError when unknown or bad."""
    name = (encoding or "identity").strip().lower()
    if name in ("", "identity"):
        if len(data) > limit:
            raise _too_large(limit, "identity")
        return data, "identity"
    if name in ("gzip", "x-gzip"):
        return _zlib(data, 16 + zlib.MAX_WBITS, limit, "gzip"), "gzip"
    if name in ("deflate", "zlib"):
        # RFC 9110 "deflate" is zlib-wrapped; some clients send raw deflate
        wbits = (
            zlib.MAX_WBITS
            if data[:1] and (data[0] & 0x0F) == 8 and int.from_bytes(data[:2]) % 31 == 0
            else -15
        )
        return _zlib(data, wbits, limit, "deflate"), "deflate"
    if name in ("zstd", "zstandard"):
        return _zstd(data, limit), "zstd"
    if name in ("snappy", "x-snappy-framed"):
        if data.startswith(_SNAPPY_STREAM_ID):
            return _snappy_framed(data, limit), "snappy"
        return _snappy_raw(data, limit), "snappy"
    raise CodecError(
        "unsupported_encoding",
        f"unknown Content-Encoding {encoding!r}; use gzip, deflate, zstd, snappy or identity",
        {"content_encoding": encoding},
    )


def compress(data: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return bytes(cramjam.gzip.compress(data, level=1))
    if encoding == "deflate":
        return zlib.compress(data, 1)
    if encoding == "zstd":
        return zstandard.ZstdCompressor(level=1).compress(data)
    if encoding == "snappy":
        return bytes(cramjam.snappy.compress_raw(data))
    return data


# --- framing -------------------------------------------------------------------------------------

_MEDIA_JSON: Final = {"application/json", "text/json"}
_MEDIA_NDJSON: Final = {
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonlines",
    "application/x-jsonlines",
    "application/json-lines",
    "application/jsonl",
    "application/stream+json",
    "application/json-seq",
}
_MEDIA_MSGPACK: Final = {"application/msgpack", "application/x-msgpack", "application/vnd.msgpack"}
_MEDIA_TEXT: Final = {"text/plain"}
_MEDIA_SNIFF: Final = {"", "application/octet-stream", "*/*"}
_WS: Final = b" \t\r\n"


def media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def _position(body: bytes, offset: int) -> dict[str, int]:
    line = body.count(b"\n", 0, offset) + 1
    column = offset - (body.rfind(b"\n", 0, offset) + 1) + 1
    return {"offset": offset, "line": line, "column": column}


_ORJSON_POS: Final = re.compile(r"char (\d+)")


def _json_error(body: bytes, exc: Exception, base: int = 0, framing: str = "JSON") -> CodecError:
    text = str(exc)
    match = _ORJSON_POS.search(text)
    offset = base + (int(match.group(1)) if match else 0)
    where = _position(body, offset)
    reason = text.split(": line ", 1)[0]
    return CodecError(
        "undecodable",
        f"the body is not valid {framing} at line {where['line']}, column {where['column']}: {reason}",
        where,
    )


_DIGITS_AS_ZERO: Final = bytes.maketrans(b"123456789", b"000000000")
_TWENTY_DIGITS: Final = b"0" * 20
_MINUS_NINETEEN_DIGITS: Final = b"-" + b"0" * 19


def may_lose_integers(data: bytes) -> bool:
    """Whether data holds a digit run orjson might not read exactly: 20 digits or more (past
    2**64 - 1), or a minus and 19 (past -2**63). orjson reads those integers as floats; anything
    shorter, such as a nanosecond timestamp, it keeps exact. Strings count too (a cheap test)."""
    shape = data.translate(_DIGITS_AS_ZERO)
    return _TWENTY_DIGITS in shape or _MINUS_NINETEEN_DIGITS in shape


def _loads(data: bytes) -> Any:
    """orjson, and the standard library where orjson cannot keep a value exactly: integers beyond
    64 bits (orjson reads them as floats) or that it refuses. One odd number must neither fail a
    batch nor change. When both refuse, orjson's error (which says where) is raised."""
    if may_lose_integers(data):
        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            pass
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            raise error from None


def _decode_lines(body: bytes) -> list[Any]:
    records: list[Any] = []
    start = 0
    loads = _loads
    for line in body.split(b"\n"):
        if line.strip(_WS):
            try:
                records.append(loads(line))
            except orjson.JSONDecodeError as exc:
                raise _json_error(body, exc, start, "NDJSON") from exc
        start += len(line) + 1
    return records


def _decode_stream(body: bytes) -> list[Any]:
    """JSON values back to back, separated by optional white space."""
    text = body.decode("utf-8", "surrogatepass")
    decoder = json.JSONDecoder()
    records: list[Any] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in " \t\r\n":
            pos += 1
        if pos >= end:
            return records
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            offset = len(text[: exc.pos].encode("utf-8", "surrogatepass"))
            raise CodecError(
                "undecodable", f"the body is not valid JSON: {exc.msg}", _position(body, offset)
            ) from exc
        records.append(value)


def _decode_json_family(body: bytes) -> tuple[list[Any], Framing, bool]:
    stripped = body.strip(_WS)
    trailing = body.endswith(b"\n")
    if not stripped:
        return [], "ndjson", trailing
    first = stripped[:1]
    if first == b"[":
        try:
            data = _loads(stripped)
        except orjson.JSONDecodeError as exc:
            raise _json_error(body, exc, len(body) - len(body.lstrip(_WS))) from exc
        return (data if isinstance(data, list) else [data]), "json", trailing
    if first != b"{":
        raise CodecError(
            "undecodable",
            "the body is not JSON: it starts with neither '[' nor '{'",
            _position(body, len(body) - len(body.lstrip(_WS))),
        )
    if b"\n" not in stripped:
        try:
            return [_loads(stripped)], "object", trailing
        except orjson.JSONDecodeError:
            return _decode_stream(body), "json_stream", trailing
    try:
        return _decode_lines(body), "ndjson", trailing
    except CodecError:
        try:
            return [_loads(stripped)], "object", trailing  # one pretty-printed object
        except orjson.JSONDecodeError:
            return _decode_stream(body), "json_stream", trailing


def _decode_msgpack(body: bytes, limit: int) -> tuple[list[Any], list[tuple[str, Any]]]:
    unpacker = msgpack.Unpacker(
        raw=False,
        strict_map_key=False,
        max_buffer_size=max(len(body), 1),
        unicode_errors="surrogateescape",
    )
    unpacker.feed(body)
    records: list[Any] = []
    envelopes: list[tuple[str, Any]] = []
    try:
        for obj in unpacker:
            if len(records) >= limit:
                raise CodecError(
                    "too_many_records", f"the batch holds more than {limit} records", {"limit": limit}
                )
            if isinstance(obj, list) and len(obj) == 2 and isinstance(obj[1], dict):
                envelopes.append(("event", obj))
                records.append(obj[1])
            else:
                envelopes.append(("map", obj))
                records.append(obj)
    except (msgpack.UnpackException, ValueError) as exc:
        raise CodecError(
            "undecodable", f"the body is not valid MessagePack: {exc}", {"offset": unpacker.tell()}
        ) from exc
    return records, envelopes


def _decode_text(body: bytes) -> list[Any]:
    text = body.decode("utf-8", "replace")
    return [{"message": record} for record in group_lines(iter(text.split("\n")))]


def decode_body(body: bytes, content_type: str | None, content_encoding: str | None, limits: Limits) -> Batch:
    """Decode a request body into records; CodecError says why not."""
    data, encoding = decompress(body, content_encoding, limits.max_decompressed_bytes)
    media = media_type(content_type)
    envelopes: list[tuple[str, Any]] = []
    trailing = data.endswith(b"\n")
    framing: Framing
    if media in _MEDIA_MSGPACK or (media in _MEDIA_SNIFF and data[:1] and data[:1] not in b"[{ \t\r\n"):
        if media in _MEDIA_SNIFF and _looks_textual(data):
            records, framing = _decode_text(data), "text"
        else:
            records, envelopes = _decode_msgpack(data, limits.max_records)
            framing = "msgpack"
    elif media in _MEDIA_TEXT:
        records, framing = _decode_text(data), "text"
    elif media in _MEDIA_NDJSON:
        records, framing, trailing = *_decode_ndjson_or_stream(data), trailing
    elif media in _MEDIA_JSON or media in _MEDIA_SNIFF or media.endswith("+json"):
        records, framing, trailing = _decode_json_family(data)
    else:
        raise CodecError(
            "unsupported_type",
            f"unknown Content-Type {content_type!r}; send application/json, application/x-ndjson, "
            "application/msgpack or text/plain",
            {"content_type": content_type},
        )
    if len(records) > limits.max_records:
        raise CodecError(
            "too_many_records",
            f"the batch holds {len(records)} records, more than the limit of {limits.max_records}",
            {"records": len(records), "limit": limits.max_records},
        )
    return Batch(records, framing, encoding, trailing, envelopes)


def _decode_ndjson_or_stream(data: bytes) -> tuple[list[Any], Framing]:
    try:
        return _decode_lines(data), "ndjson"
    except CodecError:
        return _decode_stream(data), "json_stream"


def _looks_textual(data: bytes) -> bool:
    """A body with no Content-Type that is neither JSON nor MessagePack: raw log lines."""
    head = data[:512]
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(b >= 0x20 or b in (0x09, 0x0A, 0x0D, 0x1B) for b in head)


# --- encoding ------------------------------------------------------------------------------------

_OUT_TYPES: Final[dict[str, str]] = {
    "json": "application/json",
    "object": "application/json",
    "ndjson": "application/x-ndjson",
    "json_stream": "application/x-ndjson",
    "text": "application/x-ndjson",
    "msgpack": "application/msgpack",
}


def _weighted(header: str) -> list[tuple[str, float]]:
    """The items of an Accept-style header with their q-values, most wanted first (stable)."""
    items: list[tuple[float, int, str]] = []
    for n, part in enumerate(header.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        q = 1.0
        for p in pieces[1:]:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        items.append((-q, n, pieces[0].lower()))
    return [(name, -negative_q) for negative_q, _, name in sorted(items)]


def _accepted_framing(accept: str | None, framing: Framing) -> Framing:
    """The framing to answer in: the request's, unless Accept names another we can write."""
    if not accept:
        return framing
    for media, q in _weighted(accept):
        if q == 0:
            continue
        if media in ("*/*", "application/*", ""):
            return framing
        if media == _OUT_TYPES[framing]:
            return framing
        if media in _MEDIA_JSON:
            return "object" if framing == "object" else "json"
        if media in _MEDIA_NDJSON:
            return "ndjson"
        if media in _MEDIA_MSGPACK:
            return "msgpack"
    return framing


def accepted_encoding(accept_encoding: str | None) -> str:
    """The response encoding: the client's most preferred of ours (q-values honoured)."""
    if not accept_encoding:
        return "identity"
    for name, q in _weighted(accept_encoding):
        name = {"x-gzip": "gzip"}.get(name, name)
        if name in ("gzip", "deflate", "zstd") and q > 0:
            return name
    return "identity"


def _to_json_safe(record: Any) -> Any:
    """MessagePack values JSON cannot hold (bytes, extension types) in a readable form."""
    if isinstance(record, dict):
        return {str(k): _to_json_safe(v) for k, v in record.items()}
    if isinstance(record, msgpack.ExtType):  # a namedtuple: before the tuple case
        return {"ext_type": record.code, "data": record.data.hex()}
    if isinstance(record, msgpack.Timestamp):
        return record.to_unix()
    if isinstance(record, list | tuple):
        return [_to_json_safe(v) for v in record]
    if isinstance(record, bytes):
        return record.decode("utf-8", "replace")
    return record


def _event_time(value: Any) -> float | None:
    """Fluent Bit's event time: an EventTime extension (type 0), an int or a float."""
    if isinstance(value, list) and value:
        value = value[0]  # [[time, metadata], record]
    if isinstance(value, msgpack.ExtType) and value.code == 0 and len(value.data) == 8:
        return int.from_bytes(value.data[:4]) + int.from_bytes(value.data[4:]) / 1e9
    if isinstance(value, msgpack.Timestamp):
        return float(value.to_unix())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _msgpack_records_as_json(batch: Batch) -> list[Any]:
    out: list[Any] = []
    for (kind, obj), record in zip(batch.envelopes, batch.records, strict=True):
        if kind == "event" and isinstance(record, dict) and "date" not in record:
            when = _event_time(obj[0])
            if when is not None:
                record = {"date": when, **record}
        out.append(_to_json_safe(record))
    return out


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # a value orjson cannot hold, e.g. an integer beyond 64 bits
        return json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass")


def encode_records(batch: Batch, framing: Framing) -> bytes:
    if framing == "msgpack":
        if batch.framing == "msgpack":
            packer = msgpack.Packer(unicode_errors="surrogateescape")
            return b"".join(packer.pack(obj) for _, obj in batch.envelopes)
        return b"".join(msgpack.packb(record, unicode_errors="surrogateescape") for record in batch.records)
    records = _msgpack_records_as_json(batch) if batch.framing == "msgpack" else batch.records
    if framing == "object" and len(records) == 1:
        return _dumps(records[0])
    if framing in ("json", "object"):
        try:
            return orjson.dumps(records)
        except TypeError:
            return b"[" + b",".join(_dumps(r) for r in records) + b"]"
    body = b"\n".join(_dumps(r) for r in records)
    if records and (batch.trailing_newline or batch.framing != "ndjson"):
        body += b"\n"
    return body


def encode_batch(batch: Batch, accept: str | None, accept_encoding: str | None) -> tuple[bytes, str, str]:
    """The response body, its media type and its Content-Encoding ("identity" for none)."""
    framing = _accepted_framing(accept, batch.framing)
    body = encode_records(batch, framing)
    encoding = accepted_encoding(accept_encoding)
    return compress(body, encoding), _OUT_TYPES[framing], encoding
