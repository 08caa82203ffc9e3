"""The service's sample of unclassified messages (``serve --sample-unclassified N``): templates
mined from the records no rule classified, bounded, per process.

    sample = UnclassifiedSample(templates=200, examples=3, options=..., limits=...)
    sample.start()
    sample.offer(body, content_type, content_encoding, outcomes)   # after a batch; never blocks
    sample.as_json(); sample.templates()                            # what /v1/unclassified shows
    sample.close()

A batch is offered after the engine has answered it, with the outcome byte of each record; a
thread of its own reads the body again, takes the messages of the unclassified records and
feeds them to a ``Miner`` under a lock. The request never waits for it: when ``QUEUE_BATCHES``
batches are waiting already the batch is not sampled and its unclassified records are counted
under ``other``. A table reload starts the sample again (``reset``). Memory: the waiting
bodies (at most ``QUEUE_BATCHES`` request bodies), and the miner's templates, each at most
``max_tokens`` tokens and ``examples`` lines of at most the message byte cap.
"""

import copy
import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, Final

from app.batch import OUTCOME_UNCLASSIFIED, Limits
from app.codecs import decode_records, decompress, request_kind
from app.enrich import EnrichOptions
from app.errors import CodecError
from app.mining import Miner, Template, unclassified_messages

log = logging.getLogger("logenrich")

QUEUE_BATCHES: Final = 2
OTHER: Final = "other"

# (template key or "other", records) for the per-template metric
Count = Callable[[str, int], None]
_Batch = tuple[bytes, str | None, str | None, bytes]


class UnclassifiedSample:
    def __init__(
        self,
        templates: int,
        examples: int,
        options: EnrichOptions,
        limits: Limits,
        count: Count | None = None,
    ) -> None:
        self.bound = templates
        self.examples = examples
        self.options = options
        self.limits = limits
        self._count = count or (lambda key, n: None)
        self._miner = Miner(max_templates=templates, max_examples=examples)
        self._lock = threading.Lock()
        self._queue: queue.Queue[_Batch | None] = queue.Queue(QUEUE_BATCHES)
        self._thread: threading.Thread | None = None
        self.unsampled = 0  # unclassified records of batches not sampled (the queue was full)
        self.batches = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="logenrich-sample", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is None:
            return
        while True:
            try:
                self._queue.put(None, timeout=0.1)
                break
            except queue.Full:
                if not self._thread.is_alive():
                    break
        self._thread.join(timeout=5)
        self._thread = None

    def offer(
        self, body: bytes, content_type: str | None, content_encoding: str | None, outcomes: bytes
    ) -> None:
        """Hand over a batch the engine answered; returns at once (the batch is sampled later,
        or not at all when the sampler is behind)."""
        if OUTCOME_UNCLASSIFIED not in outcomes:
            return
        try:
            self._queue.put_nowait((body, content_type, content_encoding, outcomes))
        except queue.Full:
            missed = outcomes.count(OUTCOME_UNCLASSIFIED)
            with self._lock:
                self.unsampled += missed
            self._count(OTHER, missed)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Whether every offered batch was fed within the timeout (tests and shutdown)."""
        done = threading.Event()

        def watch() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=watch, daemon=True).start()
        return done.wait(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self.feed(*item)
            except Exception:  # the sampler must never die, nor take a request with it
                log.exception("sampling a batch of unclassified records failed")
            finally:
                self._queue.task_done()

    def feed(
        self, body: bytes, content_type: str | None, content_encoding: str | None, outcomes: bytes
    ) -> None:
        """Read the batch again and add its unclassified records' messages (in this thread)."""
        try:
            data, _ = decompress(body, content_encoding, self.limits.max_decompressed_bytes)
            decoded = decode_records(data, request_kind(content_type), self.limits)
        except CodecError:
            return
        if len(decoded.records) != len(outcomes):
            return
        records = [
            record
            for record, outcome in zip(decoded.records, outcomes, strict=True)
            if outcome == OUTCOME_UNCLASSIFIED
        ]
        counted: dict[str, int] = {}
        with self._lock:
            self.batches += 1
            for message, line, level in unclassified_messages(records, self.options, decoded.from_bytes):
                template = self._miner.add(message, line, level)
                key = template.key if template is not None else OTHER
                counted[key] = counted.get(key, 0) + 1
        for key, number in counted.items():
            self._count(key, number)

    def reset(self) -> None:
        """Start again: a new table classifies differently, so what the old one left says
        nothing more (the service calls it after a reload)."""
        with self._lock:
            self._miner = Miner(max_templates=self.bound, max_examples=self.examples)
            self.unsampled = self.batches = 0

    def templates(self) -> list[Template]:
        """A copy of the templates, most frequent first (safe to read while feeding goes on)."""
        with self._lock:
            return copy.deepcopy(self._miner.templates())

    def as_json(self, limit: int | None = None) -> dict[str, Any]:
        with self._lock:
            body = self._miner.as_json(limit)
            unsampled, batches = self.unsampled, self.batches
        return {
            "scope": "process",
            "pid": os.getpid(),
            "note": "this process's sample only: each worker and pod keeps its own; the metric "
            "logenrich_unclassified_records_total sums across them",
            "bound": {"templates": self.bound, "examples": self.examples},
            "batches": batches,
            "unsampled": unsampled,
            **body,
        }
