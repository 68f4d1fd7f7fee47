"""Using a stored token against the provider's API, the requests way: `BearerAuth`.

It sends the owner's current token to the API's own origin only, refreshes it when it is
due, and on a 401 refreshes once and resends (the shape of requests' `HTTPDigestAuth`).
Many threads that meet a 401 together spend one refresh: the refresh re-reads the file
under its lock and finds a token that another thread already replaced.
"""

from __future__ import annotations

import threading
from typing import Any

import requests

from . import http
from .client import resolve_client
from .errors import NotLoggedIn
from .lifecycle import FoundToken, find_token, needs_refresh, refresh_token
from .oauth import is_vschar_text
from .providers import Provider
from .store import Store
from .urls import origin


class BearerAuth(requests.auth.AuthBase):
    """`Authorization: Bearer <token>` for one provider and owner (RFC 6750 §2.1)."""

    def __init__(self, creds: Store, provider: Provider, user: str | None) -> None:
        self.creds, self.user = creds, user
        self.provider = resolve_client(provider, creds.record(provider.name)).provider
        self.origin = origin(self.provider.api_root)
        self._found: FoundToken | None = None
        self._lock = threading.Lock()

    def current_token(self) -> FoundToken:
        """The token to send now, refreshed first when it is due."""
        with self._lock:
            if self._found is None or needs_refresh(self._found.record):
                self._found = find_token(self.creds, self.provider, self.user)
            found = self._found
        if not is_vschar_text(found.access_token):
            raise NotLoggedIn(
                f"the {self.provider.name} token from the {found.source} has characters other "
                "than visible ASCII (spaces, line breaks), so it cannot be sent",
                "set the variable again without them, or log in again",
            )
        return found

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if origin(str(request.url)) != self.origin:
            return request  # the token goes to its own API only
        found = self.current_token()
        request.headers["Authorization"] = f"Bearer {found.access_token}"
        if found.owner and found.record.get("refresh_token"):
            request.register_hook("response", self.handle_401)
        return request

    def renewed(self, sent: str) -> str | None:
        """After a 401 for the token `sent`: a fresh one (refreshed once, unless another
        worker already did), or None when this owner's token cannot be refreshed."""
        with self._lock:
            found = self._found
        if found is None or found.owner is None or not found.record.get("refresh_token"):
            return None
        fresh = refresh_token(self.creds, self.provider, found.owner, stale_token=sent)
        with self._lock:
            self._found = FoundToken(fresh["access_token"], found.owner, "file", dict(fresh))
        return fresh["access_token"]

    def handle_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        """On a 401, refresh once (unless another worker already did) and resend."""
        request = response.request
        if response.status_code != 401 or hasattr(request.body, "read"):
            return response  # a streamed body cannot be sent twice
        sent = str(request.headers.get("Authorization", "")).removeprefix("Bearer ")
        fresh = self.renewed(sent)
        if fresh is None:
            return response
        response.content  # noqa: B018 - read the body so the connection can be reused
        response.close()
        resend = request.copy()
        resend.deregister_hook("response", self.handle_401)
        resend.headers["Authorization"] = f"Bearer {fresh}"
        answer = response.connection.send(resend, **kwargs)
        answer.history.append(response)
        answer.request = resend
        return answer


def api_session(auth: BearerAuth, pool_size: int = 10) -> http.Session:
    """A session for the provider's API: its base URL and headers, and `auth`."""
    session = http.new_session(auth.provider.api_root, auth=auth, pool_size=pool_size)
    session.headers.update(auth.provider.api_headers)
    return session


class BearerPages:
    """The fetch engine's GETs with the owner's token, on `http.PagePool`: the same rules
    as `BearerAuth` (its own API origin only, refreshed when due, once more after a 401)."""

    def __init__(self, auth: BearerAuth, pool: http.PagePool) -> None:
        self.auth, self.pool = auth, pool

    def get(self, url: str, headers: dict[str, str] | None = None) -> http.Answer:
        if origin(url) != self.auth.origin:
            return self.pool.get(url, headers)
        token = self.auth.current_token().access_token
        reply = self.pool.get(url, {**(headers or {}), "Authorization": f"Bearer {token}"})
        if reply.status_code == 401:
            fresh = self.auth.renewed(token)
            if fresh is not None:
                reply = self.pool.get(url, {**(headers or {}), "Authorization": f"Bearer {fresh}"})
        return reply


def api_pages(auth: BearerAuth, workers: int) -> BearerPages:
    """The fetch engine's way to the provider's API: a keep-alive connection per worker."""
    return BearerPages(auth, http.PagePool(auth.provider.api_headers, size=workers))
