"""Shared fixtures: an isolated working folder, a live sandbox, and a way to run invoke."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

from oauthdance.sandbox import App, RunningSandbox, Sandbox

ROOT = Path(__file__).resolve().parents[1]
ENV_PREFIXES = ("OAUTHDANCE_", "GITHUB_", "GH_", "SANDBOX_", "INVOKE_")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test works in its own folder with no provider settings leaking in."""
    for key in list(os.environ):
        if key.startswith(ENV_PREFIXES):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def sandbox() -> RunningSandbox:
    with RunningSandbox(Sandbox()) as running:
        yield running


@pytest.fixture
def app(sandbox: RunningSandbox) -> App:
    return sandbox.model.register_app("http://127.0.0.1/callback")


@pytest.fixture(params=["json", "yaml"])
def creds_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return tmp_path / f"creds.{request.param}"


def run_invoke(
    *args: str, input: str | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`invoke ARGS` in a fresh process, from the test's folder, with this project's tasks."""
    return subprocess.run(
        [sys.executable, "-m", "invoke", "--search-root", str(ROOT), *args],
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def run_script(
    name: str, creds: Path, provider: str = "sandbox"
) -> subprocess.CompletedProcess[str]:
    """Run one of the README's example scripts in `scripts/` against `creds`."""
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / name),
            "--provider",
            provider,
            "--creds",
            str(creds),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def configure_args(
    sandbox: RunningSandbox, app: App, creds: Path, scope: str = "repo"
) -> list[str]:
    return [
        "auth.configure",
        "-p",
        "sandbox",
        "--creds",
        str(creds),
        "--host",
        sandbox.host,
        "--client-id",
        app.client_id,
        "--client-secret",
        app.client_secret,
        "--redirect-uri",
        "http://127.0.0.1:8765/callback",
        "--scope",
        scope,
    ]


class _Form(HTMLParser):
    """Reads the consent page's form the way a browser would."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.action = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = attr.get("action", "")
        if tag == "input" and attr.get("name"):
            self.fields[attr["name"]] = attr.get("value", "")


def browser_approve(url: str, decision: str = "approve", login: str | None = None) -> str:
    """Open the authorize URL, press a button on the consent page, return the redirect."""
    page = requests.get(url, allow_redirects=False, timeout=10)
    if page.status_code == 302:  # auto-approve, or an error sent straight back
        return page.headers["Location"]
    assert page.status_code == 200, page.text
    form = _Form()
    form.feed(page.text)
    fields = {**form.fields, "decision": decision}
    if login:
        fields["login"] = login
    base = re.match(r"https?://[^/]+", url).group(0)
    answer = requests.post(base + form.action, data=fields, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]
