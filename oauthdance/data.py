"""Data fetching for tasks and notebooks: an authenticated `Fetcher` and what it brought.

import oauthdance
repos = list(oauthdance.fetch("/user/repos"))          # every page, as dicts
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .api import credentials_file, make_session, provider_named
from .cache import ETagCache
from .fetcher import DEFAULT_WORKERS, Fetcher, api_url
from .progress import Progress
from .store import CredentialsFile


@dataclass
class Fetch:
    """A ready fetcher for one provider and owner, and the URL a path starts at."""

    fetcher: Fetcher
    api_root: str

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        return api_url(self.api_root, path, params or {})


def open_fetch(
    creds: str | os.PathLike[str] | CredentialsFile | None = None,
    provider: str = "github",
    user: str | None = None,
    *,
    workers: int = DEFAULT_WORKERS,
    wait: bool = True,
    cache: bool = True,
    progress: Progress | None = None,
) -> Fetch:
    """Make sure a valid token exists (refreshing it if due), then set up the fetcher."""
    store = credentials_file(creds)
    session = make_session(store, provider_named(store, provider), user, pool_size=workers)
    found = session.current_token()  # fails here, before any output, if not logged in
    etags = ETagCache.beside(store.path, provider, found.owner) if cache else None
    fetcher = Fetcher(session, cache=etags, wait=wait, progress=progress)
    return Fetch(fetcher, session.provider.api_root)


def fetch(
    path: str,
    params: dict[str, Any] | None = None,
    provider: str = "github",
    user: str | None = None,
    creds: str | os.PathLike[str] | CredentialsFile | None = None,
    *,
    max_pages: int | None = None,
    workers: int = DEFAULT_WORKERS,
    wait: bool = True,
    cache: bool = True,
) -> Iterator[Any]:
    """Every item at `path` (all pages, in order), streamed as they arrive."""
    opened = open_fetch(creds, provider, user, workers=workers, wait=wait, cache=cache)
    yield from opened.fetcher.items(opened.url(path, params), max_pages, workers)
