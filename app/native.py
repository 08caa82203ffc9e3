"""The native engine: the Rust extension ``app._native`` (crate ``native/``), one call per batch.

Python compiles the table (rule models, checks, guards, gates, precedence) and hands it to Rust
as data once per table; a batch is then one call, body bytes in, answer bytes out, with the GIL
released. When the extension cannot be imported the service runs on ``app.engine.PythonEngine``.
"""

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.compiler import Table
    from app.engine import Engine
    from app.enrich import EnrichOptions


def _module() -> ModuleType | None:
    try:
        return importlib.import_module("app._native")
    except ImportError:
        return None


def native_available() -> bool:
    return _module() is not None


def load(table: "Table", options: "EnrichOptions | None") -> "Engine | None":
    """The table on the native engine; None when the extension cannot be imported."""
    if _module() is None:
        return None
    raise NotImplementedError("the native engine is built in a later change")
