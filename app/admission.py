"""Load shedding: how many requests work at once, and how many body bytes they hold.

A request that cannot have a place or bytes is refused at once (503 with Retry-After: the
shipper keeps the batch and sends it again) instead of queueing until the shipper times out.

    Admission   at most `limit` requests receive, decode or enrich at once
    Place       one request's hold on the admission: out, in a place, or set aside
    BodyBudget  bytes of bodies held at once, compressed as received and decompressed
"""

import threading


class Admission:
    """At most `limit` requests hold a place. A request still receiving its body after a grace
    period is set aside (see `Place`): it gives its place back and waits among at most
    `slow_limit` slow ones, then needs a free place again once its body is in. A few slow
    senders therefore cannot hold every place."""

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

    def set_aside(self) -> bool:
        """Give the place back while the body trickles in; False when the set-aside pool is
        full (the caller then refuses the request: a sender that cannot be set aside must not
        keep a place either)."""
        admission = self.admission
        if self.state != "in":
            return self.state == "aside"
        if admission.slow >= admission.slow_limit:
            return False
        admission.leave()
        admission.slow += 1
        self.state = "aside"
        return True

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
    """Bytes of request bodies held at once over all requests: as received, and once more as
    decompressed. Past `limit` the request gets 503, so that many senders together cannot run
    the service out of memory. Thread-safe: decompressed bytes are taken in worker threads."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        with self._lock:
            if self.held + size > self.limit:
                return False
            self.held += size
            return True

    def give_back(self, size: int) -> None:
        with self._lock:
            self.held -= size
