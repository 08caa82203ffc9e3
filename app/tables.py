"""The live rule table of a running service: load, check, build its engine, swap atomically,
watch for changes.

A request takes ``holder.current`` once and uses that engine for its whole batch, so every
response comes from one whole table. A reload loads and checks the new table and builds its
engine off the request path (in a thread), and swaps the reference only when all of that worked;
a table that fails keeps the old one serving and records why.
"""

import hashlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from app.catalog import expand_paths, rule_paths
from app.check import load_table
from app.engine import Engine, EngineName, load_engine
from app.enrich import EnrichOptions
from app.errors import LogenrichError


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    ok: bool
    trigger: str
    at: float
    version: str
    error: str | None = None


class TableHolder:
    def __init__(
        self,
        paths: list[Path],
        builtin: bool,
        options: EnrichOptions,
        engine: EngineName,
        loaded: Engine | None = None,
    ) -> None:
        """`loaded`: the engine of these files already loaded and checked (serve loads the table
        before it binds, to refuse a broken one early), taken as it is."""
        self.paths = paths
        self.builtin = builtin
        self.options = options
        self.engine_name = engine
        self._lock = threading.Lock()
        self.current: Engine = loaded if loaded is not None else self._build()  # refuses a broken table
        self.fingerprint = self._fingerprint()
        self.last_reload: ReloadOutcome | None = None

    def _all_paths(self) -> list[Path]:
        return rule_paths(self.paths, builtin=self.builtin)

    def _build(self) -> Engine:
        return load_engine(load_table(self._all_paths()), self.options, self.engine_name)

    def _fingerprint(self) -> str:
        """A digest of every rule file's resolved path and content (ConfigMap updates swap a symlink)."""
        digest = hashlib.sha256()
        for path in expand_paths(self._all_paths()):
            try:
                digest.update(str(path.resolve()).encode())
                digest.update(path.read_bytes())
            except OSError as exc:
                digest.update(f"unreadable:{exc}".encode())
        return digest.hexdigest()

    def changed(self) -> bool:
        return self._fingerprint() != self.fingerprint

    def reload(self, trigger: str) -> ReloadOutcome:
        """Load and check the files again; swap on success, keep the old table on failure."""
        with self._lock:
            fingerprint = self._fingerprint()
            try:
                engine = self._build()
            except LogenrichError as exc:
                outcome = ReloadOutcome(False, trigger, time.time(), self.current.table.version, str(exc))
            else:
                self.current = engine
                outcome = ReloadOutcome(True, trigger, time.time(), engine.table.version)
            self.fingerprint = fingerprint
            self.last_reload = outcome
            return outcome
