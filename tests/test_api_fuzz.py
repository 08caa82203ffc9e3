"""Schemathesis over the served OpenAPI schema, against a real server in relay mode: whatever it
generates (valid and invalid bodies, in every documented media type), the answer is never a 5xx,
always a status code the schema documents, with a documented content type."""

import json
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import msgpack
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from app.api import create_app
from app.settings import Settings
from tests.downstream import Recorder, recording_downstream
from tests.server import running_server


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    if isinstance(value, str | bytes):  # the schema's own shape: the NDJSON text itself
        return value.encode() if isinstance(value, str) else value
    records = value if isinstance(value, list) else [value]
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)  # any integer, any key


@schemathesis.serializer("application/msgpack")
def _msgpack(ctx: Any, value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    packed: bytes = msgpack.packb(value)
    return packed


@schemathesis.deserializer("application/x-ndjson")
def _read_ndjson(ctx: Any, response: Any) -> Any:
    return response.content.decode()


@schemathesis.deserializer("application/msgpack")
def _read_msgpack(ctx: Any, response: Any) -> Any:
    return response.content


@pytest.fixture(scope="module")
def downstream() -> Iterator[Recorder]:
    with recording_downstream() as recorder:
        yield recorder


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, downstream: Recorder) -> Iterator[Any]:
    env = {"LOGENRICH_FORWARD_URL": downstream.url + "/in"}
    with running_server("--reload-interval", "0", env=env, tmp_path=tmp_path_factory.mktemp("fuzz")) as s:
        yield s


# the schema the server serves (a test below checks that it is the same document)
SCHEMA = create_app(Settings(reload_interval=0, probe_interval=0)).openapi()
schema = schemathesis.openapi.from_dict(SCHEMA)


def test_the_fuzzed_schema_is_the_served_one(served: Any) -> None:
    assert httpx.get(served.url + "/openapi.json").json() == orjson.loads(orjson.dumps(SCHEMA))


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_only_documented_answers(case: Any, served: Any) -> None:
    response = case.call(base_url=served.url, timeout=30)
    assert response.status_code < 500 or response.status_code == 503, response.text
    case.validate_response(
        response,
        checks=[
            schemathesis.checks.not_a_server_error,
            schemathesis.checks.status_code_conformance,
            schemathesis.checks.content_type_conformance,
        ],
    )
    assert served.process.poll() is None
