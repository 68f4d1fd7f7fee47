"""The Python API for notebooks and scripts: tokens and ready-to-use sessions, no invoke.

import oauthdance
gh = oauthdance.session("github")          # sends the token and GitHub's API headers
repos = gh.get("/user/repos", params={"per_page": 100}).json()
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .app import resolve_app
from .lifecycle import FoundToken, find_token, needs_refresh, refresh
from .providers import Provider, get_provider
from .store import CredentialsFile

if TYPE_CHECKING:
    import requests

RETRY_TOTAL = 3


def default_creds_path() -> Path:
    """`OAUTHDANCE_CREDS`, else `creds.json` in the working folder (as the tasks use)."""
    return Path(os.environ.get("OAUTHDANCE_CREDS") or "creds.json")


class Credentials(CredentialsFile):
    """The credentials file, with what a notebook asks of it."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(path or default_creds_path())

    def providers(self) -> list[str]:
        return list(self.read())

    def owners(self, provider: str = "github") -> list[str]:
        return list(self.record(provider).get("tokens") or {})

    def default_owner(self, provider: str = "github") -> str | None:
        return self.record(provider).get("default_user")

    def token(self, provider: str = "github", user: str | None = None) -> str:
        return find_token(self, provider_named(self, provider), user).access_token

    def session(self, provider: str = "github", user: str | None = None) -> requests.Session:
        return make_session(self, provider_named(self, provider), user)


def provider_named(creds: CredentialsFile, name: str) -> Provider:
    """The provider called `name`, as this credentials file knows it (OIDC included)."""
    return get_provider(name, None, creds.record(name))


def credentials_file(creds: str | os.PathLike[str] | CredentialsFile | None) -> CredentialsFile:
    return creds if isinstance(creds, CredentialsFile) else Credentials(creds)


def token(
    provider: str = "github",
    user: str | None = None,
    creds: str | os.PathLike[str] | CredentialsFile | None = None,
) -> str:
    """A valid access token: the environment's, else the stored owner's (refreshed if due)."""
    store = credentials_file(creds)
    return find_token(store, provider_named(store, provider), user).access_token


def session(
    provider: str = "github",
    user: str | None = None,
    creds: str | os.PathLike[str] | CredentialsFile | None = None,
) -> requests.Session:
    """A `requests.Session` for the provider's API: token, headers, refresh and retries."""
    store = credentials_file(creds)
    return make_session(store, provider_named(store, provider), user)


def _origin(url: str) -> tuple[str, str]:
    """(scheme, host:port): where a token may be sent."""
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def read_environment_once(session: requests.Session) -> None:
    """Settle per-session what requests would look up in the environment on every request.

    With no proxy configured, requests still checks proxy variables and ~/.netrc on each
    call (about 1 ms; the token is sent explicitly, so netrc never applies). Where a proxy
    is configured, the per-request lookup stays, so NO_PROXY keeps working.
    """
    from urllib.request import getproxies

    if any(getproxies().values()):
        return
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False


def make_session(
    creds: CredentialsFile, provider: Provider, user: str | None, pool_size: int = 16
) -> Any:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    from .http import USER_AGENT

    class TokenSession(requests.Session):
        """Sends the current token; refreshes it when due, and once more after a 401.

        Paths starting with `/` are relative to the provider's API base. Idempotent
        requests are retried on connection errors and 502/503/504, with backoff and jitter.
        """

        def __init__(self) -> None:
            super().__init__()
            self.creds, self.user = creds, user
            self.provider = resolve_app(provider, creds.record(provider.name)).provider
            self.headers.update({"User-Agent": USER_AGENT, **self.provider.api_headers})
            self._origin = _origin(self.provider.api_root)
            retry = Retry(
                total=RETRY_TOTAL,
                backoff_factor=0.3,
                backoff_jitter=0.2,
                status_forcelist=(502, 503, 504),
                allowed_methods=Retry.DEFAULT_ALLOWED_METHODS,
                respect_retry_after_header=True,
                raise_on_status=False,
            )
            adapter = HTTPAdapter(max_retries=retry, pool_maxsize=max(pool_size, 1))
            self.mount("http://", adapter)
            self.mount("https://", adapter)
            self._found: FoundToken | None = None
            read_environment_once(self)

        def current_token(self) -> FoundToken:
            if self._found is None or needs_refresh(self._found.record):
                self._found = find_token(self.creds, self.provider, self.user)
            return self._found

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if url.startswith("/"):
                url = self.provider.api_root + url
            headers = dict(kwargs.pop("headers", None) or {})
            if _origin(url) != self._origin:  # the token goes to its own API only
                return super().request(method, url, *args, headers=headers, **kwargs)
            found = self.current_token()
            headers["Authorization"] = f"Bearer {found.access_token}"
            response = super().request(method, url, *args, headers=headers, **kwargs)
            if response.status_code == 401 and found.owner and found.record.get("refresh_token"):
                fresh = refresh(
                    self.creds, self.provider, found.owner, stale_token=found.access_token
                )
                self._found = FoundToken(fresh["access_token"], found.owner, "file", fresh)
                headers["Authorization"] = f"Bearer {fresh['access_token']}"
                response = super().request(method, url, *args, headers=headers, **kwargs)
            return response

    return TokenSession()
