"""One login in a real headless browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.login import InvokeThread, creds_record

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def test_login_in_headless_chromium(configured_creds: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    creds = configured_creds
    running = InvokeThread("auth.login", "-p", "sandbox", "--creds", str(creds), "--no-browser")
    url = running.authorize_url()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(url)
            assert page.title().startswith("Authorize")
            page.get_by_role("button", name="Authorize").click()
            page.wait_for_load_state()
            page.wait_for_function("document.title === 'Login complete'", timeout=15000)
            assert "You are signed in" in page.content()
        finally:
            browser.close()
    code, stdout, stderr = running.finish()
    assert code == 0, stderr
    assert "logged in to sandbox as octocat" in stdout
    assert creds_record(creds)["tokens"]["octocat"]["verified_at"]
