"""The engines: one batch, decoded body bytes in, answer or downstream bytes out.

    engine = load_engine(table, options)            # native when the extension is there
    result = engine.run(data, kind, output, limits, received_ns)

``NativeEngine`` (``app.native``, the Rust extension) is the default; ``PythonEngine`` here is the
reference it is tested against and the fallback when the extension cannot be imported. Both take
the same table, options and profile, and give equal results (docs/design.md, "Engines").
"""

import json
from typing import Final, Literal, Protocol

from app.batch import (
    OUTCOME_CLASSIFIED,
    OUTCOME_PASSTHROUGH,
    OUTCOME_UNCLASSIFIED,
    Answer,
    BatchResult,
    Bulk,
    JsonLines,
    Kind,
    Limits,
    Loki,
    Output,
)
from app.codecs import (
    BOM,
    Decoded,
    answer_framing,
    decode_records,
    dumps,
    encode_answer,
    event_time_ns,
    json_records,
)
from app.compiler import Table
from app.enrich import Enricher, EnrichOptions, count_decisions
from app.relay.encoders import encode_bulk, encode_json_lines, encode_loki, record_ids, record_time_ns

EngineName = Literal["native", "python"]
_OUTCOMES: Final = {
    "passthrough": OUTCOME_PASSTHROUGH,
    "unclassified": OUTCOME_UNCLASSIFIED,
    "classified": OUTCOME_CLASSIFIED,
}


class Engine(Protocol):
    name: EngineName
    table: Table
    options: EnrichOptions

    def run(self, data: bytes, kind: Kind, output: Output, limits: Limits, received_ns: int) -> BatchResult:
        """Decode, enrich and encode one batch; CodecError when the body cannot be read."""
        ...


def _times(decoded: Decoded, received_ns: int) -> list[int]:
    envelopes = decoded.envelopes or [None] * len(decoded.records)
    return [
        record_time_ns(record) or event_time_ns(envelope) or received_ns
        for record, envelope in zip(decoded.records, envelopes, strict=True)
    ]


class PythonEngine:
    """The reference engine: plain Python over decoded records."""

    name: EngineName = "python"

    def __init__(self, table: Table, options: EnrichOptions | None = None) -> None:
        self.table = table
        self.enricher = Enricher(table, options)
        self.options = self.enricher.options

    def run(self, data: bytes, kind: Kind, output: Output, limits: Limits, received_ns: int) -> BatchResult:
        decoded = decode_records(data, kind, limits)
        loki_json = isinstance(output, Loki) and output.line == "json"
        originals = list(map(_original, json_records(decoded))) if loki_json else []
        decisions = self.enricher.enrich_batch(decoded.records, decoded.from_bytes)
        counts = count_decisions(decisions)
        outcomes = bytes(_OUTCOMES[decision.outcome] for decision in decisions)
        records = len(decoded.records)
        if isinstance(output, Answer):
            framing = answer_framing(output.prefer, decoded.framing)
            body = encode_answer(decoded, framing)
            return BatchResult(body, decoded.framing, framing, records, counts, outcomes)
        if isinstance(output, JsonLines):
            body = encode_json_lines(json_records(decoded), output.array)
            return BatchResult(body, decoded.framing, None, records, counts, outcomes)
        if isinstance(output, Bulk):
            raw = decoded.raw if len(decoded.raw) == records else _array_elements(data)
            ids = record_ids(raw)
            times = _times(decoded, received_ns)
            body, documents = encode_bulk(json_records(decoded), ids, output.index, times)
            return BatchResult(body, decoded.framing, None, records, counts, outcomes, tuple(ids), documents)
        lines = originals if loki_json else self._messages(decoded)
        body = encode_loki(lines, decisions, _times(decoded, received_ns), output.labels)
        return BatchResult(body, decoded.framing, None, records, counts, outcomes)

    def _messages(self, decoded: Decoded) -> list[str]:
        """Each record's log line; the record as JSON when it has none."""
        out: list[str] = []
        for record in json_records(decoded):
            message = self.enricher.message_of(record)
            out.append(message if message is not None else _original(record))
        return out


def _original(record: object) -> str:
    return dumps(record).decode("utf-8")


def _array_elements(data: bytes) -> list[bytes]:
    """The bytes of each element of a JSON array, as they came (a byte-order mark skipped)."""
    text = data.decode("utf-8")
    if text.startswith(BOM.decode()):
        text = text[1:]
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    out: list[bytes] = []
    while True:
        while text[pos] in " \t\r\n,":
            pos += 1
        if text[pos] == "]":
            return out
        _, end = decoder.raw_decode(text, pos)
        out.append(text[pos:end].encode("utf-8", "surrogatepass"))
        pos = end


def load_engine(table: Table, options: EnrichOptions | None = None, prefer: EngineName = "native") -> Engine:
    """The native engine unless `prefer` says python or the extension cannot be imported."""
    if prefer == "native":
        from app import native

        engine = native.load(table, options)
        if engine is not None:
            return engine
    return PythonEngine(table, options)
