"""Relay mode: enriched batches are delivered to a downstream, and the shipper is answered only
after the downstream has answered (DESIGN.md §2). Plain Python and an HTTP client; no FastAPI."""
