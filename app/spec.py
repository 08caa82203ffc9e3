"""Rule-file models: what a TOML ruleset may say, parsed into frozen, typed values.

A ruleset file has a ``[ruleset]`` header and ``[[rules]]``; see the top of ``app/rules/10-hub.toml``
for a documented example of every key.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.constraints import (
    Adjust,
    Category,
    Conversion,
    FieldName,
    HttpsUrl,
    NonEmpty,
    OneLine,
    RuleId,
    RulesetName,
    Token,
)
from app.severity import Severity

FieldValue = str | int | float


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Example(Frozen):
    """A line the rule must classify, and what it must yield."""

    line: NonEmpty
    severity: Severity | None = None
    fields: dict[FieldName, FieldValue] | None = None


class VersionBoundary(Frozen):
    """Holds when two extracted versions lie on different sides of a breaking release."""

    kind: Literal["version-boundary"]
    fields: tuple[FieldName, FieldName]
    boundaries: tuple[NonEmpty, ...] = Field(min_length=1)
    severity: Severity


class NumberRange(Frozen):
    """Holds when a numeric field lies in [min, max]."""

    kind: Literal["range"]
    field: FieldName
    min: float | None = None
    max: float | None = None
    severity: Severity


Condition = Annotated[VersionBoundary | NumberRange, Field(discriminator="kind")]


class Derive(Frozen):
    """Extract more fields by searching an already extracted one with another pattern."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    source: FieldName = Field(alias="from")
    pattern: NonEmpty


class RuleSpec(Frozen):
    id: RuleId
    title: OneLine
    pattern: NonEmpty
    # filters on the parsed prefix; None means any
    loggers: tuple[NonEmpty, ...] | None = None
    levels: tuple[Severity, ...] | None = None
    formats: tuple[NonEmpty, ...] | None = None
    # adjusted severity: "keep" keeps the logged level; adjust "cap"/"floor" bound it instead of setting it
    severity: Literal[Severity, "keep"]
    adjust: Adjust = "set"
    conditions: tuple[Condition, ...] = ()
    category: Category
    doc_url: NonEmpty
    summary: OneLine
    action: OneLine
    convert: dict[FieldName, Conversion] = Field(default_factory=dict)
    derive: tuple[Derive, ...] = ()
    priority: int = 0
    examples: tuple[Example, ...] = Field(min_length=1)
    rejects: tuple[NonEmpty, ...] = ()

    @model_validator(mode="after")
    def _keep_is_set(self) -> "RuleSpec":
        if self.severity == "keep" and self.adjust != "set":
            raise ValueError('severity "keep" cannot be combined with adjust "cap" or "floor"')
        return self


class RulesetHeader(Frozen):
    name: RulesetName
    version: Token
    doc_base: HttpsUrl
    description: str = ""


class RulesetSpec(Frozen):
    ruleset: RulesetHeader
    rules: tuple[RuleSpec, ...] = Field(min_length=1)
