"""The one settings object. Every field is also a ``LOGENRICH_<NAME>`` environment variable and a
``logenrich serve --<name>`` flag (the CLI derives its flags from these fields and their
descriptions); lists are comma-separated in the environment, ``k=v`` pairs for labels."""

import os
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import orjson
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.batch import Limits
from app.constraints import (
    DEFAULT_INDEX,
    Compression,
    DownstreamFormat,
    ForwardTimeout,
    Profile,
    Url,
)
from app.engine import EngineName
from app.enrich import DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MESSAGE_FIELDS, EnrichOptions
from app.relay.config import Downstream, load_downstreams

MiB = 1024 * 1024
# the settings a worker process of `serve --workers N` starts with, as JSON (see `for_workers`)
WORKER_SETTINGS: Final = "LOGENRICH_WORKER_SETTINGS"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOGENRICH_", frozen=True, extra="forbid")

    host: str = Field("127.0.0.1", description="address to bind")
    port: int = Field(8080, ge=0, le=65535, description="port")
    workers: int = Field(1, ge=1, le=64, description="worker processes, one per core")

    # the rule table and the engine
    rules: Annotated[tuple[Path, ...], NoDecode] = Field(
        (), description="extra rule files or directories, taking precedence over the built-in set"
    )
    builtin: bool = Field(True, description="load the built-in catalog")
    reload_interval: float = Field(
        5.0, ge=0, description="seconds between rule-file checks; 0 turns watching off"
    )
    engine: EngineName = Field(
        "native", description="native (the Rust extension; python when it is missing) or python"
    )

    # enrichment
    profile: Profile = Field("default", description="output fields: default or ecs")
    key: str = Field("enrichment", description="default profile: the output object's key")
    message_fields: Annotated[tuple[str, ...], NoDecode] = Field(
        DEFAULT_MESSAGE_FIELDS,
        description="record fields holding the log line, first string wins (dotted paths)",
    )
    max_message_bytes: int = Field(
        DEFAULT_MAX_MESSAGE_BYTES, ge=64, description="bytes of a message examined"
    )

    # limits and load shedding
    max_body_bytes: int = Field(16 * MiB, ge=1024, description="request body bytes (then 413)")
    max_decompressed_bytes: int = Field(64 * MiB, ge=1024, description="decompressed body bytes (then 413)")
    max_records: int = Field(100_000, ge=1, description="records in one batch (then 413)")
    # the work is CPU-bound: more requests in progress only add latency
    max_pending: int = Field(8, ge=1, description="requests decoding or enriching at once before 503")
    max_buffered_bytes: int = Field(
        128 * MiB,
        ge=1024,
        description="body bytes held at once over all requests, received and decompressed, before 503",
    )
    retry_after: int = Field(1, ge=1, description="seconds, in Retry-After on 503")
    body_timeout: float = Field(
        30.0, gt=0, description="seconds a client may take to send its body (then 408)"
    )

    # auth
    token: SecretStr | None = Field(
        None, description="require 'Authorization: Bearer TOKEN' (prefer LOGENRICH_TOKEN)"
    )
    protect_metrics: bool = Field(False, description="put /metrics behind the token too")

    # relay mode (/v1/forward): the default downstream
    forward_url: Url | None = Field(None, description="relay mode: the default downstream's URL")
    forward_format: DownstreamFormat = Field("json", description="what the default downstream receives")
    forward_token: SecretStr | None = Field(
        None, description="bearer token for the default downstream (prefer the env variable)"
    )
    forward_timeout: ForwardTimeout = 30.0
    forward_compression: Compression | None = Field(
        None, description="none or gzip (default: gzip for loki, none otherwise)"
    )
    forward_verify_tls: bool = Field(True, description="verify the default downstream's TLS certificate")
    forward_index: str = Field(DEFAULT_INDEX, description="elasticsearch: data stream or index")
    forward_labels: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description="loki: static labels, k=v"
    )
    downstreams_file: Path | None = Field(
        None, description="named downstreams (TOML), served at /v1/forward/NAME"
    )
    probe_interval: float = Field(5.0, ge=0, description="seconds between downstream reachability checks")

    # the sample of unclassified messages (per process; off by default)
    sample_unclassified: int = Field(
        0,
        ge=0,
        le=10_000,
        description="keep a per-process sample of unclassified messages in up to N templates, at "
        "/v1/unclassified and in logenrich_unclassified_records_total (0: off)",
    )
    sample_unclassified_examples: int = Field(
        3, ge=0, le=3, description="example lines kept per sampled template (0: templates only)"
    )

    # the service's own log
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="the service's log level"
    )
    access_log: bool = Field(True, description="one JSON log line per request")

    @model_validator(mode="after")
    def _one_body_fits(self) -> "Settings":
        if self.max_buffered_bytes < self.max_body_bytes:
            raise ValueError("max_buffered_bytes must be at least max_body_bytes, or a full body never fits")
        if self.token is not None and not self.token.get_secret_value().strip():
            raise ValueError("token is empty: set a real token, or leave it unset for no auth")
        return self

    @field_validator("rules", "message_fields", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("forward_labels", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            pairs = [str(part).split("=", 1) for part in value]
            if any(len(pair) != 2 for pair in pairs):
                raise ValueError("labels are k=v pairs")
            return {k.strip(): v.strip() for k, v in pairs}
        return value

    @property
    def limits(self) -> Limits:
        return Limits(self.max_body_bytes, self.max_decompressed_bytes, self.max_records)

    @property
    def enrich_options(self) -> EnrichOptions:
        return EnrichOptions(self.profile, self.key, self.message_fields, self.max_message_bytes)

    def downstreams(self) -> tuple[dict[str, Downstream], str | None]:
        """Named downstreams from the settings file, plus `default` from --forward-url."""
        named: dict[str, Downstream] = {}
        default: str | None = None
        if self.downstreams_file is not None:
            named, default = load_downstreams(self.downstreams_file)
        if self.forward_url is not None:
            compression = self.forward_compression or ("gzip" if self.forward_format == "loki" else "none")
            named["default"] = Downstream(
                name="default",
                url=self.forward_url,
                format=self.forward_format,
                token=self.forward_token,
                timeout=self.forward_timeout,
                compression=compression,
                verify_tls=self.forward_verify_tls,
                index=self.forward_index,
                labels=self.forward_labels,
            )
            default = default or "default"
        return named, default

    def for_workers(self) -> str:
        """These settings as JSON, secrets included, for worker processes (`from_workers`)."""
        values = self.model_dump(mode="json")
        for name in ("token", "forward_token"):
            secret = getattr(self, name)
            if secret is not None:
                values[name] = secret.get_secret_value()
        return orjson.dumps(values).decode()

    @classmethod
    def from_environment(cls) -> "Settings":
        """A worker's settings: the serving process's, when it handed them over; else the
        LOGENRICH_* variables."""
        handed = os.environ.get(WORKER_SETTINGS)
        if handed:
            return cls(**orjson.loads(handed))
        return cls()
