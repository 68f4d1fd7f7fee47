"""The Python API for notebooks and scripts: every step of the dance, and tokens, sessions,
auth and data, no invoke.

import oauthdance
me = oauthdance.login("github")            # or step by step: authorize_url, store_code, ...
gh = oauthdance.session("github")          # sends the token and GitHub's API headers
repos = gh.get("/user/repos", params={"per_page": 100}).json()
requests.get(url, auth=oauthdance.auth("github"))   # with a session of your own

Each call resolves its settings as the tasks do: the arguments, then the `OAUTHDANCE_*`
environment, then `.env`, then the defaults; each step is the one its task runs
(`oauthdance.dance.steps`), answering with a typed result. Its errors suggest the Python
call (`oauthdance.login("github", creds="alt.json")`), with the provider, user and creds the
call named.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from oauthdance.base.advice import Command, Hint, setting
from oauthdance.base.errors import NotLoggedIn as NotLoggedIn  # `oauthdance.NotLoggedIn`, ...
from oauthdance.base.errors import OAuthDanceError as OAuthDanceError
from oauthdance.base.errors import TokenRejected as TokenRejected
from oauthdance.base.errors import TokenRejectedWarning as TokenRejectedWarning
from oauthdance.base.errors import UsageError, python_face
from oauthdance.dance import flow, steps
from oauthdance.dance.login import check_mode
from oauthdance.dance.results import (
    Checked,
    CodeStored,
    Configured,
    Exchanged,
    Identity,
    LoggedOut,
    Refreshed,
    Revoked,
    Status,
)
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

    def owners(self, provider: str | None = None) -> list[str]:
        """The owners with a token for `provider` (default: the settings' provider)."""
        return list(tokens_of(self.record(self._provider(provider))))

    def default_owner(self, provider: str | None = None) -> str | None:
        return default_owner_of(self.record(self._provider(provider)))

    def _provider(self, provider: str | None) -> str:
        return provider or resolve_target(creds=self.store).settings.provider

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


# -- the steps of the dance, one call each (the tasks run the same `steps`) ---------------

R = TypeVar("R", Configured, Identity, LoggedOut, Status)


def _check_text(**given: object) -> None:
    """Each given value is text: a hint's `...` (Python's Ellipsis), pasted as it is, or a
    number where a name belongs, is a usage error, not a traceback later."""
    for name, value in given.items():
        if value is not None and not isinstance(value, str):
            what = "..." if value is Ellipsis else f"a {type(value).__name__}"  # never its value:
            raise UsageError(  # it may be a secret
                f"{name} is {what}, not text",
                f"give {name} as a string, e.g. {setting(name, 'VALUE', text=True)}",
            )


def _seconds(name: str, value: object) -> float:
    """A wait in seconds: a number above 0 (`timeout=-1` would end at once)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise UsageError(f"{setting(name, repr(value))} is not a number of seconds above 0")
    return float(value)


def _warned(result: R) -> R:
    """`result`, after warning what a task would print as `warning:` (at the caller's line:
    past this function and `python_face`'s wrapper)."""
    for warning in result.warnings:
        warnings.warn(warning, stacklevel=4)
    return result


@python_face
def configure(
    provider: str | None = None,
    *,
    creds: CredsArgument = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    redirect_uri: str | None = None,
    scope: str | None = None,
    host: str | None = None,
    issuer: str | None = None,
    client_auth: str | None = None,
    secret_in_env: bool = False,
) -> Configured:
    """Record the app's client id, secret, callback URL and scope (`auth.configure`); what
    is not given comes from `<PROVIDER>_CLIENT_ID` / `_SECRET` in the environment or `.env`,
    else stays as stored."""
    _check_text(
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=redirect_uri,
        scope=scope,
        host=host,
        issuer=issuer,
        client_auth=client_auth,
    )
    configured = steps.configure(
        resolve_target(provider, None, creds),
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=redirect_uri,
        scope=scope,
        host=host,
        issuer=issuer,
        client_auth=client_auth,
        secret_in_env=secret_in_env,
    )
    return _warned(configured)


@python_face
def authorize_url(
    provider: str | None = None,
    user: str | None = None,
    creds: CredsArgument = None,
    *,
    scope: str | None = None,
    redirect_uri: str | None = None,
    open: bool = False,
) -> str:
    """The URL to approve in a browser (`auth.url`): a new state and PKCE verifier, kept
    as a pending authorization for `store_code` and `exchange`."""
    started = steps.authorize(
        resolve_target(provider, user, creds), scope=scope, redirect_uri=redirect_uri
    )
    if open:
        from oauthdance.dance.login import open_browser

        if not open_browser(started.url):
            warnings.warn("could not open a browser: open the URL by hand", stacklevel=3)
    return started.url


@python_face
def store_code(
    url_or_code: str,
    state: str | None = None,
    provider: str | None = None,
    user: str | None = None,
    creds: CredsArgument = None,
) -> CodeStored:
    """Keep the code that came back (`auth.code`): the whole address the browser shows
    after approving, or the bare code (with its `state` when several are pending)."""
    _check_text(url_or_code=url_or_code, state=state)
    url, code = flow.pasted(url_or_code)
    return steps.store_code(resolve_target(provider, user, creds), code=code, url=url, state=state)


@python_face
def exchange(
    provider: str | None = None,
    user: str | None = None,
    creds: CredsArgument = None,
    *,
    state: str | None = None,
) -> Exchanged:
    """Trade the code for a token and store it (`auth.exchange`); `verify` names its owner."""
    return steps.exchange(resolve_target(provider, user, creds), state=state)


@python_face
def verify(
    provider: str | None = None, user: str | None = None, creds: CredsArgument = None
) -> list[Identity]:
    """Ask the provider whose each new token (or `user`'s) is, and keep it so (`auth.verify`)."""
    identities = steps.verify(resolve_target(provider, user, creds))
    for identity in identities:  # a loop, not a comprehension: no frame of its own
        _warned(identity)
    return identities


@python_face
def login(
    provider: str | None = None,
    user: str | None = None,
    creds: CredsArgument = None,
    *,
    mode: str = "auto",
    scope: str | None = None,
    port: int | None = None,
    timeout: float = 300,
    browser: bool = True,
) -> Identity:
    """Log in in one call (`auth.login`): `mode` "browser" (a loopback callback), "paste"
    (the address read with `input()`), "device", or "auto" — which says what it chose and
    why (see the README's "In a notebook")."""
    check_mode(mode, provider)
    if port is not None and port not in range(65536):  # a str or a float is not in it
        raise UsageError(f"{setting('port', repr(port))} is not a port (0 to 65535)")
    _check_text(scope=scope)
    seconds = _seconds("timeout", timeout)
    return _warned(
        steps.login(
            resolve_target(provider, user, creds),
            scope=scope,
            port=port,
            timeout=seconds,
            browser=browser,
            mode=mode,
        )
    )


@python_face
def device(
    provider: str | None = None,
    user: str | None = None,
    creds: CredsArgument = None,
    *,
    scope: str | None = None,
    browser: bool = True,
    timeout: float | None = None,
) -> Identity:
    """Log in with the device flow (`auth.device`): type a short code on another device;
    wait until the code expires, or `timeout` seconds."""
    _check_text(scope=scope)
    seconds = None if timeout is None else _seconds("timeout", timeout)
    target = resolve_target(provider, user, creds)
    return _warned(steps.device(target, scope=scope, browser=browser, timeout=seconds))


@python_face
def refresh(
    provider: str | None = None, user: str | None = None, creds: CredsArgument = None
) -> Refreshed:
    """Refresh the owner's token now, due or not (`auth.refresh`)."""
    return steps.refresh(resolve_target(provider, user, creds))


@python_face
def check(
    provider: str | None = None, user: str | None = None, creds: CredsArgument = None
) -> Checked:
    """The provider's word on the stored token (`auth.check`): true while it works."""
    return steps.check(resolve_target(provider, user, creds))


@python_face
def revoke(
    provider: str | None = None, user: str | None = None, creds: CredsArgument = None
) -> Revoked:
    """Revoke the token at the provider and remove it here (`auth.revoke`)."""
    return steps.revoke(resolve_target(provider, user, creds))


@python_face
def logout(
    provider: str | None = None, user: str | None = None, creds: CredsArgument = None
) -> LoggedOut:
    """Remove the token here only (`auth.logout`); it works at the provider until revoked."""
    return _warned(steps.logout(resolve_target(provider, user, creds)))


@python_face
def use(provider: str | None = None, user: str | None = None, creds: CredsArgument = None) -> str:
    """Make `user` the provider's default owner (`auth.use`): `use("github", "octocat")`."""
    if not user:
        raise UsageError(
            "use() needs the owner to make the default: " + setting("user", "NAME", text=True),
            Hint("see {status} for the owners", status=Command("auth.status")),
        )
    return steps.use(resolve_target(provider, user, creds), user)


@python_face
def status(
    provider: str | None = None, user: str | None = None, creds: CredsArgument = None
) -> Status:
    """What the store holds, every secret masked (`auth.status`): all providers unless
    one is named. Shows as a table in a notebook."""
    return _warned(steps.status(resolve_target(None, None, creds), provider, user))
