"""Prometheus metrics of the service. One ``Metrics`` per app, on its own registry, so tests can
build as many apps as they like. With several worker processes (``--workers``) the values live in
``PROMETHEUS_MULTIPROC_DIR`` and ``render`` sums them over the workers."""

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from app.batch import PASSTHROUGH, Counts
from app.engine import Engine

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg = None if multiprocess() else self.registry
        self.records = Counter(
            "logenrich_records_total",
            "Records enriched, by classification, category and adjusted severity.",
            ["classification", "category", "severity"],
            registry=reg,
        )
        self.passthrough = Counter(
            "logenrich_passthrough_records_total",
            "Records passed through unchanged: not an object, no string message, or a non-object output key.",
            registry=reg,
        )
        self.batches = Counter(
            "logenrich_batches_total",
            "Batches decoded, by framing and encoding.",
            ["format", "encoding"],
            registry=reg,
        )
        self.bytes = Counter(
            "logenrich_request_bytes_total",
            "Request body bytes as received, by framing and encoding.",
            ["format", "encoding"],
            registry=reg,
        )
        self.latency = Histogram(
            "logenrich_request_duration_seconds",
            "Time to answer, by endpoint and status class.",
            ["endpoint", "status"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.decode_errors = Counter(
            "logenrich_decode_errors_total",
            "Requests refused by the decoder, by kind.",
            ["kind"],
            registry=reg,
        )
        self.rejected = Counter(
            "logenrich_rejected_requests_total",
            "Requests refused before decoding, by reason (auth, overload, body_timeout).",
            ["reason"],
            registry=reg,
        )
        self.table_info = Gauge(
            "logenrich_table_info",
            "The loaded rule table (value 1), labelled with its version and the engine that runs it.",
            ["version", "engine"],
            registry=reg,
            multiprocess_mode="mostrecent",
        )
        self.table_rules = Gauge(
            "logenrich_table_rules",
            "Rules in the loaded table.",
            registry=reg,
            multiprocess_mode="mostrecent",
        )
        self.reloads = Counter(
            "logenrich_table_reloads_total",
            "Rule table reloads, by result and trigger.",
            ["result", "trigger"],
            registry=reg,
        )

        self.unclassified = Counter(
            "logenrich_unclassified_records_total",
            "Unclassified records by template of this process's sample (--sample-unclassified): a short "
            "hash of the template, as /v1/unclassified shows it; 'other' past the bound or not sampled.",
            ["template"],
            registry=reg,
        )

        self.forwards = Counter(
            "logenrich_forward_requests_total",
            "Batches sent downstream, by downstream and outcome (ok, retryable, rejected).",
            ["downstream", "outcome"],
            registry=reg,
        )
        self.forwarded = Counter(
            "logenrich_forward_records_total",
            "Records delivered downstream, by downstream and result (delivered, dead_lettered).",
            ["downstream", "result"],
            registry=reg,
        )
        self.forward_latency = Histogram(
            "logenrich_forward_duration_seconds",
            "Time the downstream took to answer, by downstream.",
            ["downstream"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.downstream_up = Gauge(
            "logenrich_downstream_up",
            "1 when the downstream accepted a TCP connection at the last check.",
            ["downstream"],
            registry=reg,
            multiprocess_mode="mostrecent",
        )

    def set_table(self, engine: Engine) -> None:
        self.table_info.clear()
        self.table_info.labels(engine.table.version, engine.name).set(1)
        self.table_rules.set(len(engine.table.rules))

    def count_results(self, counts: Counts) -> None:
        """Count a batch's records: one increment per distinct label set, not one per record."""
        for key, count in counts.items():
            if key == PASSTHROUGH:
                self.passthrough.inc(count)
            else:
                self.records.labels(*key).inc(count)

    def render(self) -> bytes:
        if multiprocess():
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
