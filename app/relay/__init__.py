"""Relay mode: enriched batches are delivered to a downstream, and the shipper is answered only
after the downstream has answered (docs/design.md, "Data flow"). Plain Python and an HTTP
client; no FastAPI."""
