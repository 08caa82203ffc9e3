"""Constrained types shared by the rule-file models and the settings."""

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

# `jupyterhub.proxy.not-running-server`: dotted, lower-case, kebab words.
RuleId = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*(?:\.[a-z0-9]+(?:[-_][a-z0-9]+)*)+$")
]
RulesetName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")]
# A capture-group / output field name: also a valid VRL path segment and Python group name.
FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
OneLine = Annotated[str, StringConstraints(min_length=1, max_length=400, pattern=r"^[^\n\r]+$")]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]
# where the service sends batches: any http(s) URL
URL_PATTERN = r"^https?://\S+$"
Url = Annotated[str, StringConstraints(pattern=URL_PATTERN)]
# where a person is sent to read more: https only, so a link in a record or on the page can never
# be `javascript:` or a plain-text hop
HTTPS_LINK_PATTERN = r"^https://[^\s\x00-\x1f\x7f]+$"
HttpsUrl = Annotated[str, StringConstraints(pattern=HTTPS_LINK_PATTERN)]
# a ruleset's version: a plain token that a response header, a metric label and a VRL string all carry
Token = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$")]

Category = Literal["benign", "actionable", "misconfiguration", "failure", "security"]

Profile = Literal["default", "ecs"]

# relay mode: what a downstream receives, how, and how long it may take to answer
DownstreamFormat = Literal["json", "ndjson", "elasticsearch", "loki"]
Compression = Literal["none", "gzip"]
LokiLine = Literal["json", "message"]
ForwardTimeout = Annotated[float, Field(gt=0, lt=60, description="seconds; below the shippers' 60 s")]
DEFAULT_INDEX = "logs-jupyterhub-default"
DEFAULT_DEAD_LETTER_INDEX = "logenrich-dead-letter"
Conversion = Literal["str", "int", "float", "urldecode"]
Adjust = Literal["set", "cap", "floor"]
