"""Thin route handlers: read the body, hand it to the pipeline in a worker thread, answer."""

import asyncio
import dataclasses
import time
from typing import Any

import anyio
import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from app.api.problems import AT_CAPACITY, codec_problem, overloaded, problem
from app.api.schemas import EnrichedRecord, Health, LogRecord, Problem, Ready, ReloadAnswer
from app.api.security import Authorized, MetricsAuthorized, ServiceDep
from app.api.state import BodyBudget, Place, Service
from app.codecs import CodecError
from app.export_json import export_table
from app.pipeline import Processed, process_body
from app.relay.config import Downstream
from app.relay.forwarder import Prepared, prepare

router = APIRouter()

_RECORDS_SCHEMA = {"type": "array", "items": {"$ref": "#/components/schemas/LogRecord"}}
_ENRICHED_SCHEMA = {"type": "array", "items": {"$ref": "#/components/schemas/EnrichedRecord"}}
_NDJSON_EXAMPLE = (
    '{"message":"[W 2022-03-10 17:25:19.774 JupyterHub base:1349] Failing suspected API request to '
    'not-running server: /hub/user/alice/api/metrics/v1"}\n'
)
ENRICH_REQUEST: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": (
            "A batch of log records as Vector's http sink or Fluent Bit's out_http sends it. The framing is "
            "decided by Content-Type, then by sniffing: a JSON array, NDJSON (with or without a trailing "
            "newline), JSON objects back to back, one JSON object, MessagePack (Fluent Bit events), or "
            'text/plain raw log lines (each record {"message": line}; indented lines continue the one '
            "before). "
            "Content-Encoding may be gzip, deflate, zstd, snappy or identity."
        ),
        "content": {
            "application/json": {
                "schema": {"oneOf": [_RECORDS_SCHEMA, {"$ref": "#/components/schemas/LogRecord"}]}
            },
            "application/x-ndjson": {"schema": {"type": "string"}, "example": _NDJSON_EXAMPLE},
            "application/msgpack": {"schema": {"type": "string", "format": "binary"}},
            "text/plain": {
                "schema": {"type": "string"},
                "example": "200 GET /hub/api/users (admin@10.0.1.5) 12.34ms\n",
            },
        },
    }
}
PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}
ENRICH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "The enriched batch: same count and order, every input field unchanged, in the request's framing "
            "unless Accept asks for another; compressed when Accept-Encoding asks (gzip, deflate, zstd)."
        ),
        "content": {
            "application/json": {"schema": _ENRICHED_SCHEMA},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "application/msgpack": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    400: {**PROBLEM, "description": "The body cannot be decoded at all; `where` says where."},
    401: {"description": "Missing or wrong bearer token (when a token is configured)."},
    408: {**PROBLEM, "description": "The body did not arrive within --body-timeout seconds."},
    413: {**PROBLEM, "description": "Body, decompressed body or record count over the limit."},
    415: {**PROBLEM, "description": "Unknown Content-Type or Content-Encoding."},
    503: {**PROBLEM, "description": "At capacity; retry after the Retry-After seconds."},
}


# uncompressed bodies up to this size (~2,500 records, under ~100 ms of work) run on the event loop;
# the thread hand-off costs more than it saves there. Larger or compressed bodies (whose decoded
# size is unknown until decoded) run in a worker thread.
INLINE_BODY_BYTES = 1024 * 1024


def _runs_inline(body: bytes, content_encoding: str | None) -> bool:
    return len(body) <= INLINE_BODY_BYTES and content_encoding in (None, "", "identity")


class BodyTimeout(Exception):
    """The client did not send its whole body in time (a slow or lying client)."""


# seconds a request may take to send its body before it gives its admission place back
SLOW_SENDER_GRACE = 2.0


class BudgetExceeded(Exception):
    """Taking this body would pass the bytes all requests may hold at once."""


async def read_body(request: Request, limit: int, timeout: float, budget: BodyBudget) -> bytes:
    """The request body, refused as soon as it passes `limit` bytes, takes `timeout` seconds or
    finds the shared budget spent. On success the body's bytes stay taken from the budget (the
    caller gives them back); on any failure they are given back here."""
    chunks: list[bytes] = []
    size = 0
    try:
        with anyio.fail_after(timeout):
            async for chunk in request.stream():
                if size + len(chunk) > limit:
                    raise CodecError("too_large", f"the body is larger than {limit} bytes", {"limit": limit})
                if not budget.take(len(chunk)):
                    raise BudgetExceeded
                size += len(chunk)
                chunks.append(chunk)
    except BaseException as exc:
        budget.give_back(size)
        if isinstance(exc, TimeoutError):
            raise BodyTimeout(
                f"the body did not arrive within {timeout:g} s ({size} bytes received)"
            ) from exc
        raise
    return b"".join(chunks)


def _too_large_declared(request: Request, limit: int) -> bool:
    declared = request.headers.get("content-length", "")
    return declared.isdigit() and int(declared) > limit


def _shed(service: Service, detail: str = AT_CAPACITY) -> Response:
    """503 + Retry-After: the shipper keeps the batch and sends it again later."""
    service.metrics.rejected.labels("overload").inc()
    return overloaded(service.settings.retry_after, detail)


async def _receive(request: Request, service: Service, place: Place) -> bytes | Response:
    """The body, or the answer when it cannot be had; a sender still sending after the grace
    period is set aside, so that it holds no place while it dawdles."""
    settings = service.settings
    metrics = service.metrics
    grace = asyncio.get_running_loop().call_later(SLOW_SENDER_GRACE, place.set_aside)
    try:
        return await read_body(request, settings.max_body_bytes, settings.body_timeout, service.bodies)
    except CodecError as error:
        metrics.rejected.labels("too_large").inc()
        return codec_problem(error)
    except BodyTimeout as error:
        metrics.rejected.labels("body_timeout").inc()
        return problem(408, str(error), "body_timeout", headers={"Connection": "close"})
    except BudgetExceeded:
        return _shed(service, "the service holds as many request bodies as it may; retry later")
    finally:
        grace.cancel()


async def _process(
    request: Request, service: Service, downstream: Downstream | None = None
) -> tuple[Processed, Prepared | None] | Response:
    """Read, decode and enrich one batch, then encode the answer (or, with a downstream, its
    request body), or the error answer."""
    settings = service.settings
    metrics = service.metrics
    if _too_large_declared(request, settings.max_body_bytes):
        metrics.rejected.labels("too_large").inc()
        return problem(413, f"the body is larger than {settings.max_body_bytes} bytes", "too_large")
    place = Place(service.admission)
    if not place.enter():
        return _shed(service)
    try:
        received = await _receive(request, service, place)
        if isinstance(received, Response):
            return received
        body = received
        try:
            if not place.come_back():  # a slow sender set aside finds no free place
                return _shed(service)
            headers = request.headers
            enricher = service.tables.current  # one whole table for the whole batch

            def work() -> tuple[Processed, Prepared | None]:
                processed = process_body(
                    body,
                    content_type=headers.get("content-type"),
                    content_encoding=headers.get("content-encoding"),
                    accept=headers.get("accept"),
                    accept_encoding=headers.get("accept-encoding"),
                    enricher=enricher,
                    limits=settings.limits,
                    respond=downstream is None,
                )
                if downstream is None:
                    return processed, None
                records, results = processed.batch.records, processed.results
                return processed, prepare(
                    downstream, records, results, enricher.options, _message_getter(enricher)
                )

            try:
                if _runs_inline(body, headers.get("content-encoding")):
                    processed, prepared = work()
                else:
                    processed, prepared = await anyio.to_thread.run_sync(work, limiter=service.cpu)
            except CodecError as error:
                metrics.decode_errors.labels(error.kind).inc()
                return codec_problem(error)
            metrics.batches.labels(processed.batch.framing, processed.batch.encoding).inc()
            metrics.bytes.labels(processed.batch.framing, processed.batch.encoding).inc(len(body))
            metrics.count_results(processed.results)
            return processed, prepared
        finally:
            service.bodies.give_back(len(body))
    finally:
        place.release()


def _message_getter(enricher: Any) -> Any:
    def message(record: Any) -> str | None:
        return enricher.message_of(record) if isinstance(record, dict) else None

    return message


@router.post(
    "/v1/enrich",
    summary="Enrich a batch and return it",
    openapi_extra=ENRICH_REQUEST,
    responses=ENRICH_RESPONSES,
    response_class=Response,
)
async def enrich(request: Request, service: ServiceDep, _: Authorized) -> Response:
    answer = await _process(request, service)
    if isinstance(answer, Response):
        return answer
    outcome = answer[0]
    headers = {
        "X-Logenrich-Table": service.tables.current.table.version,
        "X-Logenrich-Records": str(len(outcome.batch.records)),
        "Vary": "Accept, Accept-Encoding",
    }
    if outcome.encoding != "identity":
        headers["Content-Encoding"] = outcome.encoding
    return Response(outcome.body, 200, headers=headers, media_type=outcome.media_type)


FORWARD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The downstream accepted the batch (rejected Elasticsearch documents dead-lettered)."
    },
    400: {
        **PROBLEM,
        "description": "The body cannot be decoded, or the downstream rejected the batch as bad.",
    },
    401: {"description": "Missing or wrong bearer token (when a token is configured)."},
    404: {**PROBLEM, "description": "No downstream of that name."},
    413: {
        **PROBLEM,
        "description": "Body, decompressed body or record count over a limit (ours or the downstream's).",
    },
    415: {**PROBLEM, "description": "Unknown Content-Type or Content-Encoding."},
    503: {
        **PROBLEM,
        "description": "At capacity, or the downstream is down, throttling or misconfigured: retry.",
    },
}


async def _forward(request: Request, service: Service, name: str | None) -> Response:
    forwarder = service.forwarder
    target = name or (forwarder.default if forwarder else None)
    if forwarder is None or target is None:
        return problem(
            404, "no default downstream: start with --forward-url or a downstreams file", "no_downstream"
        )
    downstream = forwarder.downstreams.get(target)
    if downstream is None:
        known = ", ".join(sorted(forwarder.downstreams)) or "none"
        return problem(404, f"no downstream named {target!r} (known: {known})", "no_downstream")
    answer = await _process(request, service, downstream)
    if isinstance(answer, Response):
        return answer
    processed, prepared = answer
    assert prepared is not None
    metrics = service.metrics
    started = time.perf_counter()
    delivery = await forwarder.deliver(downstream, prepared)
    metrics.forward_latency.labels(downstream.name).observe(time.perf_counter() - started)
    metrics.forwards.labels(downstream.name, delivery.outcome).inc()
    if delivery.delivered:
        metrics.forwarded.labels(downstream.name, "delivered").inc(delivery.delivered)
    if delivery.dead_lettered:
        metrics.forwarded.labels(downstream.name, "dead_lettered").inc(delivery.dead_lettered)
    if delivery.outcome == "ok":
        body = {
            "records": len(processed.batch.records),
            "downstream": downstream.name,
            "detail": delivery.detail,
        }
        return Response(orjson.dumps(body), 200, media_type="application/json")
    if delivery.outcome == "retryable":
        return overloaded(delivery.retry_after or service.settings.retry_after, delivery.detail)
    return problem(delivery.status, delivery.detail, "downstream_rejected")


@router.post(
    "/v1/forward",
    summary="Enrich a batch and deliver it to the default downstream",
    openapi_extra=ENRICH_REQUEST,
    responses=FORWARD_RESPONSES,
    response_class=Response,
)
async def forward_default(request: Request, service: ServiceDep, _: Authorized) -> Response:
    return await _forward(request, service, None)


@router.post(
    "/v1/forward/{name}",
    summary="Enrich a batch and deliver it to a named downstream",
    openapi_extra=ENRICH_REQUEST,
    responses=FORWARD_RESPONSES,
    response_class=Response,
)
async def forward_named(name: str, request: Request, service: ServiceDep, _: Authorized) -> Response:
    return await _forward(request, service, name)


@router.get("/v1/rules", summary="The loaded rule table")
async def rules(service: ServiceDep, _: Authorized) -> Response:
    return Response(orjson.dumps(export_table(service.tables.current.table)), media_type="application/json")


@router.post(
    "/v1/reload",
    summary="Load and check the rule files again; swap only if they check",
    responses={
        200: {"model": ReloadAnswer},
        422: {"model": ReloadAnswer, "description": "Refused; old table kept"},
    },
)
async def reload(service: ServiceDep, _: Authorized) -> Response:
    outcome = await reload_tables(service, "api")
    body = {k: v for k, v in dataclasses.asdict(outcome).items() if k != "at"}
    return Response(orjson.dumps(body), 200 if outcome.ok else 422, media_type="application/json")


async def reload_tables(service: Service, trigger: str) -> Any:
    import logging

    outcome = await anyio.to_thread.run_sync(service.tables.reload, trigger)
    service.metrics.reloads.labels("success" if outcome.ok else "failure", trigger).inc()
    log = logging.getLogger("logenrich")
    if outcome.ok:
        service.metrics.set_table(service.tables.current.table)
        log.info("rule table loaded", extra={"trigger": trigger, "table": outcome.version})
    else:
        log.error(
            "rule table refused; the old one keeps serving",
            extra={"trigger": trigger, "error": outcome.error},
        )
    return outcome


@router.get("/healthz", summary="The process is alive", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="The table is loaded, requests are taken and the default downstream is reachable",
    response_model=Ready,
    responses={
        503: {"model": Ready, "description": "Shutting down, or the default downstream is unreachable"}
    },
)
async def readyz(service: ServiceDep) -> Response:
    table = service.tables.current.table
    last = service.tables.last_reload
    forwarder = service.forwarder
    default_error = (
        service.downstream_errors.get(forwarder.default) if forwarder and forwarder.default else None
    )
    status = "ready"
    if service.shutting_down:
        status = "shutting-down"
    elif default_error is not None:
        status = "downstream-unreachable"
    body = Ready(
        status=status,
        table={"version": table.version, "rules": len(table.rules)},
        last_reload=dataclasses.asdict(last) if last else None,
        downstreams=dict(service.downstream_errors) if forwarder else None,
    )
    return Response(body.model_dump_json(), 200 if status == "ready" else 503, media_type="application/json")


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(service: ServiceDep, _: MetricsAuthorized) -> Response:
    return Response(service.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


# referenced by $ref in the request/response documentation above
DOCUMENTED_MODELS = (LogRecord, EnrichedRecord)
