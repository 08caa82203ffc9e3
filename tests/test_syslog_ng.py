"""End to end with a real batching shipper: syslog-ng tails a JupyterHub log file and POSTs its
batches to a running `logenrich serve`; /metrics must count every record, classified as the
offline CLI classifies the same file."""

import os
import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import httpx2 as httpx
import pytest

from app.check import load_table, rule_paths
from app.enrich import Enricher
from app.reader import group_lines
from tests.server import ROOT, running_server

SYSLOG_NG = shutil.which("syslog-ng") or (
    "/usr/sbin/syslog-ng" if Path("/usr/sbin/syslog-ng").exists() else None
)
pytestmark = pytest.mark.skipif(
    SYSLOG_NG is None and not os.environ.get("CI"), reason="syslog-ng is not installed (.ci/run installs it)"
)


def _hub_log(path: Path, copies: int) -> list[str]:
    """The sample log, repeated with distinct user names so no two lines are equal."""
    sample = (ROOT / "app" / "samples" / "jupyterhub.log").read_text()
    text = "".join(sample.replace("alice", f"user{n}").replace("bob", f"user{n}b") for n in range(copies))
    path.write_text(text)
    return list(group_lines(iter(text.splitlines())))


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


def start_syslog_ng(tmp_path: Path, log: Path, url: str) -> tuple[subprocess.Popen[bytes], Path]:
    """syslog-ng in the foreground with the project's config, tailing `log` into `url`."""
    assert SYSLOG_NG is not None, "syslog-ng must be installed in CI"
    config = (ROOT / "deploy" / "syslog-ng" / "logenrich.conf").read_text()
    config = config.replace("@LOG_FILE@", str(log)).replace("@URL@", url).replace("@TOKEN_HEADER@", "")
    conf = tmp_path / "syslog-ng.conf"
    conf.write_text(config)
    command = [
        SYSLOG_NG, "-F", "--no-caps", "-f", str(conf),
        "-R", str(tmp_path / "syslog-ng.persist"), "-p", str(tmp_path / "syslog-ng.pid"),
        "-c", str(tmp_path / "syslog-ng.ctl"),
    ]  # fmt: skip
    output = tmp_path / "syslog-ng.out"
    with output.open("wb") as sink:
        return subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT), output


def test_syslog_ng_delivers_every_line(tmp_path: Path) -> None:
    assert SYSLOG_NG is not None, "syslog-ng must be installed in CI"
    log = tmp_path / "jupyterhub.log"
    records = _hub_log(log, copies=40)
    enricher = Enricher(load_table(rule_paths(None)))
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
