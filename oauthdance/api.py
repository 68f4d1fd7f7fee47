"""The Python API for notebooks and scripts: tokens, sessions, auth and data, no invoke.

import oauthdance
gh = oauthdance.session("github")          # sends the token and GitHub's API headers
repos = gh.get("/user/repos", params={"per_page": 100}).json()
requests.get(url, auth=oauthdance.auth("github"))   # with a session of your own

Each call resolves its settings as the tasks do: the arguments, then the `OAUTHDANCE_*`
environment, then `.env`, then the defaults. Its errors suggest the Python call where there
is one (`oauthdance.token("github", creds="alt.json")`), else the `oauthdance` command,
with the provider, user and creds the call named.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oauthdance.base.errors import python_face
from oauthdance.keep.lifecycle import find_token
from oauthdance.keep.target import CredsArgument, resolve_target
from oauthdance.paging.authenticated import open_fetch
from oauthdance.paging.options import (
    DEFAULT_MAX_WAIT,
    DEFAULT_PAGE_LIMIT,
    DEFAULT_WORKERS,
    FetchOptions,
)
from oauthdance.store import RefreshTurn, Store, open_store
from oauthdance.store.base import Change, T
from oauthdance.store.record import default_owner_of, tokens_of

if TYPE_CHECKING:  # requests is imported when a session or auth is asked for: fetch()
    from oauthdance.keep.bearer import BearerAuth  # and token() run without it
    from oauthdance.net.http import Session


class Credentials(Store):
    """The credentials store (a file, `vault://...` or `keyring:...`, as `--creds` takes),
    with what a notebook asks of it. Other attributes are the backend's (`.path` of a file)."""

    @python_face
    def __init__(self, creds: str | os.PathLike[str] | Store | None = None) -> None:
        self.store = open_store(creds or resolve_target().settings.creds)

    def __getattr__(self, name: str) -> Any:
        if name == "store":  # not set yet: no recursion while unpickling
            raise AttributeError(name)
        return getattr(self.store, name)

    @property
    def kind(self) -> str:  # type: ignore[override]  # a class attribute there, the store's here
        return self.store.kind

    @property
    def location(self) -> str:
        return self.store.location

    @property
    def local_folder(self) -> Path:
        return self.store.local_folder

    @python_face
    def read(self) -> dict[str, Any]:
        return self.store.read()

    @python_face
    def record(self, provider: str) -> dict[str, Any]:
        return self.store.record(provider)

    @python_face
    def change(self, provider: str, change: Change[T]) -> T:
        return self.store.change(provider, change)

    @contextmanager
    def refresh_turn(self, provider: str, owner: str) -> Iterator[RefreshTurn]:
        with self.store.refresh_turn(provider, owner) as turn:
            yield turn

    @python_face
    def describe(self) -> dict[str, Any]:
        return self.store.describe()

    def providers(self) -> list[str]:
        return list(self.read())

    def owners(self, provider: str = "github") -> list[str]:
        return list(tokens_of(self.record(provider)))

    def default_owner(self, provider: str = "github") -> str | None:
        return default_owner_of(self.record(provider))

    def token(self, provider: str | None = None, user: str | None = None) -> str:
        return token(provider, user, self)

    def session(self, provider: str | None = None, user: str | None = None) -> Session:
        return session(provider, user, self)


@python_face
def token(provider: str | None = None, user: str | None = None, creds: CredsArgument = None) -> str:
    """A valid access token: the environment's, else the stored owner's (refreshed if due)."""
    target = resolve_target(provider, user, creds)
    return find_token(target.store, target.provider, target.user).access_token


@python_face
def session(
    provider: str | None = None, user: str | None = None, creds: CredsArgument = None
) -> Session:
    """A `requests.Session` for the provider's API: base URL, headers, token, refresh,
    timeouts and retries. Paths starting with `/` are relative to the API."""
    target = resolve_target(provider, user, creds)
    from oauthdance.keep.bearer import BearerAuth, api_session

    return api_session(BearerAuth(target.store, target.provider, target.user))


@python_face
def auth(
    provider: str | None = None, user: str | None = None, creds: CredsArgument = None
) -> BearerAuth:
    """`requests` auth for your own sessions: `requests.get(url, auth=oauthdance.auth())`."""
    target = resolve_target(provider, user, creds)
    from oauthdance.keep.bearer import BearerAuth

    return BearerAuth(target.store, target.provider, target.user)


@python_face
def fetch(
    path: str,
    params: dict[str, Any] | None = None,
    provider: str | None = None,
    user: str | None = None,
    creds: CredsArgument = None,
    *,
    max_pages: int | None = None,
    workers: int = DEFAULT_WORKERS,
    wait: bool = True,
    cache: bool = True,
    page_limit: int = DEFAULT_PAGE_LIMIT,
    max_wait: float = DEFAULT_MAX_WAIT,
) -> Iterator[Any]:
    """Every item at `path` (all pages, in order), streamed as they arrive; the same
    bounds as `data.fetch` (`page_limit` pages unless `max_pages` says; no wait longer
    than `max_wait` seconds)."""
    options = FetchOptions(
        max_pages=max_pages,
        workers=workers,
        page_limit=page_limit,
        wait=wait,
        max_wait=max_wait,
        cache=cache,
        params=params or {},
    )
    opened = open_fetch(resolve_target(provider, user, creds), options)
    yield from opened.fetcher.items(opened.url(path))
