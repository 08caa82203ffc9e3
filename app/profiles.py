"""The output profiles, as data: which object of a record each enrichment value goes into.

One definition serves every writer: the Python engine (``app.enrich``), the native engine (which
receives it with the table) and the VRL export. A record's decision supplies the values
(``Value``); a profile lists the objects it writes (``Target``), each with its keys (``Slot``).

    default   one object under the output key (default ``enrichment``), replaced whole on every
              enrichment; a record whose output key holds a non-object passes through untouched
    ecs       Elastic Common Schema: ``rule.*``, ``event.severity`` / ``event.reference``,
              ``log.level`` / ``log.logger`` / ``log.origin.file.*`` (kept when already there),
              and the rest under ``logenrich.*``; merged into objects that already exist, created
              when absent; a path that holds a non-object is left alone

A value that is absent for a record (no rule, no level, no source…) writes no key.
"""

from dataclasses import dataclass
from typing import Final, Literal

from app.constraints import Profile

Value = Literal[
    "classification",  # the rule's id, or "unclassified"
    "title",
    "category",
    "severity",  # the adjusted severity; the logged one when no rule matched
    "syslog_severity",  # the same as an RFC 5424 number
    "level",  # the logged severity, normalised
    "doc_url",
    "summary",
    "action",
    "fields",  # the values the rule extracted
    "source",  # the parsed prefix
    "source_logger",
    "source_file",
    "source_line",
    "ruleset",
    "ruleset_version",
]
VALUES: Final[tuple[Value, ...]] = Value.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Slot:
    key: str
    value: Value
    keep_existing: bool = False  # a value already at this key stays (ECS `log.level`)


@dataclass(frozen=True, slots=True)
class Target:
    """An object of the record the profile writes into."""

    path: tuple[str, ...]  # from the record's root; parents are created when absent
    slots: tuple[Slot, ...]
    replace: bool = False  # True: a new object replaces the old; False: merged into it
    needs: tuple[Value, ...] = ()  # written only when one of these has a value (empty: always)


@dataclass(frozen=True, slots=True)
class ProfileSpec:
    name: Profile
    targets: tuple[Target, ...]
    # a record whose value at this key is not an object passes through unchanged (default profile)
    guard_key: str | None = None

    @property
    def owned(self) -> tuple[str, ...]:
        """The top-level keys the profile writes."""
        return tuple(dict.fromkeys(target.path[0] for target in self.targets))


def _slots(*pairs: tuple[str, Value] | tuple[str, Value, bool]) -> tuple[Slot, ...]:
    return tuple(Slot(*pair) for pair in pairs)


def default_profile(key: str = "enrichment") -> ProfileSpec:
    slots = _slots(
        ("classification", "classification"),
        ("title", "title"),
        ("category", "category"),
        ("severity", "severity"),
        ("original_severity", "level"),
        ("doc_url", "doc_url"),
        ("summary", "summary"),
        ("action", "action"),
        ("fields", "fields"),
        ("source", "source"),
        ("ruleset", "ruleset"),
        ("ruleset_version", "ruleset_version"),
    )
    return ProfileSpec("default", (Target((key,), slots, replace=True),), guard_key=key)


ECS: Final = ProfileSpec(
    "ecs",
    (
        Target(
            ("rule",),
            _slots(
                ("id", "classification"),
                ("name", "title"),
                ("category", "category"),
                ("reference", "doc_url"),
                ("description", "summary"),
                ("ruleset", "ruleset"),
                ("version", "ruleset_version"),
            ),
        ),
        Target(
            ("event",),
            _slots(("severity", "syslog_severity"), ("reference", "doc_url")),
            needs=("syslog_severity", "doc_url"),
        ),
        Target(
            ("log",),
            _slots(("level", "level", True), ("logger", "source_logger", True)),
            needs=("level", "source"),
        ),
        Target(
            ("log", "origin", "file"),
            _slots(("name", "source_file", True), ("line", "source_line", True)),
            needs=("source_file",),
        ),
        Target(
            ("logenrich",),
            _slots(
                ("severity", "severity"),
                ("original_severity", "level"),
                ("category", "category"),
                ("action", "action"),
                ("fields", "fields"),
                ("source", "source"),
            ),
        ),
    ),
)


def profile_spec(profile: Profile, key: str = "enrichment") -> ProfileSpec:
    return default_profile(key) if profile == "default" else ECS
