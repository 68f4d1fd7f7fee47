"""Log an owner in, in-process and fast, for tests that start from a stored token."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import browser_approve

from oauthdance import flow
from oauthdance.providers import Provider, get_provider
from oauthdance.sandbox import App, RunningSandbox
from oauthdance.store import CredentialsFile


def logged_in(
    sandbox: RunningSandbox,
    app: App,
    path: Path,
    login: str = "octocat",
    scope: str = "repo offline_access",
) -> dict:
    """Configure the sandbox app in `path` and log `login` in; return the stored token."""
    creds, provider = CredentialsFile(path), get_provider("sandbox")
    flow.configure(
        creds,
        provider,
        client_id=app.client_id,
        client_secret=app.client_secret,
        redirect_uri="http://127.0.0.1:8765/callback",
        scope=scope,
        host=sandbox.host,
    )
    headless_login(creds, provider, login)
    return creds.record("sandbox")["tokens"][login]


def headless_login(
    creds: CredentialsFile, provider: Provider, login: str | None = None
) -> flow.Verified:
    """The dance after configure, the browser played by `browser_approve`: url → approve as
    `login` (else the sandbox's default user) → code → exchange → verify."""
    started = flow.start_authorization(creds, provider)
    flow.store_code(creds, provider, url=browser_approve(started.url, login=login))
    flow.exchange_code(creds, provider)
    return flow.verify_token(creds, provider, only=started.state)[0]


def expire(path: Path, sandbox: RunningSandbox, login: str = "octocat") -> None:
    """Let 8 hours pass, for the sandbox and for the stored token alike."""
    sandbox.model.advance(28800)
    data = json.loads(path.read_text())
    token = data["sandbox"]["tokens"][login]
    token["created_at"], token["expires_at"] = "2020-01-01T00:00:00Z", "2020-01-01T08:00:00Z"
    path.write_text(json.dumps(data))
