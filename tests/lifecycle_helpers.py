"""Log an owner in, in-process and fast, for tests that start from a stored token."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import browser_approve

from oauthdance import flow
from oauthdance.providers import get_provider
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
    started = flow.start_authorization(creds, provider)
    flow.store_code(creds, provider, url=browser_approve(started.url, login=login))
    flow.exchange_code(creds, provider)
    flow.verify_token(creds, provider)
    return creds.record("sandbox")["tokens"][login]


def expire(path: Path, sandbox: RunningSandbox, login: str = "octocat") -> None:
    """Let 8 hours pass, for the sandbox and for the stored token alike."""
    sandbox.model.advance(28800)
    data = json.loads(path.read_text())
    token = data["sandbox"]["tokens"][login]
    token["created_at"], token["expires_at"] = "2020-01-01T00:00:00Z", "2020-01-01T08:00:00Z"
    path.write_text(json.dumps(data))
