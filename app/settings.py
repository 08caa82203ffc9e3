"""The one settings object. Every field is also a ``LOGENRICH_<NAME>`` environment variable and a
``logenrich serve --<name>`` flag; lists are comma-separated in the environment."""

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.codecs import Limits
from app.constraints import Profile
from app.enrich import DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MESSAGE_FIELDS, EnrichOptions

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
    max_pending: int = Field(32, ge=1, description="requests decoding or enriching at once before 503")
    retry_after: int = Field(1, ge=1, description="seconds, in Retry-After on 429/503")

    # auth
    token: SecretStr | None = None
    protect_metrics: bool = False

    # the service's own log
    log_level: str = "info"
    access_log: bool = True

    @field_validator("rules", "message_fields", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @property
    def limits(self) -> Limits:
        return Limits(self.max_body_bytes, self.max_decompressed_bytes, self.max_records)

    @property
    def enrich_options(self) -> EnrichOptions:
        return EnrichOptions(self.profile, self.key, self.message_fields, self.max_message_bytes)
