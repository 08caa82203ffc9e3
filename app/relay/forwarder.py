"""Deliver an enriched batch to a downstream and decide what the shipper is told.

    downstream answer                          answer to the shipper
    2xx (and every _bulk item created/409)     200
    429, 5xx, 408, timeout, refused, reset     503 + Retry-After: the shipper keeps the batch, retries
    401, 403, 404, 405, 407                    503 + Retry-After: our settings are wrong, not the batch;
                                               nothing is dropped while an operator fixes them
    other 4xx (400, 413, 422 …)                that 4xx with the downstream's reason: the batch itself
                                               can never succeed, so the shipper drops or dead-letters it
    _bulk items 429 / 5xx                      503 (created items come back as 409 on the retry)
    _bulk items rejected (mapping errors)      written to the dead-letter index, then 200

Connections are pooled and kept alive per downstream; every request has a timeout below the
shippers' 60 s.
"""

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import httpx2 as httpx
import orjson

from app.codecs import compress
from app.enrich import EnrichOptions, Result
from app.relay.config import Downstream
from app.relay.encoders import (
    encode_bulk,
    encode_dead_letters,
    encode_json,
    encode_loki,
    encode_ndjson,
    read_bulk_response,
    record_id,
)

RETRYABLE: Final = frozenset({408, 425, 429})
SETTINGS_PROBLEM: Final = frozenset({401, 403, 404, 405, 407})
_MEDIA: Final = {
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "elasticsearch": "application/x-ndjson",
    "loki": "application/json",
}


@dataclass(frozen=True, slots=True)
class Prepared:
    """A downstream request body, built off the event loop."""

    body: bytes
    count: int
    records: list[Any]
    ids: list[str]


@dataclass(frozen=True, slots=True)
class Delivery:
    """What happened downstream, and the answer the shipper gets."""

    status: int
    outcome: str  # ok | retryable | rejected
    detail: str
    retry_after: int | None = None
    delivered: int = 0
    dead_lettered: int = 0


def target_url(downstream: Downstream) -> str:
    url = downstream.url.rstrip("/")
    path = urlsplit(url).path
    if downstream.format == "elasticsearch" and not path.endswith("/_bulk"):
        return url + "/_bulk"
    if downstream.format == "loki" and path in ("", "/"):
        return url + "/loki/api/v1/push"
    return url


def _enrichment_access(options: EnrichOptions) -> tuple[Any, Any]:
    """(details, strip) for the Loki encoder, by output profile."""
    if options.profile == "default":
        key = options.key

        def details(record: Any) -> tuple[str | None, dict[str, Any]]:
            found = record.get(key) if isinstance(record, dict) else None
            if not isinstance(found, dict):
                return None, {}
            fields = found.get("fields")
            return found.get("doc_url"), fields if isinstance(fields, dict) else {}

        def strip(record: Any) -> Any:
            return {k: v for k, v in record.items() if k != key} if isinstance(record, dict) else record

        return details, strip

    def ecs_details(record: Any) -> tuple[str | None, dict[str, Any]]:
        if not isinstance(record, dict):
            return None, {}
        rule, extra = record.get("rule"), record.get("logenrich")
        doc = rule.get("reference") if isinstance(rule, dict) else None
        fields = extra.get("fields") if isinstance(extra, dict) else None
        return doc, fields if isinstance(fields, dict) else {}

    def ecs_strip(record: Any) -> Any:
        return (
            {k: v for k, v in record.items() if k not in ("rule", "logenrich")}
            if isinstance(record, dict)
            else record
        )

    return ecs_details, ecs_strip


def prepare(
    downstream: Downstream,
    records: list[Any],
    results: list[Result],
    options: EnrichOptions,
    message_of: Any,
    ids: list[str] | None = None,
) -> Prepared:
    """The request body for this downstream (CPU work: run it in a worker thread)."""
    now_ns = time.time_ns()
    doc_ids: list[str] = []
    if downstream.format == "json":
        body = encode_json(records)
    elif downstream.format == "ndjson":
        body = encode_ndjson(records)
    elif downstream.format == "elasticsearch":
        doc_ids = ids if ids is not None else [record_id(r) for r in records]
        body = encode_bulk(records, doc_ids, downstream.index, now_ns)
    else:
        details, strip = _enrichment_access(options)
        body = encode_loki(
            records,
            results,
            static_labels=downstream.labels,
            line=downstream.line,
            received_ns=now_ns,
            details=details,
            strip=strip,
            message=message_of,
        )
    return Prepared(compress(body, downstream.compression), len(records), records, doc_ids)


def _retry_after(response: httpx.Response | None, fallback: int) -> int:
    if response is not None:
        given = response.headers.get("retry-after", "")
        if given.isdigit():
            return max(1, min(int(given), 300))
    return fallback


def _reason(response: httpx.Response) -> str:
    text = response.text[:500].strip() if response.content else ""
    return f"{response.status_code} {response.reason_phrase}" + (f": {text}" if text else "")


class Forwarder:
    """One pooled HTTP client per downstream; safe to share between requests."""

    def __init__(self, downstreams: dict[str, Downstream], default: str | None, retry_after: int = 1) -> None:
        self.downstreams = downstreams
        self.default = default
        self.retry_after = retry_after
        self._clients: dict[str, httpx.AsyncClient] = {}

    def client(self, downstream: Downstream) -> httpx.AsyncClient:
        client = self._clients.get(downstream.name)
        if client is None:
            headers = {"User-Agent": "logenrich", **downstream.headers, **downstream.auth_headers}
            client = httpx.AsyncClient(
                timeout=httpx.Timeout(downstream.timeout, connect=min(5.0, downstream.timeout)),
                limits=httpx.Limits(max_connections=32, max_keepalive_connections=16, keepalive_expiry=60),
                verify=downstream.verify_tls,
                headers=headers,
                auth=downstream.basic_auth,
            )
            self._clients[downstream.name] = client
        return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def _post(
        self, downstream: Downstream, url: str, body: bytes, media: str
    ) -> httpx.Response | Delivery:
        headers = {"Content-Type": media}
        if downstream.compression == "gzip":
            headers["Content-Encoding"] = "gzip"
        try:
            return await self.client(downstream).post(url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            return Delivery(
                503,
                "retryable",
                f"downstream {downstream.name} timed out: {type(exc).__name__}",
                self.retry_after,
            )
        except httpx.TransportError as exc:
            return Delivery(
                503, "retryable", f"downstream {downstream.name} unreachable: {exc}", self.retry_after
            )

    def _by_status(self, downstream: Downstream, response: httpx.Response) -> Delivery:
        status = response.status_code
        reason = _reason(response)
        if status in RETRYABLE or status >= 500:
            return Delivery(
                503,
                "retryable",
                f"downstream {downstream.name} answered {reason}",
                _retry_after(response, self.retry_after),
            )
        if status in SETTINGS_PROBLEM:
            detail = (
                f"downstream {downstream.name} refused the request ({reason}); check its URL and credentials"
            )
            return Delivery(503, "retryable", detail, self.retry_after)
        return Delivery(status, "rejected", f"downstream {downstream.name} rejected the batch: {reason}")

    async def deliver(self, downstream: Downstream, prepared: Prepared) -> Delivery:
        if prepared.count == 0:
            return Delivery(200, "ok", "empty batch", delivered=0)
        answer = await self._post(
            downstream, target_url(downstream), prepared.body, _MEDIA[downstream.format]
        )
        if isinstance(answer, Delivery):
            return answer
        if not 200 <= answer.status_code < 300:
            return self._by_status(downstream, answer)
        if downstream.format != "elasticsearch":
            return Delivery(200, "ok", f"delivered to {downstream.name}", delivered=prepared.count)
        return await self._bulk_items(downstream, prepared, answer)

    async def _bulk_items(
        self, downstream: Downstream, prepared: Prepared, answer: httpx.Response
    ) -> Delivery:
        try:
            parsed = orjson.loads(answer.content)
        except orjson.JSONDecodeError:
            return Delivery(
                503,
                "retryable",
                f"downstream {downstream.name} sent an unreadable _bulk answer",
                self.retry_after,
            )
        outcome = read_bulk_response(parsed, prepared.count)
        if outcome.retryable:
            position, status, reason = outcome.retryable[0]
            detail = (
                f"{len(outcome.retryable)} of {prepared.count} documents were not indexed "
                f"(first: item {position}, status {status} {reason}); retry the batch"
            )
            return Delivery(503, "retryable", detail, self.retry_after)
        delivered = outcome.created + outcome.duplicates
        if not outcome.rejected:
            return Delivery(200, "ok", f"indexed in {downstream.name}", delivered=delivered)
        dead = encode_dead_letters(
            prepared.records,
            prepared.ids,
            outcome.rejected,
            downstream.dead_letter_index,
            downstream.index,
            downstream.name,
            time.time_ns(),
        )
        dead = compress(dead, downstream.compression)
        written = await self._post(downstream, target_url(downstream), dead, _MEDIA["elasticsearch"])
        if isinstance(written, Delivery):
            return written
        if not 200 <= written.status_code < 300:
            return Delivery(
                503, "retryable", f"dead-letter write failed: {_reason(written)}", self.retry_after
            )
        try:
            dead_outcome = read_bulk_response(orjson.loads(written.content), len(outcome.rejected))
        except orjson.JSONDecodeError:
            dead_outcome = None
        if dead_outcome is None or dead_outcome.retryable or dead_outcome.rejected:
            return Delivery(
                503, "retryable", "dead-letter write did not index every document", self.retry_after
            )
        kept = f"{len(outcome.rejected)} rejected documents kept in {downstream.dead_letter_index}"
        detail = f"indexed in {downstream.name}; {kept}"
        return Delivery(200, "ok", detail, delivered=delivered, dead_lettered=len(outcome.rejected))

    async def reachable(self, downstream: Downstream, timeout: float = 2.0) -> str | None:
        """None when a TCP connection to the downstream opens; else why not."""
        parts = urlsplit(downstream.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, port), timeout)
        except (OSError, TimeoutError) as exc:
            return f"{parts.hostname}:{port}: {exc or type(exc).__name__}"
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return None
