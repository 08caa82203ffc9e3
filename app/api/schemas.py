"""Models that document the real request and response bodies in the OpenAPI schema. The hot path
never validates records with them: records stay plain decoded dicts."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.constraints import Category
from app.severity import Severity


class Source(BaseModel):
    format: str = Field(examples=["jupyterhub"])
    logger: str | None = Field(None, examples=["JupyterHub"])
    file: str | None = Field(None, examples=["base"])
    line: int | None = Field(None, examples=[1349])
    time: str | None = Field(None, examples=["2022-03-10 17:25:19.774"])
    via: str | None = Field(None, examples=["kubectl"])


class Enrichment(BaseModel):
    """What the default profile adds under `enrichment` (docs/design.md, "Output fields")."""

    classification: str = Field(examples=["jupyterhub.proxy.not-running-server"])
    title: str | None = None
    category: Category | None = None
    severity: Severity | None = None
    original_severity: Severity | None = None
    doc_url: str | None = None
    summary: str | None = None
    action: str | None = None
    fields: dict[str, Any] | None = Field(
        None, examples=[{"user": "alice", "path": "/hub/user/alice/api/metrics/v1"}]
    )
    source: Source | None = None
    ruleset: str | None = None
    ruleset_version: str | None = None


class LogRecord(BaseModel):
    """A log record as the shipper sends it: any object; the line is in `message`, `log` or `msg`."""

    model_config = ConfigDict(extra="allow")
    message: str | None = Field(
        None,
        examples=[
            "[W 2022-03-10 17:25:19.774 JupyterHub base:1349] Failing suspected API request to "
            "not-running server: /hub/user/alice/api/metrics/v1"
        ],
    )


class EnrichedRecord(LogRecord):
    """The record, every input field unchanged, with the enrichment added."""

    enrichment: Enrichment | None = None


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(examples=["urn:logenrich:problem:undecodable"])
    title: str
    status: int
    detail: str = Field(examples=["the body is not valid JSON at line 1, column 10: unexpected end of data"])
    where: dict[str, Any] | None = Field(None, examples=[{"offset": 9, "line": 1, "column": 10}])


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: Literal["ready", "shutting-down"]
    engine: Literal["native", "python"] = Field(description="the engine that runs the table")
    table: dict[str, Any]
    last_reload: dict[str, Any] | None = None
    downstreams: dict[str, str | None] | None = Field(
        None,
        description="relay mode: why each downstream was unreachable at the last check (null: reachable)",
    )


class ReloadAnswer(BaseModel):
    ok: bool
    trigger: str
    version: str
    error: str | None = None
