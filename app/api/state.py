"""What the app builds at startup and hands to requests through the lifespan state."""

from dataclasses import dataclass, field

import anyio

from app.metrics import Metrics
from app.relay.forwarder import Forwarder
from app.settings import Settings
from app.tables import TableHolder


class Admission:
    """Load shedding: at most `limit` requests receive, decode or enrich their batch at once; the
    rest get 503 at once instead of queueing until the shipper's timeout.

    A request still receiving its body after a grace period is set aside (see `Place`): it gives
    its place back and waits among at most `slow_limit` slow ones, then needs a free place again
    once its body is in. A few slow senders therefore cannot hold every place."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.slow_limit = 8 * limit
        self.in_flight = 0
        self.slow = 0

    def try_enter(self) -> bool:
        if self.in_flight >= self.limit:
            return False
        self.in_flight += 1
        return True

    def leave(self) -> None:
        self.in_flight -= 1


class Place:
    """One request's hold on the admission: out, in a place, or set aside."""

    def __init__(self, admission: Admission) -> None:
        self.admission = admission
        self.state = "out"

    def enter(self) -> bool:
        if self.admission.try_enter():
            self.state = "in"
        return self.state == "in"

    def set_aside(self) -> None:
        admission = self.admission
        if self.state == "in" and admission.slow < admission.slow_limit:
            admission.leave()
            admission.slow += 1
            self.state = "aside"

    def come_back(self) -> bool:
        """True when the request holds a place (again); a set-aside one finding none is out."""
        if self.state == "aside":
            self.admission.slow -= 1
            self.state = "out"
            self.enter()
        return self.state == "in"

    def release(self) -> None:
        if self.state == "in":
            self.admission.leave()
        elif self.state == "aside":
            self.admission.slow -= 1
        self.state = "out"


class BodyBudget:
    """Bytes of request bodies held at once, received or on their way in: past `limit` the
    request gets 503, so that many senders together cannot run the service out of memory."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def take(self, size: int) -> bool:
        if self.held + size > self.limit:
            return False
        self.held += size
        return True

    def give_back(self, size: int) -> None:
        self.held -= size


@dataclass
class Service:
    settings: Settings
    tables: TableHolder
    metrics: Metrics
    admission: Admission
    bodies: BodyBudget
    # CPU-bound work runs in worker threads so the event loop keeps answering /healthz;
    # two threads are enough to overlap I/O with work without GIL thrashing.
    cpu: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(2))
    shutting_down: bool = False
    forwarder: Forwarder | None = None
    # downstream name -> why it was unreachable at the last check (None: reachable)
    downstream_errors: dict[str, str | None] = field(default_factory=dict)
