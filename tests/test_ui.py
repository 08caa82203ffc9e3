"""The catalog explorer page in a real browser: Playwright driving Debian's Chromium (headless)
against a real `logenrich serve` on loopback, with auth on."""

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.helpers import ROOT, builtin_table
from tests.server import running_server

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="chromium is not installed"
)
ARTIFACTS = ROOT / "artifacts"
SEED = [
    "[W 2022-03-10 17:25:19.774 JupyterHub base:1349] Failing suspected API request to not-running server: /hub/user/alice/api/metrics/v1",
    "[W 2024-06-03 11:02:41.517 JupyterHub _version:66] jupyterhub version 4.1.5 != jupyterhub-singleuser version 1.5.0. This could cause failure to authenticate and result in redirect loops!",
]
FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def test_catalog_page(tmp_path: Path) -> None:
    assert CHROMIUM is not None, "chromium must be installed in CI"
    ARTIFACTS.mkdir(exist_ok=True)
    with running_server("--token", "s3cret", "--reload-interval", "0", tmp_path=tmp_path) as server:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(server.url + "/")
            page.get_by_text("requires a bearer token").wait_for()  # the API refuses without it
            page.get_by_label("Bearer token").fill("s3cret")
            page.get_by_role("button", name="Use token").click()
            page.get_by_text(f"{len(builtin_table().rules)} rules", exact=False).first.wait_for()
            # search a rule
            page.get_by_label("Search").fill("not-running")
            rule = page.locator("#rules > li").filter(has_text="jupyterhub.proxy.not-running-server")
            rule.wait_for()
            assert page.locator("#rules > li").count() <= 3
            assert "at most info" in rule.inner_text()
            # paste the two seed lines and classify them with /v1/enrich
            page.get_by_label("Log lines").fill("\n".join(SEED))
            page.get_by_role("button", name="Classify").click()
            rows = page.locator("#results tbody tr")
            rows.nth(1).wait_for()
            first, second = rows.nth(0), rows.nth(1)
            assert first.locator(".classification").inner_text() == "jupyterhub.proxy.not-running-server"
            assert first.locator(".severity").inner_text() == "info (logged warning)"
            assert (
                first.locator("a.doc")
                .get_attribute("href", timeout=2000)
                .endswith("#failing-suspected-api-request-to-not-running-server")
            )
            assert second.locator(".classification").inner_text() == "jupyterhub.singleuser.version-mismatch"
            assert second.locator(".severity").inner_text() == "error (logged warning)"
            assert (
                second.locator("a.doc")
                .get_attribute("href")
                .endswith("#jupyterhub-singleuser-version-mismatch")
            )
            # the counts since start came from /metrics
            page.locator(".bar-row").filter(has_text="jupyterhub.singleuser.version-mismatch").wait_for()
            # keyboard: the search box and the button are reachable with Tab
            page.keyboard.press("Tab")
            page.screenshot(path=str(ARTIFACTS / "ui.png"), full_page=False)
            browser.close()
    assert (ARTIFACTS / "ui.png").stat().st_size > 10_000
