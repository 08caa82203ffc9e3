"""The one settings object. Every field is also a ``LOGENRICH_<NAME>`` environment variable and a
``logenrich serve --<name>`` flag; lists are comma-separated in the environment."""

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.codecs import Limits
from app.constraints import Profile
from app.enrich import DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MESSAGE_FIELDS, EnrichOptions
from app.relay.config import Downstream, load_downstreams

MiB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOGENRICH_", frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)

    # the rule table
    rules: Annotated[tuple[Path, ...], NoDecode] = ()
    builtin: bool = True
    reload_interval: float = Field(
        5.0, ge=0, description="seconds between rule-file checks; 0 turns watching off"
    )

    # enrichment
    profile: Profile = "default"
    key: str = "enrichment"
    message_fields: Annotated[tuple[str, ...], NoDecode] = DEFAULT_MESSAGE_FIELDS
    max_message_bytes: int = Field(DEFAULT_MAX_MESSAGE_BYTES, ge=64)

    # limits and load shedding
    max_body_bytes: int = Field(16 * MiB, ge=1024)
    max_decompressed_bytes: int = Field(64 * MiB, ge=1024)
    max_records: int = Field(100_000, ge=1)
    # the work is CPU-bound on one event loop: more requests in progress only add latency
    max_pending: int = Field(8, ge=1, description="requests decoding or enriching at once before 503")
    max_buffered_bytes: int = Field(
        128 * MiB, ge=1024, description="request-body bytes held at once over all requests before 503"
    )
    retry_after: int = Field(1, ge=1, description="seconds, in Retry-After on 429/503")
    body_timeout: float = Field(
        30.0, gt=0, description="seconds a client may take to send its body (then 408)"
    )

    # auth
    token: SecretStr | None = None
    protect_metrics: bool = False

    # relay mode (/v1/forward)
    forward_url: str | None = Field(None, pattern=r"^https?://\S+$")
    forward_format: Literal["json", "ndjson", "elasticsearch", "loki"] = "json"
    forward_token: SecretStr | None = None
    forward_timeout: float = Field(30.0, gt=0, lt=60)
    forward_compression: Literal["none", "gzip"] | None = None  # default: gzip for loki, none otherwise
    forward_verify_tls: bool = True
    forward_index: str = "logs-jupyterhub-default"
    forward_labels: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    downstreams_file: Path | None = None
    probe_interval: float = Field(5.0, ge=0, description="seconds between downstream reachability checks")

    # the service's own log
    log_level: str = "info"
    access_log: bool = True

    @model_validator(mode="after")
    def _one_body_fits(self) -> "Settings":
        if self.max_buffered_bytes < self.max_body_bytes:
            raise ValueError("max_buffered_bytes must be at least max_body_bytes, or a full body never fits")
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
            pairs = [part.split("=", 1) for part in value.split(",") if part.strip()]
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
