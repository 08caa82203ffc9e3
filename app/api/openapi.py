"""The OpenAPI documentation of the request and response bodies: every framing a shipper sends,
every answer the service gives. Kept apart from the handlers, which stay thin."""

from typing import Any

from app.api.schemas import EnrichedRecord, LogRecord, Problem

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
    401: {**PROBLEM, "description": "Missing or wrong bearer token (when a token is configured)."},
    408: {**PROBLEM, "description": "The body did not arrive within --body-timeout seconds."},
    413: {**PROBLEM, "description": "Body, decompressed body or record count over the limit."},
    415: {**PROBLEM, "description": "Unknown Content-Type or Content-Encoding."},
    503: {
        **PROBLEM,
        "description": "At capacity, or a body that waited too long for a place; retry after Retry-After.",
    },
}


FORWARD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The downstream accepted the batch (rejected Elasticsearch documents dead-lettered)."
    },
    400: {
        **PROBLEM,
        "description": "The body cannot be decoded, or the downstream rejected the batch as bad.",
    },
    401: {**PROBLEM, "description": "Missing or wrong bearer token (when a token is configured)."},
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


# referenced by $ref in the request/response documentation above
DOCUMENTED_MODELS = (LogRecord, EnrichedRecord)


UNCLASSIFIED_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "This process's sample (each worker and pod keeps its own): the templates of the messages no "
            "rule classified, most frequent first, with their counts, logged levels and example lines."
        ),
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
    401: {**PROBLEM, "description": "Missing or wrong bearer token (when a token is configured)."},
    404: {**PROBLEM, "description": "The service keeps no sample (start it with --sample-unclassified N)."},
}
DRAFT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A rule file (TOML) with one drafted rule per sampled template; it passes "
        "`logenrich check` as it is.",
        "content": {"application/toml": {"schema": {"type": "string"}}},
    },
    401: {**PROBLEM, "description": "Missing or wrong bearer token (when a token is configured)."},
    404: {
        **PROBLEM,
        "description": "No sample (start with --sample-unclassified N), or no template gave a rule yet.",
    },
}
