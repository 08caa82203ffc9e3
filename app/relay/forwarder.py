"""Deliver an enriched batch to a downstream and decide what the shipper is told.

    downstream answer                          answer to the shipper
    2xx (and every _bulk item created/409)     200
    429, 5xx, 408, timeout, refused, reset     503 + Retry-After: the shipper keeps the batch, retries
    3xx, 401, 403, 404, 405, 407               503 + Retry-After: our settings are wrong (a moved URL,
                                               credentials), not the batch; nothing is dropped while
                                               an operator fixes them, and the log says what is wrong
    other 4xx (400, 413, 422 …)                that 4xx with the downstream's reason: the batch itself
                                               can never succeed, so the shipper drops or dead-letters it
    _bulk items 429 / 5xx                      503 (created items come back as 409 on the retry)
    _bulk items rejected (mapping errors)      written to the dead-letter index, then 200

A failure is raised (``DownstreamDown``, ``DownstreamRejected``); a delivery is returned. Connections
are pooled and kept alive per downstream; every request has a timeout below the shippers' 60 s.
"""

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import httpx2 as httpx
import orjson

from app.batch import BatchResult, Bulk, JsonLines, Loki, Output
from app.codecs import compress
from app.errors import DownstreamDown, DownstreamRejected
from app.relay.config import Downstream
from app.relay.encoders import encode_dead_letters, read_bulk_response

log = logging.getLogger("logenrich")

RETRYABLE: Final = frozenset({408, 425, 429})
SETTINGS_PROBLEM: Final = frozenset({401, 403, 404, 405, 407})
_MEDIA: Final = {
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "elasticsearch": "application/x-ndjson",
    "loki": "application/json",
}


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the downstream took."""

    detail: str
    delivered: int = 0
    dead_lettered: int = 0


def output_for(downstream: Downstream) -> Output:
    """What the engine writes for this downstream."""
    if downstream.format == "json":
        return JsonLines(array=True)
    if downstream.format == "ndjson":
        return JsonLines(array=False)
    if downstream.format == "elasticsearch":
        return Bulk(downstream.index)
    return Loki(tuple(downstream.labels.items()), downstream.line)


def request_body(downstream: Downstream, result: BatchResult) -> bytes:
    """The engine's body, compressed as the downstream wants it (CPU work: off the event loop)."""
    return compress(result.body, "gzip") if downstream.compression == "gzip" else result.body


def target_url(downstream: Downstream) -> str:
    url = downstream.url.rstrip("/")
    path = urlsplit(url).path
    if downstream.format == "elasticsearch" and not path.endswith("/_bulk"):
        return url + "/_bulk"
    if downstream.format == "loki" and path in ("", "/"):
        return url + "/loki/api/v1/push"
    return url


def _retry_after(response: httpx.Response | None, fallback: int) -> int:
    if response is not None:
        given = response.headers.get("retry-after", "")
        if given.isdigit():
            return max(1, min(int(given), 300))
    return fallback


def _transport_reason(exc: BaseException) -> str:
    """What went wrong on the connection, in words: the error and the system error under it
    ("ReadError: [Errno 104] Connection reset by peer")."""
    parts = [type(exc).__name__ + (f": {exc}" if str(exc) else "")]
    cause = exc.__cause__ or exc.__context__
    while cause is not None and len(parts) < 4:
        text = str(cause)
        if text and text not in parts[-1]:
            parts.append(f"{type(cause).__name__}: {text}" if not isinstance(cause, OSError) else text)
        cause = cause.__cause__ or cause.__context__
    return "; ".join(parts)


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
                follow_redirects=False,
            )
            self._clients[downstream.name] = client
        return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    def _down(self, detail: str, retry_after: int | None = None) -> DownstreamDown:
        return DownstreamDown(detail, retry_after or self.retry_after)

    async def _post(self, downstream: Downstream, body: bytes) -> httpx.Response:
        """POST a body already compressed as the downstream wants (``request_body``)."""
        headers = {"Content-Type": _MEDIA[downstream.format]}
        if downstream.compression == "gzip":
            headers["Content-Encoding"] = "gzip"
        try:
            return await self.client(downstream).post(target_url(downstream), content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise self._down(f"downstream {downstream.name} timed out: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            reason = _transport_reason(exc)
            log.warning("downstream unreachable", extra={"downstream": downstream.name, "error": reason})
            raise self._down(f"downstream {downstream.name} unreachable: {reason}") from exc
        except (OSError, AttributeError, RuntimeError) as exc:
            # the client's own failures on a connection the downstream dropped as it opened
            # (with uvloop, httpcore reads the peer of a socket already gone): not delivered,
            # so the shipper retries; logged, as the client should have said it is unreachable
            log.warning(
                "the HTTP client failed on a downstream connection",
                extra={"downstream": downstream.name, "error": repr(exc)},
            )
            raise self._down(f"downstream {downstream.name} unreachable: {type(exc).__name__}") from exc

    def _check(self, downstream: Downstream, response: httpx.Response) -> None:
        """Nothing for a 2xx; the failure it means otherwise."""
        status = response.status_code
        if 200 <= status < 300:
            return
        reason = _reason(response)
        if status in RETRYABLE or status >= 500:
            raise self._down(
                f"downstream {downstream.name} answered {reason}", _retry_after(response, self.retry_after)
            )
        if 300 <= status < 400:
            where = response.headers.get("location", "")
            detail = (
                f"downstream {downstream.name} redirects ({status}) to {where or 'nowhere'}; "
                "set its URL to where it redirects"
            )
            log.error("downstream redirects", extra={"downstream": downstream.name, "detail": detail})
            raise self._down(detail)
        if status in SETTINGS_PROBLEM:
            detail = (
                f"downstream {downstream.name} refused the request ({reason}); check its URL and credentials"
            )
            log.error(
                "downstream refuses our requests", extra={"downstream": downstream.name, "detail": detail}
            )
            raise self._down(detail)
        raise DownstreamRejected(f"downstream {downstream.name} rejected the batch: {reason}", status)

    async def deliver(self, downstream: Downstream, result: BatchResult, body: bytes) -> Delivery:
        """Send `body` (``request_body(downstream, result)``, made off the event loop)."""
        if result.records == 0:
            return Delivery("empty batch")
        answer = await self._post(downstream, body)
        self._check(downstream, answer)
        if downstream.format != "elasticsearch":
            return Delivery(f"delivered to {downstream.name}", delivered=result.records)
        return await self._bulk_items(downstream, result, answer)

    async def _bulk_items(
        self, downstream: Downstream, result: BatchResult, answer: httpx.Response
    ) -> Delivery:
        try:
            parsed = orjson.loads(answer.content)
        except orjson.JSONDecodeError:
            raise self._down(f"downstream {downstream.name} sent an unreadable _bulk answer") from None
        outcome = read_bulk_response(parsed, result.records)
        if outcome.retryable:
            position, status, reason = outcome.retryable[0]
            raise self._down(
                f"{len(outcome.retryable)} of {result.records} documents were not indexed "
                f"(first: item {position}, status {status} {reason}); retry the batch"
            )
        delivered = outcome.created + outcome.duplicates
        if not outcome.rejected:
            return Delivery(f"indexed in {downstream.name}", delivered=delivered)
        dead = encode_dead_letters(
            result.body,
            result.documents,
            result.ids,
            outcome.rejected,
            downstream.dead_letter_index,
            downstream.index,
            downstream.name,
            time.time_ns(),
        )
        written = await self._post(
            downstream, compress(dead, "gzip") if downstream.compression == "gzip" else dead
        )
        if not 200 <= written.status_code < 300:
            raise self._down(f"dead-letter write failed: {_reason(written)}")
        try:
            dead_outcome = read_bulk_response(orjson.loads(written.content), len(outcome.rejected))
        except orjson.JSONDecodeError:
            dead_outcome = None
        if dead_outcome is None or dead_outcome.retryable or dead_outcome.rejected:
            raise self._down("dead-letter write did not index every document")
        kept = f"{len(outcome.rejected)} rejected documents kept in {downstream.dead_letter_index}"
        return Delivery(
            f"indexed in {downstream.name}; {kept}", delivered=delivered, dead_lettered=len(outcome.rejected)
        )

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
