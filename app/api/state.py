"""What the app builds at startup and hands to requests through the lifespan state."""

from dataclasses import dataclass, field

import anyio

from app.metrics import Metrics
from app.relay.forwarder import Forwarder
from app.settings import Settings
from app.tables import TableHolder


class Admission:
    """Load shedding: at most `limit` requests decode or enrich at once; the rest get 503 at once
    instead of queueing until the shipper's timeout."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    def try_enter(self) -> bool:
        if self.in_flight >= self.limit:
            return False
        self.in_flight += 1
        return True

    def leave(self) -> None:
        self.in_flight -= 1


@dataclass
class Service:
    settings: Settings
    tables: TableHolder
    metrics: Metrics
    admission: Admission
    # CPU-bound work runs in worker threads so the event loop keeps answering /healthz;
    # two threads are enough to overlap I/O with work without GIL thrashing.
    cpu: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(2))
    shutting_down: bool = False
    forwarder: Forwarder | None = None
    # downstream name -> why it was unreachable at the last check (None: reachable)
    downstream_errors: dict[str, str | None] = field(default_factory=dict)
