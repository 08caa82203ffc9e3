"""What the app builds at startup and hands to requests through the lifespan state."""

import logging
import os
from dataclasses import dataclass, field

import anyio

from app.admission import Admission, BodyBudget
from app.metrics import Metrics
from app.relay.forwarder import Forwarder
from app.sampling import UnclassifiedSample
from app.settings import Settings
from app.tables import ReloadOutcome, TableHolder

log = logging.getLogger("logenrich")


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity: taskset, a container's cpuset)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class Service:
    settings: Settings
    tables: TableHolder
    metrics: Metrics
    admission: Admission
    bodies: BodyBudget
    # every batch runs in a worker thread (the native engine releases the GIL for the whole
    # batch); as many at once as the process has cores: more would only take turns on a core,
    # each evicting the other's tables from its caches, and every batch would finish later
    cpu: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(usable_cores()))
    shutting_down: bool = False
    forwarder: Forwarder | None = None
    # downstream name -> why it was unreachable at the last check (None: reachable)
    downstream_errors: dict[str, str | None] = field(default_factory=dict)
    # --sample-unclassified: the templates of what no rule classified (None: off)
    sample: UnclassifiedSample | None = None

    async def reload(self, trigger: str) -> ReloadOutcome:
        """Load, check and build the table again off the event loop; swap only when it worked."""
        outcome = await anyio.to_thread.run_sync(self.tables.reload, trigger)
        self.metrics.reloads.labels("success" if outcome.ok else "failure", trigger).inc()
        if outcome.ok:
            self.metrics.set_table(self.tables.current)
            if self.sample is not None:  # what the old table left unclassified is history now
                self.sample.reset()
                self.metrics.unclassified.clear()
            log.info("rule table loaded", extra={"trigger": trigger, "table": outcome.version})
        else:
            log.error(
                "rule table refused; the old one keeps serving",
                extra={"trigger": trigger, "error": outcome.error},
            )
        return outcome
