"""Request and response bodies as real shippers send them (docs/design.md, "Wire contract").

    decompress(body, content_encoding, limit) -> (data, encoding)
    request_kind(content_type) -> Kind
    decode_records(data, kind, limits) -> Decoded        (the Python engine's decoder)
    encode_answer(decoded, framing) -> bytes             (the Python engine's answer writer)
    compress(data, encoding), accepted_framing(accept, framing), accepted_encoding(header)

Framings: JSON array (Vector ``codec: json``, Fluent Bit ``format json``), NDJSON with or
without a trailing newline (Vector newline framing, Fluent Bit ``json_lines``), JSON objects
back to back (Fluent Bit ``json_stream``), one JSON object, MessagePack (Fluent Bit
``format msgpack``: a stream of ``[time, record]`` or ``[[time, meta], record]`` events) and
``text/plain`` raw lines. Encodings: gzip, deflate (zlib, or raw deflate), zstd, snappy (raw
block, or the framing format), identity.

Every decompressor stops at ``limits.max_decompressed_bytes`` and refuses a stream its format
shows to be cut short. Every decoder counts records as it reads and stops past
``limits.max_records``. Values are kept exactly: numbers JSON allows but a double or a 64-bit
integer cannot hold (``1e400``, 30-digit integers, 25-digit mantissas) and lone surrogate escapes
are written back as they came. What is not JSON (``NaN``, invalid UTF-8) is refused with the line
and column. One leading byte-order mark is skipped on every text path.
"""

import base64
import io
import json
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

import cramjam
import msgpack
import orjson
import zstandard

from app import structure
from app.batch import AnswerKind, Framing, Kind, Limits
from app.errors import CodecError
from app.reader import group_lines

ENCODINGS: Final = ("gzip", "deflate", "zstd", "snappy")
BOM: Final = b"\xef\xbb\xbf"

# --- decompression --------------------------------------------------------------------------------


def _too_large(limit: int, encoding: str) -> CodecError:
    return CodecError(
        "too_large", f"the {encoding} body decompresses to more than {limit} bytes", {"encoding": encoding}
    )


def _truncated(encoding: str) -> CodecError:
    return CodecError(
        "undecodable", f"the {encoding} stream is cut short (truncated)", {"encoding": encoding}
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
        raise _truncated(encoding)
    rest = inflater.unused_data
    if rest and encoding == "gzip" and rest[:2] == b"\x1f\x8b":  # concatenated gzip members
        return out + _zlib(rest, wbits, limit - len(out), encoding)
    return out


def _zstd(data: bytes, limit: int) -> bytes:
    """Every frame decoded; the size is checked with a capped reader before any frame is
    decoded whole, and a frame the body cuts short is refused."""
    dctx = zstandard.ZstdDecompressor()
    try:
        reader = dctx.stream_reader(io.BytesIO(data), read_across_frames=True)
        if len(reader.read(limit + 1)) > limit:
            raise _too_large(limit, "zstd")
        parts: list[bytes] = []
        rest = data
        while rest:
            frame = dctx.decompressobj()
            parts.append(frame.decompress(rest))
            if not frame.eof:
                raise _truncated("zstd")
            rest = frame.unused_data
    except zstandard.ZstdError as exc:
        raise CodecError("undecodable", f"the body is not valid zstd: {exc}", {"encoding": "zstd"}) from exc
    return b"".join(parts)


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
            "undecodable", f"the body is not valid snappy (or cut short): {exc}", {"encoding": "snappy"}
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


# --- media types ---------------------------------------------------------------------------------

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
OUT_TYPES: Final[dict[Framing, str]] = {
    "json": "application/json",
    "object": "application/json",
    "ndjson": "application/x-ndjson",
    "json_stream": "application/x-ndjson",
    "text": "application/x-ndjson",
    "msgpack": "application/msgpack",
}


def media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def request_kind(content_type: str | None) -> Kind:
    """How to read a body with this Content-Type; CodecError (415) when it is none we know."""
    media = media_type(content_type)
    if media in _MEDIA_MSGPACK:
        return "msgpack"
    if media in _MEDIA_TEXT:
        return "text"
    if media in _MEDIA_NDJSON:
        return "ndjson"
    if media in _MEDIA_JSON or media.endswith("+json"):
        return "json"
    if media in _MEDIA_SNIFF:
        return "sniff"
    raise CodecError(
        "unsupported_type",
        f"unknown Content-Type {content_type!r}; send application/json, application/x-ndjson, "
        "application/msgpack or text/plain",
        {"content_type": content_type},
    )


def _weighted(header: str) -> list[tuple[str, float]]:
    """The items of an Accept-style header with their q-values, most wanted first (stable). A
    q-value that is not a number from 0 to 1 makes the item unwanted, as q=0 does."""
    items: list[tuple[float, int, str]] = []
    for n, part in enumerate(header.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        q = 1.0
        for p in pieces[1:]:
            if p[:2].lower() == "q=":
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
                if not (math.isfinite(q) and 0.0 <= q <= 1.0):
                    q = 0.0
        items.append((-q, n, pieces[0].lower()))
    return [(name, -negative_q) for negative_q, _, name in sorted(items)]


def answer_preference(accept: str | None) -> AnswerKind | None:
    """What Accept asks the answer to be written in; None: the request's own framing."""
    if not accept:
        return None
    for media, q in _weighted(accept):
        if q == 0:
            continue
        if media in ("*/*", "application/*", ""):
            return None
        if media in _MEDIA_JSON:
            return "json"
        if media in _MEDIA_NDJSON:
            return "ndjson"
        if media in _MEDIA_MSGPACK:
            return "msgpack"
    return None


def answer_framing(preference: AnswerKind | None, framing: Framing) -> Framing:
    """The framing of the answer to a request read in `framing`: its own unless Accept asked for
    another kind (a single object stays an object, lines stay in the request's line framing)."""
    if preference is None or OUT_TYPES[framing] == OUT_TYPES[preference]:
        return framing
    return preference


def accepted_encoding(accept_encoding: str | None) -> str:
    """The response encoding: the client's most preferred of ours (q-values honoured)."""
    if not accept_encoding:
        return "identity"
    for name, q in _weighted(accept_encoding):
        name = {"x-gzip": "gzip"}.get(name, name)
        if name in ("gzip", "deflate", "zstd") and q > 0:
            return name
    return "identity"


# --- exact JSON values ---------------------------------------------------------------------------

_DIGITS_AS_ZERO: Final = bytes.maketrans(b"123456789", b"000000000")
_NUMBER_SHAPES: Final = (
    b"0" * 20,  # an integer past 2**64 - 1, or a mantissa with 20 digits in a row
    b"-" + b"0" * 19,  # an integer past -2**63
    b"00000000.",  # a mantissa with 8 or more digits before the point …
    b".000000000",  # … or 9 or more after it: 16 significant digits, past what a double keeps
    b"e000",  # an exponent of three digits: past a double's range
    b"e-000",
    b"e+000",
    b"E000",
    b"E-000",
    b"E+000",
)


def may_change_numbers(data: bytes) -> bool:
    """Whether data may hold a number orjson would not keep exactly: a cheap test of the bytes'
    shape (strings count too), so that only such bodies take the exact reader."""
    shape = data.translate(_DIGITS_AS_ZERO)
    return any(found in shape for found in _NUMBER_SHAPES)


class Exact:
    """A number kept as written: JSON allows it, a double or a 64-bit integer cannot hold it."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Exact) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return self.text


def _fragment(value: Any) -> Any:
    """orjson's `default`: an exact number is written as it came."""
    if isinstance(value, Exact):
        return orjson.Fragment(value.text.encode())
    raise TypeError(f"{type(value).__name__} is not JSON")


def _exact_int(text: str) -> Any:
    digits = len(text) - (text[:1] == "-")
    if digits < 19:
        return int(text)
    if digits <= 20:
        value = int(text)
        if -(2**63) <= value < 2**64:  # what a 64-bit store (and orjson) holds
            return value
    return Exact(text)


def _exact_float(text: str) -> Any:
    """A double when it holds the number exactly as written (15 digits or fewer without an
    exponent always do); else the text, written back as sent."""
    value = float(text)
    if not math.isfinite(value):
        return Exact(text)
    if len(text) < 16 and "e" not in text and "E" not in text:
        return value
    if repr(value) == text or Decimal(text) == Decimal(repr(value)):
        return value
    return Exact(text)


class _NotJson(ValueError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"{name} is not a JSON value")


def _not_json(name: str) -> Any:
    raise _NotJson(name)


_EXACT: Final = json.JSONDecoder(parse_int=_exact_int, parse_float=_exact_float, parse_constant=_not_json)


def position(data: bytes, offset: int) -> dict[str, int]:
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return {"offset": offset, "line": line, "column": column}


def _undecodable(data: bytes, offset: int, reason: str, framing: str = "JSON") -> CodecError:
    where = position(data, offset)
    return CodecError(
        "undecodable",
        f"the body is not valid {framing} at line {where['line']}, column {where['column']}: {reason}",
        where,
    )


def _text_of(data: bytes, base: int, body: bytes, framing: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _undecodable(body, base + exc.start, "not valid UTF-8", framing) from exc


def _byte_offset(text: str, pos: int) -> int:
    return len(text[:pos].encode("utf-8", "surrogatepass"))


def _too_deep(body: bytes, at: int, framing: str, cause: BaseException | None = None) -> CodecError:
    error = _undecodable(body, at, structure.REASON, framing)
    error.__cause__ = cause
    return error


def _checked(value: Any, data: bytes, start: int, body: bytes, framing: str, level: int) -> Any:
    """`value`, read from the JSON text at `start` in `body`, unless it nests too deep."""
    if structure.may_be_too_deep(data) and structure.too_deep(value, level):
        raise _too_deep(body, structure.json_deep_at(body, start, level), framing)
    return value


def _deeper_first(error: CodecError, body: bytes, start: int, framing: str, level: int) -> CodecError:
    """A reader's error, or the depth error when a too-deep container comes before it."""
    at = structure.json_deep_at(body, start, level)
    if 0 <= at < error.where.get("offset", 0):
        return _too_deep(body, at, framing, error)
    return error


def _raw_decode(text: str, pos: int, base: int, body: bytes, framing: str, level: int = 1) -> tuple[Any, int]:
    start = base + _byte_offset(text, pos)
    try:
        value, end = _EXACT.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        error = _undecodable(body, base + _byte_offset(text, exc.pos), exc.msg, framing)
        raise _deeper_first(error, body, start, framing, level) from exc
    except _NotJson as exc:  # NaN, Infinity: the first one from here is the one refused
        at = max(text.find(exc.name, pos), pos)
        error = _undecodable(body, base + _byte_offset(text, at), str(exc), framing)
        raise _deeper_first(error, body, start, framing, level) from exc
    except RecursionError as exc:
        raise _too_deep(body, structure.json_deep_at(body, start, level), framing, exc) from exc
    return _checked(value, body[start : base + _byte_offset(text, end)], start, body, framing, level), end


def _exact_loads(data: bytes, base: int, body: bytes, framing: str) -> Any:
    """One JSON value, read with every number and string kept exactly."""
    text = _text_of(data, base, body, framing)
    start = len(text) - len(text.lstrip(" \t\r\n"))
    value, end = _raw_decode(text, start, base, body, framing)
    if text[end:].strip(" \t\r\n"):
        raise _undecodable(body, base + _byte_offset(text, end), "extra data after the value", framing)
    return value


def loads(data: bytes, base: int = 0, body: bytes | None = None, framing: str = "JSON") -> Any:
    """One JSON value, a top-level value of `body` at `base`: orjson, unless its bytes may hold a
    value orjson cannot keep exactly or it refuses them; then the standard library's reader with
    exact numbers."""
    whole = body if body is not None else data
    if not may_change_numbers(data):
        try:
            return _checked(orjson.loads(data), data, base, whole, framing, 1)
        except orjson.JSONDecodeError as exc:
            if "depth limit" in str(exc):
                raise _too_deep(whole, structure.json_deep_at(whole, base), framing, exc) from exc
    return _exact_loads(data, base, whole, framing)


def _dumps_exact(value: Any) -> bytes:
    """JSON for a value orjson cannot write whole: strings with lone surrogates are written with
    escapes, everything else as orjson writes it."""
    if isinstance(value, dict):
        items = (_dumps_exact(str(k)) + b":" + _dumps_exact(v) for k, v in value.items())
        return b"{" + b",".join(items) + b"}"
    if isinstance(value, list | tuple):
        return b"[" + b",".join(map(_dumps_exact, value)) + b"]"
    if isinstance(value, str):
        try:
            return orjson.dumps(value)
        except orjson.JSONEncodeError:
            return json.dumps(value).encode()  # ensure_ascii: \\udXXX escapes, valid JSON
    return orjson.dumps(value, default=_fragment)


def dumps(value: Any) -> bytes:
    """JSON bytes for a decoded record, values kept exactly."""
    try:
        return orjson.dumps(value, default=_fragment)
    except orjson.JSONEncodeError:
        return _dumps_exact(value)


# --- decoding (the Python engine) ----------------------------------------------------------------


@dataclass(slots=True)
class Decoded:
    """Decoded records and what is needed to write them back in the same shape."""

    records: list[Any]
    framing: Framing
    trailing_newline: bool = False
    # MessagePack: each decoded top-level object (an event keeps its [time, record] shape)
    envelopes: list[Any] = field(default_factory=list)
    # each record's bytes as received (filled for every framing but a JSON array)
    raw: list[bytes] = field(default_factory=list)
    from_bytes: bool = False  # strings came from MessagePack (see app.enrich.readable)


_WS: Final = b" \t\r\n"


def _too_many(limits: Limits) -> CodecError:
    limit = limits.max_records
    return CodecError(
        "too_many_records", f"the batch holds more than the limit of {limit} records", {"limit": limit}
    )


def _decode_array(data: bytes, start: int, limits: Limits) -> list[Any]:
    """A JSON array. When it may hold more elements than the limit allows (by its commas), its
    elements are read one by one and counted, so a bomb of empty objects stops at the limit."""
    if data.count(b",") < limits.max_records:
        value = loads(data[start:], start, data)
        return value if isinstance(value, list) else [value]
    text = _text_of(data, 0, data, "JSON")
    offset = _byte_offset(text, start)
    pos = start + 1
    records: list[Any] = []
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if text[pos : pos + 1] == "]" and not records:
            pos += 1
            break
        value, pos = _raw_decode(text, pos, offset - start, data, "JSON", level=2)
        records.append(value)
        if len(records) > limits.max_records:
            raise _too_many(limits)
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if text[pos : pos + 1] == ",":
            pos += 1
            continue
        if text[pos : pos + 1] == "]":
            pos += 1
            break
        raise _undecodable(data, _byte_offset(text, pos), "expecting ',' or ']'")
    if text[pos:].strip(" \t\r\n"):
        raise _undecodable(data, _byte_offset(text, pos), "extra data after the array")
    return records


def _decode_lines(data: bytes, limits: Limits) -> tuple[list[Any], list[bytes]]:
    records: list[Any] = []
    raw: list[bytes] = []
    start = 0
    for line in data.split(b"\n"):
        stripped = line.strip(_WS)
        if stripped:
            if len(records) >= limits.max_records:
                raise _too_many(limits)
            records.append(loads(line, start, data, "NDJSON"))
            raw.append(stripped)
        start += len(line) + 1
    return records, raw


def _decode_stream(data: bytes, limits: Limits) -> tuple[list[Any], list[bytes]]:
    """JSON values back to back, separated by optional white space."""
    text = _text_of(data, 0, data, "JSON")
    records: list[Any] = []
    raw: list[bytes] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in " \t\r\n":
            pos += 1
        if pos >= end:
            return records, raw
        if len(records) >= limits.max_records:
            raise _too_many(limits)
        value, after = _raw_decode(text, pos, 0, data, "JSON")
        records.append(value)
        raw.append(text[pos:after].encode("utf-8", "surrogatepass"))
        pos = after


def _decode_json_family(data: bytes, limits: Limits) -> Decoded:
    trailing = data.endswith(b"\n")
    stripped = data.strip(_WS)
    if not stripped:
        return Decoded([], "ndjson", trailing)
    first = stripped[:1]
    start = len(data) - len(data.lstrip(_WS))
    if first == b"[":
        return Decoded(_decode_array(data, start, limits), "json", trailing)
    if first != b"{":
        raise _undecodable(data, start, "it starts with neither '[' nor '{'")
    if b"\n" not in stripped:
        try:
            return Decoded([loads(stripped, start, data)], "object", trailing, raw=[stripped])
        except CodecError as error:
            if error.kind != "undecodable":
                raise
            records, raw = _decode_stream(data, limits)
            return Decoded(records, "json_stream", trailing, raw=raw)
    return _decode_ndjson_family(data, limits, trailing)


def _decode_ndjson_family(data: bytes, limits: Limits, trailing: bool) -> Decoded:
    try:
        records, raw = _decode_lines(data, limits)
        return Decoded(records, "ndjson", trailing, raw=raw)
    except CodecError as lines_error:
        if lines_error.kind != "undecodable":
            raise
        stripped = data.strip(_WS)
        start = len(data) - len(data.lstrip(_WS))
        try:  # one pretty-printed object
            return Decoded([loads(stripped, start, data)], "object", trailing, raw=[stripped])
        except CodecError as refused:
            object_error = refused
        try:
            records, raw = _decode_stream(data, limits)
        except CodecError as stream_error:
            if stream_error.kind != "undecodable":
                raise
            # values that read whole but for their depth say so; else the line reader's error,
            # which says where the first bad line is
            for deeper in (object_error, stream_error):
                if deeper.detail.endswith(structure.REASON):
                    raise deeper from None
            raise lines_error from None
        return Decoded(records, "json_stream", trailing, raw=raw)


def is_event(obj: Any) -> bool:
    """A Fluent Bit event: [time, record] or [[time, metadata], record]."""
    return isinstance(obj, list) and len(obj) == 2 and isinstance(obj[1], dict)


def _msgpack_refused(data: bytes, start: int, limit: int) -> None:
    """Refuse the body for the first problem of the object at `start`, found where the native
    reader finds it (see app.structure)."""
    problem = structure.msgpack_problem(data, start, limit)
    if problem:
        at, reason = problem
        raise CodecError("undecodable", f"the body is not valid MessagePack: {reason}", {"offset": at})


def _decode_msgpack(data: bytes, limits: Limits, strict: bool) -> Decoded:
    """A stream of MessagePack objects; each an event (its record decided on) or any other value
    (a map is a record; anything else passes through). `strict`: every object must be a map or an
    event (a sniffed body), else it is not MessagePack."""
    limit = limits.max_records
    unpacker = msgpack.Unpacker(
        raw=False,
        strict_map_key=False,
        max_buffer_size=max(len(data), 1),
        unicode_errors="surrogateescape",
        max_array_len=limit,
        max_map_len=limit,
    )
    unpacker.feed(data)
    records: list[Any] = []
    envelopes: list[Any] = []
    raw: list[bytes] = []
    start = 0
    try:
        for obj in unpacker:
            if len(records) >= limit:
                raise _too_many(limits)
            end = unpacker.tell()
            if strict and not (isinstance(obj, dict) or is_event(obj)):
                raise CodecError("undecodable", "not MessagePack events", {"offset": start})
            if structure.too_deep(obj):
                _msgpack_refused(data, start, limit)
            envelopes.append(obj)
            records.append(obj[1] if is_event(obj) else obj)
            raw.append(data[start:end])
            start = end
    except (msgpack.UnpackException, ValueError, TypeError) as exc:  # TypeError: a list as a key
        _msgpack_refused(data, start, limit)
        raise CodecError(
            "undecodable", f"the body is not valid MessagePack: {exc}", {"offset": unpacker.tell()}
        ) from exc
    if start != len(data):
        _msgpack_refused(data, start, limit)
        raise CodecError(
            "undecodable",
            f"the body is not valid MessagePack: {len(data) - start} bytes left over after the last "
            "whole object (cut short?)",
            {"offset": start},
        )
    return Decoded(records, "msgpack", envelopes=envelopes, raw=raw, from_bytes=True)


def _lines(text: str) -> Iterator[str]:
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1


def _decode_text(data: bytes, limits: Limits) -> Decoded:
    text = data.decode("utf-8", "replace")
    records: list[Any] = []
    raw: list[bytes] = []
    for record in group_lines(_lines(text)):
        if len(records) >= limits.max_records:
            raise _too_many(limits)
        records.append({"message": record})
        raw.append(record.encode())
    return Decoded(records, "text", data.endswith(b"\n"), raw=raw)


def _looks_like_msgpack(data: bytes) -> bool:
    """A map (0x80-0x8f, 0xde, 0xdf) or an array (0x90-0x9f, 0xdc, 0xdd) first: what Fluent Bit
    sends, and no text starts with these bytes."""
    first = data[0] if data else 0
    return 0x80 <= first <= 0x9F or first in (0xDC, 0xDD, 0xDE, 0xDF)


def decode_records(data: bytes, kind: Kind, limits: Limits) -> Decoded:
    """Decode a decompressed request body into records; CodecError says why not."""
    if kind == "msgpack":
        return _decode_msgpack(data, limits, strict=False)
    if data.startswith(BOM):
        data = data[len(BOM) :]
    if kind == "text":
        return _decode_text(data, limits)
    if kind == "ndjson":
        return _decode_ndjson_family(data, limits, data.endswith(b"\n"))
    if kind == "json":
        return _decode_json_family(data, limits)
    # no Content-Type that says: JSON or MessagePack when the bytes are that, whole; else text
    head = data.lstrip(_WS)[:1]
    if head in (b"[", b"{"):
        try:
            return _decode_json_family(data, limits)
        except CodecError as error:
            if error.kind != "undecodable":
                raise
    elif _looks_like_msgpack(data):
        try:
            return _decode_msgpack(data, limits, strict=True)
        except CodecError as error:
            if error.kind != "undecodable":
                raise
    return _decode_text(data, limits)


# --- answers (the Python engine) -----------------------------------------------------------------


def _json_safe(value: Any) -> Any:
    """A MessagePack value as JSON holds it: a string with invalid UTF-8 gets U+FFFD, binary that
    is UTF-8 becomes a string (else base64), an extension becomes {"ext_type", "data" (hex)}, a
    timestamp its seconds, a key that is not a string its text."""
    if isinstance(value, str):
        if value.isascii():
            return value
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if isinstance(value, dict):
        return {_key(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, msgpack.ExtType):  # a namedtuple: before the tuple case
        return {"ext_type": value.code, "data": value.data.hex()}
    if isinstance(value, msgpack.Timestamp):
        return value.to_unix()
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(value).decode()
    return value


def _key(key: Any) -> str:
    if isinstance(key, str):
        return str(_json_safe(key))
    if isinstance(key, bytes):
        return str(_json_safe(key))
    if key is None or isinstance(key, bool):
        return "null" if key is None else ("true" if key else "false")
    return str(_json_safe(key)) if not isinstance(key, int | float) else orjson.dumps(key).decode()


def event_time_ns(envelope: Any) -> int | None:
    """Fluent Bit's event time in nanoseconds: an EventTime extension (type 0), a timestamp, an
    integer or a float of seconds; None when the object is not an event or has no usable time."""
    if not is_event(envelope):
        return None
    value = envelope[0]
    if isinstance(value, list) and value:
        value = value[0]  # [[time, metadata], record]
    if isinstance(value, msgpack.ExtType) and value.code == 0 and len(value.data) == 8:
        return int.from_bytes(value.data[:4]) * 1_000_000_000 + int.from_bytes(value.data[4:])
    if isinstance(value, msgpack.Timestamp):
        return int(value.to_unix_nano())
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 <= value < 2**34:
        return value * 1_000_000_000
    if isinstance(value, float) and math.isfinite(value) and 0 <= value < 2**34:
        return round(value * 1_000_000) * 1_000
    return None


def json_records(decoded: Decoded) -> list[Any]:
    """The records as JSON holds them: MessagePack records made JSON-safe, with the event's time
    as `date` (seconds, as Fluent Bit's JSON output writes it) when the record has none."""
    if decoded.framing != "msgpack":
        return decoded.records
    out: list[Any] = []
    for envelope, record in zip(decoded.envelopes, decoded.records, strict=True):
        safe = _json_safe(record)
        if isinstance(safe, dict) and "date" not in safe:
            when = event_time_ns(envelope)
            if when is not None:
                safe = {"date": when / 1e9, **safe}
        out.append(safe)
    return out


def _msgpack_safe(value: Any) -> Any:
    """A JSON value as MessagePack holds it: a number beyond its range as its JSON text, a lone
    surrogate as "?"."""
    if isinstance(value, Exact):
        return value.text
    if isinstance(value, str):
        return value if value.isascii() else value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_msgpack_safe(k): _msgpack_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_msgpack_safe(v) for v in value]
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        return str(value)
    return value


def encode_answer(decoded: Decoded, framing: Framing) -> bytes:
    """The enriched records in the answer's framing."""
    if framing == "msgpack":
        if decoded.framing == "msgpack":
            packer = msgpack.Packer(unicode_errors="surrogateescape")
            return b"".join(packer.pack(obj) for obj in decoded.envelopes)
        packer = msgpack.Packer()
        return b"".join(packer.pack(_msgpack_safe(record)) for record in decoded.records)
    records = json_records(decoded)
    if framing == "object" and len(records) == 1:
        return dumps(records[0])
    if framing in ("json", "object"):
        try:
            return orjson.dumps(records, default=_fragment)
        except orjson.JSONEncodeError:
            return b"[" + b",".join(map(dumps, records)) + b"]"
    body = b"\n".join(map(dumps, records))
    if records and (decoded.trailing_newline or decoded.framing != "ndjson"):
        body += b"\n"
    return body
