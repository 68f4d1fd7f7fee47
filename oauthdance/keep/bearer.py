"""Using a stored token against the provider's API, the requests way: `BearerAuth`.

It sends the owner's current token (a `keeper.TokenKeeper`'s) to the API's own origin
only, and on a 401 refreshes once and resends (the shape of requests' `HTTPDigestAuth`).
"""

from __future__ import annotations

from typing import Any

import requests

from oauthdance.keep.keeper import TokenKeeper
from oauthdance.net import http
from oauthdance.protocol.urls import origin


class BearerAuth(TokenKeeper, requests.auth.AuthBase):
    """`Authorization: Bearer <token>` for one provider and owner (RFC 6750 §2.1)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if origin(str(request.url)) != self.origin:
            return request  # the token goes to its own API only
        found = self.current_token()
        request.headers["Authorization"] = f"Bearer {found.access_token}"
        if found.owner and found.record.get("refresh_token"):
            request.register_hook("response", self.handle_401)
        return request

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
