"""The owner's current token for one API, kept for many threads: `TokenKeeper`.

It finds the token (the environment's, else the stored owner's), refreshes it when it is
due, and after a 401 refreshes it once however many threads met the 401 together (the
refresh re-reads the store under its turn and finds a token another thread already
replaced). It speaks no HTTP library: `BearerPages` puts it on the fetch engine's
`transport.PagePool`, and `bearer.BearerAuth` on requests. It is used after the call that
made it has returned (a notebook's session), so it keeps the face that made it: its errors
suggest what that face runs.
"""

from __future__ import annotations

import threading

from oauthdance.base.advice import asked
from oauthdance.base.errors import NotLoggedIn, answering
from oauthdance.keep.lifecycle import FoundToken, find_token, needs_refresh, refresh_token
from oauthdance.keep.target import resolve_client
from oauthdance.net import transport
from oauthdance.protocol.oauth import is_vschar_text
from oauthdance.protocol.providers import Provider
from oauthdance.protocol.urls import origin
from oauthdance.store import Store


class TokenKeeper:
    """The token to send to one provider's API (at `origin` only) for one owner."""

    def __init__(self, creds: Store, provider: Provider, user: str | None) -> None:
        self.creds, self.user = creds, user
        self.provider = resolve_client(provider, creds.record(provider.name)).provider
        self.origin = origin(self.provider.api_root)
        self._found: FoundToken | None = None
        self._lock = threading.Lock()
        self.asked = asked()

    def current_token(self) -> FoundToken:
        """The token to send now, refreshed first when it is due."""
        with answering(self.asked):
            return self._current_token()

    def _current_token(self) -> FoundToken:
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

    def renewed(self, sent: str) -> str | None:
        """After a 401 for the token `sent`: a fresh one (refreshed once, unless another
        worker already did), or None when this owner's token cannot be refreshed."""
        with self._lock:
            found = self._found
        if found is None or found.owner is None or not found.record.get("refresh_token"):
            return None
        with answering(self.asked):
            fresh = refresh_token(self.creds, self.provider, found.owner, stale_token=sent)
        with self._lock:
            self._found = FoundToken(fresh["access_token"], found.owner, found.source, dict(fresh))
        return fresh["access_token"]


class BearerPages:
    """The fetch engine's GETs with the owner's token, on `transport.PagePool`: the same
    rules as `BearerAuth` (its own API origin only, refreshed when due, once more after a
    401)."""

    def __init__(self, keeper: TokenKeeper, pool: transport.PagePool) -> None:
        self.keeper, self.pool = keeper, pool

    def get(self, url: str, headers: dict[str, str] | None = None) -> transport.Answer:
        return self.send(url, headers).answer()

    def send(self, url: str, headers: dict[str, str] | None = None) -> transport.Pending:
        """The GET sent now, its answer read when asked for (see `transport.PagePool`)."""
        if origin(url) != self.keeper.origin:
            return self.pool.send(url, headers)
        token = self.keeper.current_token().access_token
        sent = self.pool.send(url, {**(headers or {}), "Authorization": f"Bearer {token}"})

        def answer() -> transport.Answer:
            reply = sent.answer()
            if reply.status_code == 401:
                fresh = self.keeper.renewed(token)
                if fresh is not None:
                    reply = self.pool.get(
                        url, {**(headers or {}), "Authorization": f"Bearer {fresh}"}
                    )
            return reply

        return transport.Pending(answer, sent.discard)


def api_pages(keeper: TokenKeeper, workers: int) -> BearerPages:
    """The fetch engine's way to the provider's API: a keep-alive connection per request
    in flight (at most `workers`)."""
    return BearerPages(keeper, transport.PagePool(keeper.provider.api_headers, size=workers))
