"""Log an owner in, in-process and fast, for tests that start from a stored token (through
the same headless login the demo and the benchmarks use)."""

from __future__ import annotations

import json
from pathlib import Path

from oauthdance.dance.demo import headless_login, sandbox_login
from oauthdance.sandbox import App, RunningSandbox
from oauthdance.store import CredentialsFile

__all__ = ["expire", "headless_login", "logged_in"]


def logged_in(
    sandbox: RunningSandbox,
    app: App,
    path: Path,
    login: str = "octocat",
    scope: str = "repo offline_access",
) -> dict:
    """Configure the sandbox app in `path` and log `login` in; return the stored token."""
    return dict(sandbox_login(CredentialsFile(path), sandbox, app, login=login, scope=scope).token)


def expire(path: Path, sandbox: RunningSandbox, login: str = "octocat") -> None:
    """Let 8 hours pass, for the sandbox and for the stored token alike."""
    sandbox.model.advance(28800)
    data = json.loads(path.read_text())
    token = data["sandbox"]["tokens"][login]
    token["created_at"], token["expires_at"] = "2020-01-01T00:00:00Z", "2020-01-01T08:00:00Z"
    path.write_text(json.dumps(data))
