"""Domain errors → HTTP answers, in one table. Bodies are RFC 9457 problem+json."""

from typing import Any

import orjson
from starlette.responses import Response

from app.codecs import CodecError

STATUS_OF_KIND: dict[str, int] = {
    "undecodable": 400,
    "too_large": 413,
    "too_many_records": 413,
    "unsupported_type": 415,
    "unsupported_encoding": 415,
}
TITLES: dict[int, str] = {
    400: "Body cannot be decoded",
    401: "Missing or wrong bearer token",
    404: "Not found",
    408: "Request body timed out",
    413: "Too large",
    415: "Unsupported media type or encoding",
    429: "Too many requests",
    503: "Service unavailable",
}


def problem(
    status: int,
    detail: str,
    kind: str,
    where: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:logenrich:problem:{kind}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if where:
        body["where"] = where
    return Response(orjson.dumps(body), status, headers=headers, media_type="application/problem+json")


def codec_problem(error: CodecError) -> Response:
    return problem(STATUS_OF_KIND[error.kind], error.detail, error.kind, error.where)


AT_CAPACITY = "the service is at capacity; retry later"


def overloaded(retry_after: int, detail: str = AT_CAPACITY) -> Response:
    return problem(503, detail, "overloaded", headers={"Retry-After": str(retry_after)})
