"""Fixtures of the fetch tests: a login with the `repo` scope, and the sandbox's clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import oauthdance.paging.authenticated
from oauthdance.paging.engine import Fetcher
from oauthdance.sandbox import App, RunningSandbox
from tests.support.lifecycle import logged_in


@pytest.fixture
def sandbox_time(sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fetchers tell time by the sandbox's clock, and a wait moves that clock on.

    A rate limit's reset (the sandbox's clock too) then comes without real seconds going
    by; the waiting logic runs all the same. Fetchers take `sleep` and `clock` for this.
    """
    model = sandbox.model

    class FetcherOnSandboxTime(Fetcher):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, sleep=model.advance, clock=model.now, **kwargs)

    monkeypatch.setattr(oauthdance.paging.authenticated, "Fetcher", FetcherOnSandboxTime)


REPOS = 1234  # octocat's repositories for the fetch tests: 13 pages of 100, the last short


@pytest.fixture
def repo_creds(sandbox: RunningSandbox, app: App, tmp_path: Path) -> Path:
    """creds.json logged in to the sandbox with the `repo` scope; octocat has REPOS."""
    path = tmp_path / "creds.json"
    logged_in(sandbox, app, path, scope="repo")
    sandbox.model.users["octocat"].repo_count = REPOS
    return path
