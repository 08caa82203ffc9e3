"""The regular expressions the Python engine runs.

When the native extension is there, each pattern is first written back by it in Python's
syntax with every class spelt out (``\\w``, ``\\s``, ``\\b``, ``.``…), so that Python's ``re``
matches exactly what the Rust ``regex`` crate (the native engine, and Vector's VRL) matches; the
two engines then agree on every character. Without the extension Python reads the pattern as it
is; the engines differ only on some non-ASCII characters then (docs/design.md, "Engines").
"""

import functools
import importlib
import re
from types import ModuleType

from app.patterns import group_names


@functools.cache
def extension() -> ModuleType | None:
    """The native extension module, or None when it cannot be imported."""
    try:
        return importlib.import_module("app._native")
    except ImportError:
        return None


def pattern_problem(pattern: str) -> str | None:
    """Why the native engine cannot compile the pattern; None when it can (or is absent)."""
    native = extension()
    if native is None:
        return None
    problem: str | None = native.pattern_problem(pattern)
    return problem


@functools.cache
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The pattern as the Python engine runs it (search semantics, as written)."""
    native = extension()
    if native is None:
        return re.compile(pattern)
    return re.compile(native.python_pattern(pattern))


class LazyPattern:
    """A rule's pattern for the Python engine, compiled the first time that engine uses it.
    When the native engine serves it never is: a translated pattern spells every class out, and
    Python's compiler takes milliseconds over each (seconds for the built-in table)."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._compiled: re.Pattern[str] | None = None

    @property
    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = compile_pattern(self.pattern)
        return self._compiled

    def search(self, text: str) -> re.Match[str] | None:
        return self.compiled.search(text)

    @property
    def names(self) -> frozenset[str]:
        """The names of the pattern's groups (read by Python's parser, nothing compiled)."""
        return group_names(self.pattern)

    def __repr__(self) -> str:
        return f"LazyPattern({self.pattern!r})"
