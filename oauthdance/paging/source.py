"""What the fetch engine needs of whatever brings it pages: `PageSource`.

As httpx's `BaseTransport`, an interface the engine is typed against rather than a
library: send a GET now, read its answer when ready (so several can be in flight).
`keep.keeper.BearerPages` is the one in use (the owner's token on `net.transport`'s
`PagePool`); `AnsweredAtOnce` makes one of anything with a `get(url, headers)` that answers
at once (a `requests.Session`, a test's fake). It lives here, beside its only user:
`keep` and `net` satisfy it without importing it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class PageAnswer(Protocol):
    """What the engine reads of an answer (`net.transport.Answer` is one, and so is a
    `requests.Response`)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes: ...

    @property
    def links(self) -> Mapping[str, Mapping[str, str]]:
        """The `Link` header by relation: `{"next": {"url": ...}}`."""
        ...

    def json(self) -> Any:
        """The body as JSON (an error answer's message is read from it)."""
        ...


class PendingPage(Protocol):
    """A GET on its way (`net.transport.Pending` is one)."""

    def answer(self) -> PageAnswer:
        """Its answer, waiting for it if need be."""
        ...

    def discard(self) -> None:
        """Give it up unread: its connection is not reused."""
        ...


class PageSource(Protocol):
    """Sends the engine's GETs: `headers` are the engine's own (`If-None-Match`); the
    source adds what it must (the token, the API's headers)."""

    def send(self, url: str, headers: dict[str, str]) -> PendingPage: ...


@dataclass(frozen=True)
class Answered:
    """An answer already read, as a `PendingPage`."""

    reply: PageAnswer

    def answer(self) -> PageAnswer:
        return self.reply

    def discard(self) -> None:
        """Nothing to give up: the answer is in."""


class AnsweredAtOnce:
    """A `PageSource` from a `get(url, headers)` that answers at once (nothing is sent
    ahead of its answer being read)."""

    def __init__(self, get: Callable[[str, dict[str, str]], PageAnswer]) -> None:
        self.get = get

    def send(self, url: str, headers: dict[str, str]) -> Answered:
        return Answered(self.get(url, headers))
