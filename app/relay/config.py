"""Downstreams: where /v1/forward delivers. The default one comes from the settings
(``--forward-url`` …); named ones from a TOML settings file:

    default = "es"                      # optional: which named one /v1/forward uses

    [downstreams.es]
    url = "https://elasticsearch:9200"
    format = "elasticsearch"            # json | ndjson | elasticsearch | loki
    index = "logs-jupyterhub-default"   # a data stream (create actions) or an index
    dead_letter_index = "logenrich-dead-letter"
    username = "logenrich"
    password_env = "ES_PASSWORD"        # secrets come from the environment, not the file

    [downstreams.loki]
    url = "http://loki:3100/loki/api/v1/push"
    format = "loki"
    labels = { job = "jupyterhub", cluster = "prod" }
"""

import os
import tomllib
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from app.constraints import (
    DEFAULT_DEAD_LETTER_INDEX,
    DEFAULT_INDEX,
    Compression,
    DownstreamFormat,
    ForwardTimeout,
    LokiLine,
    Url,
)
from app.errors import SettingsError


class Downstream(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    url: Url
    format: DownstreamFormat = "json"
    timeout: ForwardTimeout = 30.0
    compression: Compression = "none"
    verify_tls: bool = True
    headers: dict[str, str] = Field(default_factory=dict)
    # auth: a bearer token, an Elasticsearch API key, or basic auth
    token: SecretStr | None = None
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    # elasticsearch
    index: str = DEFAULT_INDEX
    dead_letter_index: str = DEFAULT_DEAD_LETTER_INDEX
    # loki
    labels: dict[str, str] = Field(default_factory=dict)
    line: LokiLine = "json"

    @field_validator("labels")
    @classmethod
    def _label_names(cls, labels: dict[str, str]) -> dict[str, str]:
        for key in labels:
            if not key.replace("_", "a").isalnum() or key[0].isdigit():
                raise ValueError(f"Loki label name {key!r} must match [a-zA-Z_][a-zA-Z0-9_]*")
        return labels

    @model_validator(mode="after")
    def _one_auth(self) -> "Downstream":
        given = [self.token is not None, self.api_key is not None, self.username is not None]
        if sum(given) > 1:
            raise ValueError("set at most one of token, api_key, username/password")
        return self

    @property
    def auth_headers(self) -> dict[str, str]:
        if self.token is not None:
            return {"Authorization": f"Bearer {self.token.get_secret_value()}"}
        if self.api_key is not None:
            return {"Authorization": f"ApiKey {self.api_key.get_secret_value()}"}
        return {}

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        if self.username is None:
            return None
        return self.username, self.password.get_secret_value() if self.password else ""


def _resolve_env(table: dict[str, object], where: str) -> dict[str, object]:
    """`<secret>_env = "VAR"` reads the secret from the environment."""
    out = dict(table)
    for key in list(out):
        if key.endswith("_env"):
            variable = out.pop(key)
            if not isinstance(variable, str) or variable not in os.environ:
                raise SettingsError(f"{where}: {key} names the variable {variable!r}, which is not set")
            out[key.removesuffix("_env")] = os.environ[variable]
    return out


def load_downstreams(path: Path) -> tuple[dict[str, Downstream], str | None]:
    """The named downstreams of a settings file, and the name of the default one (if it says)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: {exc}") from exc
    unknown = set(data) - {"default", "downstreams"}
    if unknown:
        raise SettingsError(
            f"{path}: unknown keys {sorted(unknown)} (expected default and [downstreams.NAME])"
        )
    tables = data.get("downstreams", {})
    if not isinstance(tables, dict):
        raise SettingsError(f"{path}: [downstreams.NAME] tables expected")
    out: dict[str, Downstream] = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise SettingsError(f"{path}: downstreams.{name} must be a table")
        try:
            settings = _resolve_env(table, f"{path}: downstreams.{name}")
            out[name] = Downstream.model_validate({"name": name, **settings})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise SettingsError(f"{path}: downstreams.{name}: {problems}") from exc
    default = data.get("default")
    if default is not None and default not in out:
        raise SettingsError(f"{path}: default = {default!r} names no downstream")
    return out, default if isinstance(default, str) else None
