"""What one batch call takes and gives, whichever engine runs it (docs/design.md, "Engines").

    engine.run(data, kind, output, limits, received_ns) -> BatchResult

`data` is the decompressed request body; `kind` says how to read it (from Content-Type, or
"sniff"); `output` says what to write: the answer to the client in some framing, or the request
body of a downstream (JSON, NDJSON, an Elasticsearch `_bulk` body or a Loki push).
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Final, Literal

# how the body is to be read: "json" is the JSON family (array, NDJSON, objects back to back, one
# object, told apart by their bytes); "sniff" is a body with no useful Content-Type
Kind = Literal["json", "ndjson", "msgpack", "text", "sniff"]
# how the body was read, and how an answer is written
Framing = Literal["json", "ndjson", "json_stream", "object", "msgpack", "text"]
FRAMINGS: Final[tuple[Framing, ...]] = ("json", "ndjson", "json_stream", "object", "msgpack", "text")


@dataclass(frozen=True, slots=True)
class Limits:
    max_body_bytes: int = 16 * 1024 * 1024
    max_decompressed_bytes: int = 64 * 1024 * 1024
    max_records: int = 100_000


# How deep a request body may nest, its top-level values (a batch's array, a line of NDJSON, a
# MessagePack object) being level 1: deeper is refused (400) by both engines (app.structure).
MAX_DEPTH: Final = 128


# what an answer may be asked to be written in (Accept), whatever the request's framing
AnswerKind = Literal["json", "ndjson", "msgpack"]


@dataclass(frozen=True, slots=True)
class Answer:
    """The enriched batch for the client: in the request's framing unless `prefer` names another
    kind (see app.codecs.answer_framing)."""

    prefer: AnswerKind | None = None


@dataclass(frozen=True, slots=True)
class JsonLines:
    """The enriched records for a Vector http_server source or a Fluent Bit in_http input: a JSON
    array (`array`) or NDJSON."""

    array: bool = False


@dataclass(frozen=True, slots=True)
class Bulk:
    """An Elasticsearch `_bulk` body: one `create` action per record, with an `_id` that tells
    repeated records apart and stays the same when the batch is sent again."""

    index: str


@dataclass(frozen=True, slots=True)
class Loki:
    """A Loki push body: streams by category and severity (and the static labels), the
    classification, doc link and fields as structured metadata."""

    labels: tuple[tuple[str, str], ...] = ()
    line: Literal["json", "message"] = "json"


Output = Answer | JsonLines | Bulk | Loki

OUTCOME_PASSTHROUGH: Final = 0
OUTCOME_UNCLASSIFIED: Final = 1
OUTCOME_CLASSIFIED: Final = 2

# (classification, category, severity) -> records; passthrough records counted under PASSTHROUGH
Counts = Counter[tuple[str, str, str]]
PASSTHROUGH: Final = ("", "", "")


@dataclass(frozen=True, slots=True)
class BatchResult:
    body: bytes  # uncompressed
    framing: Framing  # how the request was read
    out_framing: Framing | None  # what an answer body is written in (None for a downstream body)
    records: int
    counts: Counts = field(default_factory=Counter)
    # one byte per record, in order: OUTCOME_PASSTHROUGH, OUTCOME_UNCLASSIFIED or OUTCOME_CLASSIFIED
    outcomes: bytes = b""
    # Bulk only: each record's `_id`, and where its document line is in `body` (start, end)
    ids: tuple[str, ...] = ()
    documents: tuple[tuple[int, int], ...] = ()
