"""One batch from wire bytes to wire bytes: decompress, decode → enrich → encode (one engine
call), compress. Plain Python, no HTTP: the service runs it in a worker thread, the relay and
the CLI reuse it."""

import time
from dataclasses import dataclass

from app.admission import BodyBudget
from app.batch import Answer, BatchResult, Limits, Output
from app.codecs import OUT_TYPES, accepted_encoding, answer_preference, compress, decompress, request_kind
from app.engine import Engine
from app.errors import Overloaded


@dataclass(frozen=True, slots=True)
class Processed:
    result: BatchResult
    body: bytes  # the answer, compressed as Accept-Encoding asked (empty for a downstream output)
    media_type: str
    encoding: str  # the answer's Content-Encoding ("identity" for none)
    request_encoding: str  # the request's Content-Encoding, normalised
    engine: Engine  # the engine (and so the table) that did the work


def process_body(
    body: bytes,
    *,
    content_type: str | None,
    content_encoding: str | None,
    engine: Engine,
    limits: Limits,
    accept: str | None = None,
    accept_encoding: str | None = None,
    output: Output | None = None,
    budget: BodyBudget | None = None,
    received_ns: int | None = None,
) -> Processed:
    """Run one batch. Without `output` the answer is written for the client (Accept and
    Accept-Encoding decide its framing and compression); with one, the result's body is that
    downstream's request body, uncompressed."""
    kind = request_kind(content_type)
    data, request_encoding = decompress(body, content_encoding, limits.max_decompressed_bytes)
    held = len(data) if data is not body else 0
    if held and budget is not None and not budget.take(held):
        raise Overloaded("the service holds as many decompressed bodies as it may; retry later")
    try:
        target = output if output is not None else Answer(answer_preference(accept))
        result = engine.run(data, kind, target, limits, received_ns or time.time_ns())
    finally:
        if held and budget is not None:
            budget.give_back(held)
    if output is not None or result.out_framing is None:
        return Processed(result, b"", "", "identity", request_encoding, engine)
    encoding = accepted_encoding(accept_encoding)
    answer = compress(result.body, encoding)
    return Processed(result, answer, OUT_TYPES[result.out_framing], encoding, request_encoding, engine)
