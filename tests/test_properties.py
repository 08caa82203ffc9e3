"""Hypothesis properties of enrichment: count and order kept, input untouched, idempotent, total;
and the same over the wire, in every framing and encoding."""

import copy
import functools
from typing import Any

import msgpack
import orjson
from hypothesis import given
from hypothesis import strategies as st

from app import formats
from app.batch import Limits
from app.codecs import decompress
from app.enrich import Enricher, EnrichOptions
from app.pipeline import process_body
from tests.helpers import builtin_table, engine_for
from tests.payloads import assert_round_trip, compress, decode_response


@functools.cache
def enricher_for(profile: str) -> Enricher:
    return Enricher(builtin_table(), EnrichOptions(profile=profile))  # type: ignore[arg-type]


# every example line of the built-in table, drawn once the table is loaded (not at import)
known_lines = st.deferred(
    lambda: st.sampled_from(
        [example.line for rule in builtin_table().rules for example in rule.spec.examples]
    )
)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
messages = st.one_of(
    st.text(max_size=300),
    known_lines,
    st.builds(lambda line, junk: line + junk, known_lines, st.text(max_size=40)),
    st.builds(lambda junk, line: junk + line, st.text(max_size=40), known_lines),
)
records = st.one_of(
    st.builds(
        lambda key, message, extra: {**extra, key: message},
        st.sampled_from(["message", "log", "msg"]),
        messages,
        st.dictionaries(
            st.sampled_from(["host", "n", "kubernetes", "timestamp", "rule"]), json_values, max_size=3
        ),
    ),
    json_values,
)
batches = st.lists(records, max_size=20)
profiles = st.sampled_from(["default", "ecs"])


def _without_added(record: Any, original: Any, profile: str) -> Any:
    """The record with the keys enrichment may add taken away again, for comparison."""
    if not isinstance(record, dict) or not isinstance(original, dict):
        return record
    added = {"enrichment"} if profile == "default" else {"rule", "event", "log", "logenrich"}
    return {
        k: v
        for k, v in record.items()
        if k not in added or (k in original and not isinstance(original[k], dict))
    }


@given(batches, profiles)
def test_count_order_and_input_fields_are_kept(batch: list[Any], profile: str) -> None:
    original = copy.deepcopy(batch)
    results = enricher_for(profile).enrich_batch(batch)
    assert len(batch) == len(original) == len(results)
    for after, before in zip(batch, original, strict=True):
        if not isinstance(before, dict):
            assert after == before
            continue
        for key, value in before.items():
            if isinstance(value, dict) and key in ("enrichment", "rule", "event", "log", "logenrich"):
                # objects the profile writes into keep every key they had that it does not own
                continue
            assert after[key] == value
        assert _without_added(after, before, profile) == _without_added(before, before, profile)


@given(batches, profiles)
def test_enrichment_is_idempotent(batch: list[Any], profile: str) -> None:
    enricher = enricher_for(profile)
    enricher.enrich_batch(batch)
    once = copy.deepcopy(batch)
    enricher.enrich_batch(batch)
    assert batch == once


@given(st.text(), profiles)
def test_any_string_message_is_enriched_without_error(message: str, profile: str) -> None:
    record = {"message": message}
    result = enricher_for(profile).enrich_record(record)
    assert result.outcome in ("classified", "unclassified")


# what supervisors write in front of an application's line; the engine peels up to MAX_SUPERVISORS
SUPERVISOR_PREFIXES = [
    "pod-1 | ",
    "hub_1      | ",
    "2024-01-23T09:51:06.938123456Z ",
    "2024-01-23T09:51:06+01:00 ",
    "Jan 23 09:51:06 hub-host jupyterhub[812]: ",
]
decorations = st.lists(
    st.sampled_from(SUPERVISOR_PREFIXES), min_size=1, max_size=formats.MAX_SUPERVISORS - 2
).flatmap(
    lambda prefixes: st.sampled_from(["", "\x1b[31m", "   "]).map(lambda lead: lead + "".join(prefixes))
)


@given(known_lines, decorations)
def test_known_lines_survive_decoration(line: str, decoration: str) -> None:
    """Every example carries at most two supervisor prefixes; two more are still peeled."""
    plain = {"message": line}
    decorated = {"message": decoration + line}
    enricher_for("default").enrich_record(plain)
    enricher_for("default").enrich_record(decorated)
    assert decorated["enrichment"]["classification"] == plain["enrichment"]["classification"]


wire_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
) | st.text(max_size=20)
wire_values = st.recursive(
    wire_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
wire_records = st.builds(
    lambda key, message, extra: {**extra, key: message},
    st.sampled_from(["message", "log", "msg"]),
    messages,
    st.dictionaries(st.sampled_from(["host", "n", "kubernetes", "timestamp"]), wire_values, max_size=3),
)
FRAMINGS = {"json": "application/json", "ndjson": "application/x-ndjson", "msgpack": "application/msgpack"}


def _frame(records: list[Any], framing: str) -> bytes:
    if framing == "json":
        return orjson.dumps(records)
    if framing == "ndjson":
        return b"".join(orjson.dumps(r) + b"\n" for r in records)
    return b"".join(msgpack.packb([[1_764_331_200, {}], r]) for r in records)  # Fluent Bit events


@given(
    st.lists(wire_records, min_size=1, max_size=20),
    st.sampled_from(sorted(FRAMINGS)),
    st.sampled_from(["identity", "gzip", "deflate", "zstd", "snappy"]),
    st.sampled_from([None, "gzip", "zstd"]),
)
def test_wire_round_trip_in_every_framing_and_encoding(
    records: list[Any], framing: str, encoding: str, answer_encoding: str | None
) -> None:
    body = compress(_frame(records, framing), encoding)
    processed = process_body(
        body,
        content_type=FRAMINGS[framing],
        content_encoding=None if encoding == "identity" else encoding,
        accept=None,
        accept_encoding=answer_encoding,
        engine=engine_for("python"),
        limits=Limits(1 << 24, 1 << 26, 100_000),
    )
    assert processed.media_type.startswith(FRAMINGS[framing])
    assert processed.encoding == (answer_encoding or "identity")
    answer = decode_response(decompress(processed.body, answer_encoding, 1 << 26)[0], processed.media_type)
    sent = [[[1_764_331_200, {}], r] for r in records] if framing == "msgpack" else records
    assert_round_trip(sent, answer)
    # enriching the answer again changes nothing (idempotent over the wire too)
    again = process_body(
        decompress(processed.body, answer_encoding, 1 << 26)[0],
        content_type=processed.media_type,
        content_encoding=None,
        accept=None,
        accept_encoding=None,
        engine=engine_for("python"),
        limits=Limits(1 << 24, 1 << 26, 100_000),
    )
    assert decode_response(again.body, again.media_type) == answer
