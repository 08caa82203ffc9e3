"""The soak script's short variant: `benchmarks/soak.py` holds a real server near its capacity
with the mix of framings and encodings, then overloads it. The script checks itself: zero
errors, zero lost records, latency steady, only 200 or 503 + Retry-After under overload.
Memory growth is judged from 300 s on; the full 10-minute run is `python -m benchmarks.soak`."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.skipif(
    shutil.which("wrk") is None and not os.environ.get("CI"), reason="needs Debian's wrk (CI installs it)"
)


def test_short_soak_and_overload() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.soak",
            "--duration",
            "20",
            "--load",
            "0.6",
            "--overload-seconds",
            "3",
        ],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("{")))
    assert summary["errors"] == 0 and summary["records_lost"] == 0
    assert summary["overload"]["shed"] > 0 and summary["overload"]["timeout"] == 0
    assert summary["failures"] == []
