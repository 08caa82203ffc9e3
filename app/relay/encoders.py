"""Request bodies for each downstream format, and what their answers mean.

json / ndjson   the enriched records, for a Vector http_server source or Fluent Bit in_http
elasticsearch   the _bulk API: one `create` action per record with a deterministic _id, so a
                batch the shipper retries does not duplicate documents (the repeat is a 409)
loki            the push API: streams grouped by bounded labels (category, severity and static
                labels); classification, doc link and fields as structured metadata
"""

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from app.enrich import Result

ENRICHMENT_KEYS: Final = ("enrichment",)


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=repr)


def record_id(record: Any) -> str:
    """A stable id from the record as received: the same record always gets the same id."""
    digest = hashlib.blake2b(_canonical(record), digest_size=15).digest()
    return base64.urlsafe_b64encode(digest).decode()


def encode_json(records: list[Any]) -> bytes:
    return orjson.dumps(records, default=repr)


def encode_ndjson(records: list[Any]) -> bytes:
    return b"".join(orjson.dumps(record, default=repr) + b"\n" for record in records)


# --- time ---------------------------------------------------------------------------------------

_ISO = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}:\d{2})(?:[.,](?P<fraction>\d{1,9}))?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?$"
)


def parse_time_ns(value: Any) -> int | None:
    """Nanoseconds since the epoch from an RFC 3339 string or a number of s / ms / µs / ns."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        magnitude = abs(value)
        if magnitude >= 1e17:
            return int(value)
        if magnitude >= 1e14:
            return int(value * 1_000)
        if magnitude >= 1e11:
            return int(value * 1_000_000)
        if isinstance(value, int):
            return value * 1_000_000_000
        return round(value * 1_000_000) * 1_000  # a float of seconds holds microseconds at best
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
    except ValueError:
        return None
    fraction = (m.group("fraction") or "").ljust(9, "0")
    return int(moment.timestamp()) * 1_000_000_000 + int(fraction)


TIME_KEYS: Final = ("@timestamp", "timestamp", "date", "time")


def record_time_ns(record: Any) -> int | None:
    """The record's own time: Vector `timestamp`, Fluent Bit `date`, ECS `@timestamp`, docker `time`."""
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


# --- elasticsearch --------------------------------------------------------------------------------


def bulk_document(record: Any, received_ns: int) -> dict[str, Any]:
    """The document for a record: the record itself, with `@timestamp` added when it has none
    (data streams require it). A value that is not an object is kept as `event.original`."""
    if not isinstance(record, dict):
        return {"@timestamp": iso_from_ns(received_ns), "event": {"original": _canonical(record).decode()}}
    if "@timestamp" in record:
        return record
    return {"@timestamp": iso_from_ns(record_time_ns(record) or received_ns), **record}


def encode_bulk(records: list[Any], ids: list[str], index: str, received_ns: int) -> bytes:
    parts: list[bytes] = []
    for record, doc_id in zip(records, ids, strict=True):
        parts.append(orjson.dumps({"create": {"_index": index, "_id": doc_id}}))
        parts.append(orjson.dumps(bulk_document(record, received_ns), default=repr))
    return b"\n".join(parts) + b"\n" if parts else b""


@dataclass
class BulkOutcome:
    created: int = 0
    duplicates: int = 0  # 409: already indexed by an earlier try of the same batch
    retryable: list[tuple[int, int, str]] = field(default_factory=list)  # (position, status, reason)
    rejected: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)  # (position, status, error)


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
        status = result.get("status", 500) if isinstance(result, dict) else 500
        error = result.get("error") if isinstance(result, dict) else None
        if 200 <= status < 300:
            outcome.created += 1
        elif status == 409:
            outcome.duplicates += 1
        elif status == 429 or status >= 500:
            reason = error.get("reason", "") if isinstance(error, dict) else str(error or "")
            outcome.retryable.append((position, status, reason))
        else:
            outcome.rejected.append(
                (position, status, error if isinstance(error, dict) else {"reason": str(error)})
            )
    return outcome


def encode_dead_letters(
    records: list[Any],
    ids: list[str],
    rejected: list[tuple[int, int, dict[str, Any]]],
    index: str,
    failed_index: str,
    downstream: str,
    now_ns: int,
) -> bytes:
    """Bulk `create` actions that keep each rejected record, whole and unparsed, with the error."""
    parts: list[bytes] = []
    for position, status, error in rejected:
        parts.append(orjson.dumps({"create": {"_index": index, "_id": ids[position]}}))
        document = {
            "@timestamp": iso_from_ns(now_ns),
            "event": {"original": _canonical(records[position]).decode(), "kind": "pipeline_error"},
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


def _metadata_key(name: str) -> str:
    return "fields_" + _LABEL_UNSAFE.sub("_", name)


def encode_loki(
    records: list[Any],
    results: list[Result],
    *,
    static_labels: dict[str, str],
    line: str,
    received_ns: int,
    details: Callable[[Any], tuple[str | None, dict[str, Any]]],
    strip: Callable[[Any], Any],
    message: Callable[[Any], str | None],
) -> bytes:
    """A push request: one stream per (category, severity) and static labels, values in time order.

    `details(record)` gives the doc link and fields the enrichment wrote; `strip(record)` the record
    without it (for `line = "json"`); `message(record)` the log line itself (for `line = "message"`).
    """
    streams: dict[tuple[str, str], list[list[Any]]] = {}
    for record, result in zip(records, results, strict=True):
        category = result.category or ("unclassified" if result.outcome == "unclassified" else "none")
        severity = result.severity or "unknown"
        when = record_time_ns(record) or received_ns
        text = message(record) if line == "message" else None
        if text is None:
            text = orjson.dumps(strip(record), default=repr).decode()
        metadata: dict[str, str] = {}
        if result.classification:
            metadata["classification"] = result.classification
        doc_url, fields = details(record)
        if doc_url:
            metadata["doc_url"] = doc_url
        for name, value in fields.items():
            metadata[_metadata_key(name)] = value if isinstance(value, str) else orjson.dumps(value).decode()
        entry: list[Any] = [str(when), text, metadata] if metadata else [str(when), text]
        streams.setdefault((category, severity), []).append(entry)
    body = {
        "streams": [
            {
                "stream": dict(static_labels) | {"category": category, "severity": severity},
                "values": sorted(values, key=lambda v: int(v[0])),
            }
            for (category, severity), values in streams.items()
        ]
    }
    return orjson.dumps(body)
