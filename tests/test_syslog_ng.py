"""End to end with a real batching shipper: syslog-ng tails a JupyterHub log file and POSTs its
batches to a running `logenrich serve`; /metrics must count every record, classified as the
offline CLI classifies the same file."""

import re
import time
from collections import Counter
from pathlib import Path

import httpx2 as httpx

from app.enrich import Enricher
from tests.helpers import builtin_table
from tests.server import running_server
from tests.syslog_ng import SYSLOG_NG, hub_log, requires_syslog_ng, start_syslog_ng

pytestmark = requires_syslog_ng


def _metric_counts(text: str) -> tuple[Counter[str], float]:
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        m = re.match(r'logenrich_records_total\{.*classification="([^"]+)".*\} (\S+)', line)
        if m:
            counts[m.group(1)] += int(float(m.group(2)))
    passthrough = next(
        (
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith("logenrich_passthrough_records_total ")
        ),
        0.0,
    )
    return counts, passthrough


def test_syslog_ng_delivers_every_line(tmp_path: Path) -> None:
    assert SYSLOG_NG is not None, "syslog-ng must be installed in CI"
    log = tmp_path / "jupyterhub.log"
    records = hub_log(log, copies=40)
    enricher = Enricher(builtin_table())
    expected: Counter[str] = Counter()
    for text in records:
        result = enricher.enrich_record({"message": text})
        expected[result.classification or "passthrough"] += 1

    with running_server("--reload-interval", "0", tmp_path=tmp_path) as server:
        shipper, shipper_log = start_syslog_ng(tmp_path, log, server.url + "/v1/enrich")
        try:
            deadline = time.monotonic() + 60
            while True:
                counts, passthrough = _metric_counts(httpx.get(server.url + "/metrics").text)
                if sum(counts.values()) >= len(records) or time.monotonic() > deadline:
                    break
                if shipper.poll() is not None:
                    raise AssertionError(f"syslog-ng exited:\n{shipper_log.read_text()}")
                time.sleep(0.2)
            time.sleep(0.5)  # nothing more may arrive: no duplicates
            counts, passthrough = _metric_counts(httpx.get(server.url + "/metrics").text)
        finally:
            shipper.terminate()
            shipper.wait(timeout=20)
    assert passthrough == 0
    assert sum(counts.values()) == len(records)
    assert counts == expected
    batches = [line for line in server.output().splitlines() if '"path":"/v1/enrich"' in line]
    assert 1 < len(batches) < len(records)  # it really batched
