"""syslog-ng, the real batching shipper of the end-to-end tests: where it is, the skip rule, a
JupyterHub log for it to tail, and a running instance with the project's config."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from app.reader import group_lines
from tests.helpers import ROOT

SYSLOG_NG = shutil.which("syslog-ng") or (
    "/usr/sbin/syslog-ng" if Path("/usr/sbin/syslog-ng").exists() else None
)
requires_syslog_ng = pytest.mark.skipif(
    SYSLOG_NG is None and not os.environ.get("CI"), reason="syslog-ng is not installed (.ci/run installs it)"
)


def hub_log(path: Path, copies: int) -> list[str]:
    """The sample log, repeated with distinct user names so no two lines are equal."""
    sample = (ROOT / "app" / "samples" / "jupyterhub.log").read_text()
    text = "".join(sample.replace("alice", f"user{n}").replace("bob", f"user{n}b") for n in range(copies))
    path.write_text(text)
    return list(group_lines(iter(text.splitlines())))


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
