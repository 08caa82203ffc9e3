"""Downstream request bodies from decided records (the Python engine's writers), and what the
answers of those downstreams mean.

json / ndjson   the enriched records, for a Vector http_server source or Fluent Bit in_http
elasticsearch   the _bulk API: one `create` action per record with an `_id` from the record as it
                came in and its place among identical records of the batch, so a batch sent again
                does not duplicate documents (the repeat is a 409) and repeated records all stay
loki            the push API: streams grouped by bounded labels (category, severity and static
                labels); classification, doc link and fields as structured metadata

Every record's time is its own (`@timestamp`, Vector `timestamp`, Fluent Bit `date`, `time`), else
the time of its Fluent Bit event, else the time the batch was received.
"""

import base64
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from app.codecs import dumps
from app.enrich import Decision

# --- ids -----------------------------------------------------------------------------------------


def record_ids(raw: list[bytes]) -> list[str]:
    """One `_id` per record: a digest of its bytes as received and of how many identical records
    came before it in the batch. The same batch gets the same ids; repeated records differ."""
    seen: Counter[bytes] = Counter()
    ids: list[str] = []
    for data in raw:
        occurrence = seen[data]
        seen[data] += 1
        digest = hashlib.blake2b(data + b"\n" + str(occurrence).encode(), digest_size=15).digest()
        ids.append(base64.urlsafe_b64encode(digest).decode())
    return ids


# --- time ---------------------------------------------------------------------------------------

_ISO = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[T ](?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2})"
    r"(?:[.,](?P<fraction>[0-9]{1,9}))?(?P<zone>Z|[+-][0-9]{2}:?[0-9]{2})?$"
)
# times a store keeps: from the epoch to the end of year 9999
MAX_TIME_NS: Final = 253_402_300_800 * 1_000_000_000


def _in_range(ns: int) -> int | None:
    return ns if 0 <= ns < MAX_TIME_NS else None


def parse_time_ns(value: Any) -> int | None:
    """Nanoseconds since the epoch from an RFC 3339 string or a number of s / ms / µs / ns;
    None when it is none of those or lies outside what a store keeps (before 1970, after 9999)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if isinstance(value, float) and not abs(value) < 1e19:
            return None
        magnitude = abs(value)
        if magnitude >= 1e17:
            ns = int(value)
        elif magnitude >= 1e14:
            ns = int(value * 1_000)
        elif magnitude >= 1e11:
            ns = int(value * 1_000_000)
        elif isinstance(value, int):
            ns = value * 1_000_000_000
        else:
            ns = round(value * 1_000_000) * 1_000  # a float of seconds holds microseconds at best
        return _in_range(ns)
    if not isinstance(value, str):
        return None
    m = _ISO.match(value.strip())
    if m is None:
        return None
    zone = m.group("zone") or "Z"
    if zone != "Z" and ":" not in zone:
        zone = zone[:3] + ":" + zone[3:]
    try:
        moment = datetime.fromisoformat(
            f"{m.group('date')}T{m.group('time')}{'+00:00' if zone == 'Z' else zone}"
        )
        seconds = int(moment.timestamp())
    except (ValueError, OverflowError):
        return None
    fraction = (m.group("fraction") or "").ljust(9, "0")
    return _in_range(seconds * 1_000_000_000 + int(fraction))


TIME_KEYS: Final = ("@timestamp", "timestamp", "date", "time")


def record_time_ns(record: Any) -> int | None:
    """The record's own time: ECS `@timestamp`, Vector `timestamp`, Fluent Bit `date`, docker `time`."""
    if not isinstance(record, dict):
        return None
    for key in TIME_KEYS:
        if key in record:
            found = parse_time_ns(record[key])
            if found is not None:
                return found
    return None


def iso_from_ns(ns: int) -> str:
    moment = datetime.fromtimestamp(ns // 1_000_000_000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 1_000_000_000:09d}Z"


# --- json / ndjson -------------------------------------------------------------------------------


def encode_json_lines(records: list[Any], array: bool) -> bytes:
    if array:
        return b"[" + b",".join(map(dumps, records)) + b"]"
    return b"".join(dumps(record) + b"\n" for record in records)


# --- elasticsearch --------------------------------------------------------------------------------


def bulk_document(record: Any, time_ns: int) -> bytes:
    """The document for a record: the record itself, with `@timestamp` added when it has none
    (data streams require it). A value that is not an object is kept as `event.original`."""
    stamp = orjson.dumps(iso_from_ns(time_ns))
    if not isinstance(record, dict):
        original = orjson.dumps(dumps(record).decode("utf-8"))
        return b'{"@timestamp":' + stamp + b',"event":{"original":' + original + b"}}"
    body = dumps(record)
    if "@timestamp" in record:
        return body
    return b'{"@timestamp":' + stamp + (b"," + body[1:] if len(body) > 2 else b"}")


def encode_bulk(
    records: list[Any], ids: list[str], index: str, times: list[int]
) -> tuple[bytes, tuple[tuple[int, int], ...]]:
    """The _bulk body, and where each record's document line is in it."""
    out = bytearray()
    spans: list[tuple[int, int]] = []
    for record, doc_id, time_ns in zip(records, ids, times, strict=True):
        out += orjson.dumps({"create": {"_index": index, "_id": doc_id}}) + b"\n"
        start = len(out)
        out += bulk_document(record, time_ns)
        spans.append((start, len(out)))
        out += b"\n"
    return bytes(out), tuple(spans)


@dataclass
class BulkOutcome:
    created: int = 0
    duplicates: int = 0  # 409: already indexed by an earlier try of the same batch
    retryable: list[tuple[int, int, str]] = field(default_factory=list)  # (position, status, reason)
    rejected: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)  # (position, status, error)


def _status(value: Any) -> int:
    """An item's status as a number; whatever is not one counts as a server error."""
    if isinstance(value, bool):
        return 500
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return 500


def read_bulk_response(answer: Any, count: int) -> BulkOutcome:
    """Sort each item of a _bulk answer: created, duplicate, retryable (429, 5xx) or rejected."""
    outcome = BulkOutcome()
    items = answer.get("items") if isinstance(answer, dict) else None
    if not isinstance(items, list) or len(items) != count:
        got = len(items) if isinstance(items, list) else "no"
        outcome.retryable.append((-1, 502, f"the _bulk answer has {got} items for {count} actions"))
        return outcome
    for position, item in enumerate(items):
        result: Any = next(iter(item.values()), {}) if isinstance(item, dict) and item else {}
        status = _status(result.get("status", 500)) if isinstance(result, dict) else 500
        error = result.get("error") if isinstance(result, dict) else None
        if 200 <= status < 300:
            outcome.created += 1
        elif status == 409:
            outcome.duplicates += 1
        elif status == 429 or status >= 500 or status < 200:
            reason = error.get("reason", "") if isinstance(error, dict) else str(error or "")
            outcome.retryable.append((position, status, str(reason)))
        else:
            outcome.rejected.append(
                (position, status, error if isinstance(error, dict) else {"reason": str(error)})
            )
    return outcome


def encode_dead_letters(
    body: bytes,
    documents: tuple[tuple[int, int], ...],
    ids: tuple[str, ...],
    rejected: list[tuple[int, int, dict[str, Any]]],
    index: str,
    failed_index: str,
    downstream: str,
    now_ns: int,
) -> bytes:
    """Bulk `create` actions that keep each rejected document, whole and unparsed, with the error."""
    parts: list[bytes] = []
    for position, status, error in rejected:
        start, end = documents[position]
        parts.append(orjson.dumps({"create": {"_index": index, "_id": ids[position]}}))
        document = {
            "@timestamp": iso_from_ns(now_ns),
            "event": {"original": body[start:end].decode("utf-8", "replace"), "kind": "pipeline_error"},
            "error": {
                "type": str(error.get("type", "")),
                "message": str(error.get("reason", "")),
                "code": str(status),
            },
            "logenrich": {"dead_letter": {"downstream": downstream, "index": failed_index}},
        }
        parts.append(orjson.dumps(document))
    return b"\n".join(parts) + b"\n" if parts else b""


# --- loki ------------------------------------------------------------------------------------------

_LABEL_UNSAFE = re.compile(r"[^a-zA-Z0-9_]")


def metadata_key(name: str) -> str:
    return "fields_" + _LABEL_UNSAFE.sub("_", name)


def loki_stream(decision: Decision) -> tuple[str, str]:
    """The bounded labels of a record: its category and its severity."""
    if decision.outcome == "passthrough":
        return "none", "unknown"
    return decision.category or "unclassified", decision.severity or "unknown"


def loki_metadata(decision: Decision) -> dict[str, str]:
    metadata: dict[str, str] = {}
    classification = decision.classification
    if classification:
        metadata["classification"] = classification
    if decision.doc_url:
        metadata["doc_url"] = decision.doc_url
    for name, value in (decision.fields or {}).items():
        metadata[metadata_key(name)] = value if isinstance(value, str) else dumps(value).decode()
    return metadata


def encode_loki(
    lines: list[str],
    decisions: list[Decision],
    times: list[int],
    static_labels: tuple[tuple[str, str], ...],
) -> bytes:
    """A push request: one stream per (category, severity) and static labels, values in time order."""
    streams: dict[tuple[str, str], list[tuple[int, bytes]]] = {}
    for text, decision, when in zip(lines, decisions, times, strict=True):
        metadata = loki_metadata(decision)
        entry = b'["' + str(when).encode() + b'",' + dumps(text)
        entry += (b"," + dumps(metadata) + b"]") if metadata else b"]"
        streams.setdefault(loki_stream(decision), []).append((when, entry))
    parts: list[bytes] = []
    for (category, severity), values in streams.items():
        labels = dict(static_labels) | {"category": category, "severity": severity}
        ordered = b",".join(entry for _, entry in sorted(values, key=lambda v: v[0]))
        parts.append(b'{"stream":' + orjson.dumps(labels) + b',"values":[' + ordered + b"]}")
    return b'{"streams":[' + b",".join(parts) + b"]}"
