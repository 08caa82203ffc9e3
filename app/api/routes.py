"""Thin route handlers: admit the body, run the batch in a worker thread, answer. Errors are
raised and answered through the table in ``app.api.problems``."""

import dataclasses
import time

import anyio
import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from app.api.bodies import admitted_body
from app.api.openapi import (
    DRAFT_RESPONSES,
    ENRICH_REQUEST,
    ENRICH_RESPONSES,
    FORWARD_RESPONSES,
    UNCLASSIFIED_RESPONSES,
)
from app.api.schemas import Health, Ready, ReloadAnswer
from app.api.security import Authorized, MetricsAuthorized, ServiceDep
from app.api.state import Service
from app.batch import Output
from app.drafting import Draft, draft_rules
from app.errors import NoSample, NotFound, Refused
from app.export_json import export_table
from app.pipeline import Processed, process_body
from app.relay.config import Downstream
from app.relay.forwarder import output_for, request_body
from app.sampling import UnclassifiedSample

router = APIRouter()


async def _run(
    request: Request, service: Service, downstream: Downstream | None = None
) -> tuple[Processed, bytes]:
    """Admit, decode, enrich and encode one batch in a worker thread: the answer, or (with a
    downstream) that downstream's request body, compressed as it wants it."""
    settings = service.settings
    headers = request.headers
    output: Output | None = output_for(downstream) if downstream is not None else None
    async with admitted_body(request, service) as body:
        engine = service.tables.current  # one whole table for the whole batch

        def work() -> tuple[Processed, bytes]:
            processed = process_body(
                body,
                content_type=headers.get("content-type"),
                content_encoding=headers.get("content-encoding"),
                accept=headers.get("accept"),
                accept_encoding=headers.get("accept-encoding"),
                engine=engine,
                limits=settings.limits,
                output=output,
                budget=service.bodies,
            )
            outgoing = request_body(downstream, processed.result) if downstream is not None else b""
            return processed, outgoing

        processed, outgoing = await anyio.to_thread.run_sync(work, limiter=service.cpu)
    if service.sample is not None:  # read again in the sampler's thread, after this answer
        service.sample.offer(
            body, headers.get("content-type"), headers.get("content-encoding"), processed.result.outcomes
        )
    metrics = service.metrics
    labels = (processed.result.framing, processed.request_encoding)
    metrics.batches.labels(*labels).inc()
    metrics.bytes.labels(*labels).inc(len(body))
    metrics.count_results(processed.result.counts)
    return processed, outgoing


@router.post(
    "/v1/enrich",
    summary="Enrich a batch and return it",
    openapi_extra=ENRICH_REQUEST,
    responses=ENRICH_RESPONSES,
    response_class=Response,
)
async def enrich(request: Request, service: ServiceDep, _: Authorized) -> Response:
    processed, _outgoing = await _run(request, service)
    headers = {
        "X-Logenrich-Table": processed.engine.table.version,
        "X-Logenrich-Records": str(processed.result.records),
        "Vary": "Accept, Accept-Encoding",
    }
    if processed.encoding != "identity":
        headers["Content-Encoding"] = processed.encoding
    return Response(processed.body, 200, headers=headers, media_type=processed.media_type)


async def _forward(request: Request, service: Service, name: str | None) -> Response:
    forwarder = service.forwarder
    target = name or (forwarder.default if forwarder else None)
    if forwarder is None or target is None:
        raise NotFound("no default downstream: start with --forward-url or a downstreams file")
    downstream = forwarder.downstreams.get(target)
    if downstream is None:
        known = ", ".join(sorted(forwarder.downstreams)) or "none"
        raise NotFound(f"no downstream named {target!r} (known: {known})")
    processed, outgoing = await _run(request, service, downstream)
    metrics = service.metrics
    started = time.perf_counter()
    try:
        delivery = await forwarder.deliver(downstream, processed.result, outgoing)
    except Refused as error:
        outcome = "retryable" if error.retry_after is not None else "rejected"
        metrics.forwards.labels(downstream.name, outcome).inc()
        raise
    finally:
        metrics.forward_latency.labels(downstream.name).observe(time.perf_counter() - started)
    metrics.forwards.labels(downstream.name, "ok").inc()
    if delivery.delivered:
        metrics.forwarded.labels(downstream.name, "delivered").inc(delivery.delivered)
    if delivery.dead_lettered:
        metrics.forwarded.labels(downstream.name, "dead_lettered").inc(delivery.dead_lettered)
    body = {"records": processed.result.records, "downstream": downstream.name, "detail": delivery.detail}
    return Response(orjson.dumps(body), 200, media_type="application/json")


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


def _sample(service: Service) -> UnclassifiedSample:
    if service.sample is None:
        raise NoSample("no sample of unclassified messages: start the service with --sample-unclassified N")
    return service.sample


@router.get(
    "/v1/unclassified",
    summary="This process's sample of unclassified messages, by template",
    response_class=Response,
    responses=UNCLASSIFIED_RESPONSES,
)
async def unclassified(service: ServiceDep, _: Authorized, limit: int = 100) -> Response:
    body = _sample(service).as_json(max(limit, 0))
    return Response(orjson.dumps(body), media_type="application/json")


@router.get(
    "/v1/unclassified/draft",
    summary="Draft rules (TOML) for the sampled templates, checked as `logenrich check` checks them",
    response_class=Response,
    responses=DRAFT_RESPONSES,
)
async def unclassified_draft(service: ServiceDep, _: Authorized, min_count: int = 2) -> Response:
    sample = _sample(service)
    settings = service.settings

    def work() -> Draft:
        return draft_rules(
            sample.templates(),
            min_count=max(min_count, 1),
            options=settings.enrich_options,
            engine=settings.engine,
            messages=sample.as_json(0)["messages"],
        )

    draft = await anyio.to_thread.run_sync(work, limiter=service.cpu)
    if not draft.rules:
        why = (
            "no example lines are kept (--sample-unclassified-examples 0)"
            if not sample.examples
            else (f"no template seen {max(min_count, 1)}+ times gave a rule yet")
        )
        raise NoSample(f"nothing to draft: {why}")
    headers = {"Content-Disposition": 'attachment; filename="unclassified-draft.toml"'}
    return Response(draft.text.encode(), media_type="application/toml", headers=headers)


@router.post(
    "/v1/reload",
    summary="Load and check the rule files again; swap only if they check",
    responses={
        200: {"model": ReloadAnswer},
        422: {"model": ReloadAnswer, "description": "Refused; old table kept"},
    },
)
async def reload(service: ServiceDep, _: Authorized) -> Response:
    outcome = await service.reload("api")
    body = {k: v for k, v in dataclasses.asdict(outcome).items() if k != "at"}
    return Response(orjson.dumps(body), 200 if outcome.ok else 422, media_type="application/json")


@router.get("/healthz", summary="The process is alive", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="The table is loaded and requests are taken; the downstreams' state, for information",
    response_model=Ready,
    responses={503: {"model": Ready, "description": "Shutting down"}},
)
async def readyz(service: ServiceDep) -> Response:
    """Unready only for what another pod would not share: shutting down. An unreachable
    downstream is every pod's problem, so it is reported here and in logenrich_downstream_up,
    and the shippers keep their batches (every forward answers 503) until it is back."""
    engine = service.tables.current
    last = service.tables.last_reload
    forwarder = service.forwarder
    body = Ready(
        status="shutting-down" if service.shutting_down else "ready",
        engine=engine.name,
        table={"version": engine.table.version, "rules": len(engine.table.rules)},
        last_reload=dataclasses.asdict(last) if last else None,
        downstreams=dict(service.downstream_errors) if forwarder else None,
    )
    return Response(
        body.model_dump_json(), 503 if service.shutting_down else 200, media_type="application/json"
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(service: ServiceDep, _: MetricsAuthorized) -> Response:
    return Response(service.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
