"""Using a stored token against the provider's API, the requests way: `BearerAuth`.

It sends the owner's current token (a `keeper.TokenKeeper`'s) to the API's own origin
only, and on a 401 refreshes once and resends (the shape of requests' `HTTPDigestAuth`).
A 401 that survives that (or meets a token that cannot be refreshed) is handed back as
requests would, but not silently: the first one warns (`TokenRejectedWarning`), naming
the call that fixes it as the face that made the session spells it.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from typing import Any
from urllib.parse import urlsplit

import requests

from oauthdance.base.advice import Command
from oauthdance.base.errors import (
    NotLoggedIn,
    OAuthDanceError,
    TokenRejected,
    TokenRejectedWarning,
    response_text,
)
from oauthdance.keep.keeper import TokenKeeper
from oauthdance.net import http
from oauthdance.protocol.providers import Provider
from oauthdance.protocol.urls import origin
from oauthdance.store import Store

# Frames in these folders are requests' or ours: a warning points past them, at the
# caller's `session.get(...)` line.
_LIBRARY_FOLDERS = tuple(
    folder + os.sep
    for folder in (
        os.path.dirname(os.path.abspath(requests.__file__)),  # requests/
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),  # oauthdance/
    )
)


class BearerAuth(TokenKeeper, requests.auth.AuthBase):
    """`Authorization: Bearer <token>` for one provider and owner (RFC 6750 §2.1)."""

    def __init__(self, creds: Store, provider: Provider, user: str | None) -> None:
        super().__init__(creds, provider, user)
        self._warned = threading.Event()  # a refused token is said once per session

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if origin(str(request.url)) != self.origin:
            return request  # the token goes to its own API only
        found = self.current_token()
        request.headers["Authorization"] = f"Bearer {found.access_token}"
        request.register_hook("response", self.handle_401)
        return request

    def handle_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        """On a 401 from our own API, refresh once (unless another worker already did) and
        resend; a 401 that stays is returned, with a warning the first time."""
        request = response.request
        if response.status_code != 401 or origin(str(request.url)) != self.origin:
            return response  # a redirect's other origin never had our token: not ours
        if hasattr(request.body, "read"):
            return response  # a streamed body cannot be sent twice
        sent = str(request.headers.get("Authorization", "")).removeprefix("Bearer ")
        try:
            fresh = self.renewed(sent)
        except NotLoggedIn as refused:  # its refresh token was refused too: log in again
            self.warn_rejected(refused)
            return response
        if fresh is None:
            self.warn_rejected(self.rejected(response))
            return response
        response.content  # noqa: B018 - read the body so the connection can be reused
        response.close()
        resend = request.copy()
        resend.deregister_hook("response", self.handle_401)
        resend.headers["Authorization"] = f"Bearer {fresh}"
        answer = response.connection.send(resend, **kwargs)
        answer.history.append(response)
        answer.request = resend
        if answer.status_code == 401:
            self.warn_rejected(self.rejected(answer))
        return answer

    def rejected(self, response: requests.Response) -> TokenRejected:
        """The error `fetch()` would raise for this 401, spelt for the session's face: the
        address without its query, the provider's word, the login (or the variable) that
        fixes it."""
        with self._lock:
            found = self._found
        owner, source = (found.owner, found.source) if found else (self.user, "file")
        where = urlsplit(str(response.request.url))
        login = Command("auth.login", provider=self.provider.name, user=owner)
        address = f"{where.scheme}://{where.netloc}{where.path}"
        return TokenRejected.at(address, response_text(response), login, source)

    def warn_rejected(self, error: OAuthDanceError) -> None:
        """Say `error` as a `TokenRejectedWarning`, once per session, at the caller's line."""
        if self._warned.is_set():
            return
        self._warned.set()
        if error.asked is None:
            error.bind(self.asked)
        warnings.warn(
            str(error),
            TokenRejectedWarning,
            stacklevel=_callers_level(),
        )


def _callers_level() -> int:
    """The `stacklevel` that names the first frame outside requests and oauthdance, as
    seen from the function that calls `warnings.warn`."""
    level, frame = 1, sys._getframe(1)
    while frame.f_code.co_filename.startswith(_LIBRARY_FOLDERS) and frame.f_back:
        level, frame = level + 1, frame.f_back
    return level


def api_session(auth: BearerAuth, pool_size: int = 10) -> http.Session:
    """A session for the provider's API: its base URL and headers, and `auth`."""
    session = http.new_session(auth.provider.api_root, auth=auth, pool_size=pool_size)
    session.headers.update(auth.provider.api_headers)
    return session
