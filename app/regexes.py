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
