"""Data fetching for tasks and the Python API: an authenticated `Fetcher`, ready to go."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oauthdance.base.advice import Command
from oauthdance.keep.keeper import TokenKeeper, api_pages
from oauthdance.keep.target import Target
from oauthdance.paging.cache import ETagCache
from oauthdance.paging.engine import (
    DEFAULT_MAX_WAIT,
    DEFAULT_PAGE_LIMIT,
    DEFAULT_WORKERS,
    Fetcher,
    api_url,
)
from oauthdance.paging.progress import Progress


@dataclass
class Fetch:
    """A ready fetcher for one provider and owner, and the URL a path starts at."""

    fetcher: Fetcher
    api_root: str

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        return api_url(self.api_root, path, params or {})


def open_fetch(
    target: Target,
    *,
    workers: int = DEFAULT_WORKERS,
    wait: bool = True,
    cache: bool = True,
    progress: Progress | None = None,
    max_wait: float = DEFAULT_MAX_WAIT,
    page_limit: int = DEFAULT_PAGE_LIMIT,
) -> Fetch:
    """Make sure a valid token exists (refreshing it if due), then set up the fetcher."""
    keeper = TokenKeeper(target.store, target.provider, target.user)
    found = keeper.current_token()  # fails here, before any output, if not logged in
    etags = (
        ETagCache.beside(target.store.local_folder / "creds", target.provider.name, found.owner)
        if cache
        else None
    )
    fetcher = Fetcher(
        api_pages(keeper, workers),
        cache=etags,
        wait=wait,
        progress=progress,
        login=Command("auth.login", target.provider.name, found.owner).text(),
        token_from=found.source,
        max_wait=max_wait,
        page_limit=page_limit,
    )
    return Fetch(fetcher, keeper.provider.api_root)
