"""Constrained types shared by the rule-file models and the settings."""

from typing import Annotated, Literal

from pydantic import StringConstraints

# `jupyterhub.proxy.not-running-server`: dotted, lower-case, kebab words.
RuleId = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*(?:\.[a-z0-9]+(?:[-_][a-z0-9]+)*)+$")
]
RulesetName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")]
# A capture-group / output field name: also a valid VRL path segment and Python group name.
FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
OneLine = Annotated[str, StringConstraints(min_length=1, max_length=400, pattern=r"^[^\n\r]+$")]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]
Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]

Category = Literal["benign", "actionable", "misconfiguration", "failure", "security"]
CATEGORIES: tuple[Category, ...] = ("benign", "actionable", "misconfiguration", "failure", "security")

Profile = Literal["default", "ecs"]
Conversion = Literal["str", "int", "float", "urldecode"]
Adjust = Literal["set", "cap", "floor"]
