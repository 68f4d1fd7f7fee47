"""Data fetching for tasks and the Python API: an authenticated `Fetcher`, ready to go."""

from __future__ import annotations

from dataclasses import dataclass

from oauthdance.base.advice import Command
from oauthdance.keep.keeper import TokenKeeper, api_pages
from oauthdance.keep.target import Target
from oauthdance.paging.cache import ETagCache
from oauthdance.paging.engine import Fetcher
from oauthdance.paging.options import FetchOptions
from oauthdance.paging.page import api_url
from oauthdance.paging.progress import Progress


@dataclass
class Fetch:
    """A ready fetcher for one provider and owner, and the URL a path starts at."""

    fetcher: Fetcher
    api_root: str

    def url(self, path: str) -> str:
        """The first page's URL for `path`, with the options' query parameters."""
        return api_url(self.api_root, path, self.fetcher.options.params)


def open_fetch(
    target: Target, options: FetchOptions | None = None, progress: Progress | None = None
) -> Fetch:
    """Make sure a valid token exists (refreshing it if due), then set up the fetcher."""
    options = options or FetchOptions()
    keeper = TokenKeeper(target.store, target.provider, target.user)
    found = keeper.current_token()  # fails here, before any output, if not logged in
    etags = (
        ETagCache.beside(target.store.local_folder / "creds", target.provider.name, found.owner)
        if options.cache
        else None
    )
    fetcher = Fetcher(
        api_pages(keeper, options.workers),
        options=options,
        cache=etags,
        progress=progress,
        login=Command("auth.login", provider=target.provider.name, user=found.owner),
        token_from=found.source,
    )
    return Fetch(fetcher, keeper.provider.api_root)
