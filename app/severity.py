"""Severity words, their order, and the normalisation of logged levels.

Every level the JupyterHub family writes (``W``, ``WARNING``, ``warn``, ``Warning``…) maps to one of
five words: debug, info, warning, error, critical.
"""

from typing import Final, Literal, get_args

Severity = Literal["debug", "info", "warning", "error", "critical"]

SEVERITIES: Final[tuple[Severity, ...]] = get_args(Severity)
RANK: Final[dict[str, int]] = {word: rank for rank, word in enumerate(SEVERITIES)}

# syslog numbers (RFC 5424) for ECS `event.severity`
SYSLOG: Final[dict[str, int]] = {"debug": 7, "info": 6, "warning": 4, "error": 3, "critical": 2}

# every level word and letter the family writes, lower-cased, and its severity
LEVEL_WORDS: Final[dict[str, Severity]] = {
    "d": "debug",
    "debug": "debug",
    "trace": "debug",
    "i": "info",
    "info": "info",
    "notice": "info",
    "w": "warning",
    "warn": "warning",
    "warning": "warning",
    "e": "error",
    "err": "error",
    "error": "error",
    "c": "critical",
    "crit": "critical",
    "critical": "critical",
    "f": "critical",
    "fatal": "critical",
    "alert": "critical",
    "emerg": "critical",
    "emergency": "critical",
}


def normalise_level(level: str) -> Severity | None:
    """Map a logged level (letter or word, any case) to a severity word; None when unknown."""
    return LEVEL_WORDS.get(level.strip().lower())
