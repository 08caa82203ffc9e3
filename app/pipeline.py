"""One batch from wire bytes to wire bytes: decode, enrich, encode. Plain Python, no HTTP; the
service runs it in a worker thread, the relay reuses it."""

from dataclasses import dataclass

from app.codecs import Batch, Limits, decode_body, encode_batch
from app.enrich import Enricher, Result


@dataclass(frozen=True, slots=True)
class Processed:
    batch: Batch
    results: list[Result]
    body: bytes
    media_type: str
    encoding: str


def process_body(
    body: bytes,
    *,
    content_type: str | None,
    content_encoding: str | None,
    accept: str | None,
    accept_encoding: str | None,
    enricher: Enricher,
    limits: Limits,
    respond: bool = True,
) -> Processed:
    """Decode and enrich; encode the answer too unless `respond` is false (relay mode)."""
    batch = decode_body(body, content_type, content_encoding, limits)
    results = enricher.enrich_batch(batch.records)
    if not respond:
        return Processed(batch, results, b"", "", "identity")
    out, media_type, encoding = encode_batch(batch, accept, accept_encoding)
    return Processed(batch, results, out, media_type, encoding)
