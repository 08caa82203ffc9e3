"""Domain errors → HTTP answers, in one table. Bodies are RFC 9457 problem+json.

Both shippers drop a batch on most 4xx, so a 4xx is only for a batch that can never succeed;
whatever may succeed later is a 503 with Retry-After, which Vector and Fluent Bit retry.
"""

from dataclasses import dataclass
from typing import Any, Final

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from app.api.state import Service
from app.errors import (
    BodyTimeout,
    CodecError,
    DownstreamDown,
    DownstreamRejected,
    LogenrichError,
    NoSample,
    NotFound,
    Overloaded,
    Refused,
    Unauthorized,
)


@dataclass(frozen=True, slots=True)
class ProblemType:
    status: int
    title: str
    type: str | None  # the problem type; None: the codec error's kind
    metric: str | None = None  # the reason in logenrich_rejected_requests_total, when counted there
    headers: tuple[tuple[str, str], ...] = ()


# the one table: exception class → answer (the first class an error is an instance of decides)
PROBLEMS: Final[tuple[tuple[type[LogenrichError], ProblemType], ...]] = (
    (
        Unauthorized,
        ProblemType(
            401, "Missing or wrong bearer token", "unauthorized", "auth", (("WWW-Authenticate", "Bearer"),)
        ),
    ),
    (NoSample, ProblemType(404, "Not found", "no_sample")),
    (NotFound, ProblemType(404, "Not found", "no_downstream")),
    (
        BodyTimeout,
        ProblemType(
            408, "Request body timed out", "body_timeout", "body_timeout", (("Connection", "close"),)
        ),
    ),
    (Overloaded, ProblemType(503, "Service unavailable", "overloaded", "overload")),
    (DownstreamDown, ProblemType(503, "Downstream unavailable", "downstream_unavailable")),
    (DownstreamRejected, ProblemType(400, "Rejected by the downstream", "downstream_rejected")),
    (Refused, ProblemType(503, "Service unavailable", "refused")),
)
CODEC_STATUS: Final[dict[str, tuple[int, str]]] = {
    "undecodable": (400, "Body cannot be decoded"),
    "too_large": (413, "Too large"),
    "too_many_records": (413, "Too large"),
    "unsupported_type": (415, "Unsupported media type or encoding"),
    "unsupported_encoding": (415, "Unsupported media type or encoding"),
}
AT_CAPACITY: Final = "the service is at capacity; retry later"


def problem(
    status: int,
    title: str,
    kind: str,
    detail: str,
    where: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"type": f"urn:logenrich:problem:{kind}", "title": title, "status": status}
    body["detail"] = detail
    if where:
        body["where"] = where
    return Response(orjson.dumps(body), status, headers=headers, media_type="application/problem+json")


def answer_for(error: LogenrichError, service: Service | None) -> Response:
    """The answer an error means, counted in the metrics."""
    if isinstance(error, CodecError):
        status, title = CODEC_STATUS[error.kind]
        if service is not None:
            service.metrics.decode_errors.labels(error.kind).inc()
        return problem(status, title, error.kind, error.detail, error.where)
    for cls, kind in PROBLEMS:
        if isinstance(error, cls):
            assert isinstance(error, Refused)
            headers = dict(kind.headers)
            status = error.status if isinstance(error, DownstreamRejected) else kind.status
            if status in (429, 503):
                default = service.settings.retry_after if service is not None else 1
                headers["Retry-After"] = str(error.retry_after or default)
            if service is not None and kind.metric is not None:
                service.metrics.rejected.labels(kind.metric).inc()
            return problem(status, kind.title, kind.type or "error", error.detail, headers=headers)
    return problem(500, "Internal error", "internal", str(error))


def install(app: FastAPI) -> None:
    """Answer every product error through the table."""

    async def handle(request: Request, error: Exception) -> Response:
        assert isinstance(error, LogenrichError)
        service: Service | None = getattr(request.state, "service", None)
        return answer_for(error, service)

    app.add_exception_handler(LogenrichError, handle)
