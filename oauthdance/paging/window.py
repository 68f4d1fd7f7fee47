"""Sending ahead: several pages' requests in flight at once, their pages handed on in
order, all on the caller's thread; `Window` says how many (one at first, more only while
the fetch waits on the network rather than works, never more than `workers`)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from oauthdance.base.errors import OAuthDanceError

if TYPE_CHECKING:
    from oauthdance.paging.cache import Cached
    from oauthdance.paging.page import Page
    from oauthdance.paging.source import PendingPage

A = TypeVar("A")  # an answer as the engine reads it


@dataclass
class Sent:
    """A page's request on its way: what was cached for it, its answer to come, how long
    sending it waited off the CPU (connecting), and how many requests the fetcher had
    sent before it."""

    url: str
    cached: Cached | None
    pending: PendingPage
    waited: float
    number: int


class Ahead(Generic[A]):
    """Pages in the order of their URLs, as many requests in flight as the `Window` says.

    `send` sends a URL's request (waiting at the rate-limit gate), `may_send` says whether
    the gate is open for one more now, `answer` reads a request's answer (retrying it
    after a rate limit) and `deliver` turns an answer into the page handed on.
    """

    def __init__(
        self,
        window: Window,
        send: Callable[[str], Sent],
        may_send: Callable[[], bool],
        answer: Callable[[Sent], A],
        deliver: Callable[[A], Page],
    ) -> None:
        self.window, self.send, self.may_send = window, send, may_send
        self.answer, self.deliver = answer, deliver

    def in_order(self, urls: Iterator[str]) -> Iterator[Page]:
        """Each page's answer is read, the requests after it topped up (unless a rate
        limit closed the gate: then this page is handed on first), and only then is the
        page checked and handed on, so the server works on the next pages while we work on
        this one. Threads would add nothing but hand-overs: the waiting is the sockets',
        and at most `window.size` answers wait to be read."""
        flying: deque[Sent] = deque()  # sent, in order, not yet answered
        more = True
        try:
            while True:
                more = more and self._send_ahead(flying, urls)  # the window may have grown
                if not flying:  # at the end, or the gate is closed: wait at it, then send
                    url = next(urls, None) if more else None
                    if url is None:
                        return
                    flying.append(self.send(url))
                answered = self.answer(flying.popleft())
                try:
                    more = more and self._send_ahead(flying, urls)
                except OAuthDanceError:  # the next URL is wrong: this page first, then that
                    yield self.deliver(answered)
                    raise
                yield self.deliver(answered)
        finally:
            for sent in flying:  # not wanted any more: their connections are not reused
                sent.pending.discard()

    def _send_ahead(self, flying: deque[Sent], urls: Iterator[str]) -> bool:
        """Send the next pages' requests until the window is full (or the gate closed);
        whether `urls` may have more."""
        while len(flying) < self.window.size and self.may_send():
            url = next(urls, None)
            if url is None:
                return False
            flying.append(self.send(url))
        return True


class Window:
    """How many requests to keep in flight: enough that our own work covers the network's
    wait, no more. With `size` requests in flight, the fetch works on other pages while a
    request travels; a wait that work does not cover shows as time the fetch sits blocked
    on an answer (`waited`). Each whole page of CPU time (`cpu`) that an answer still
    keeps it waiting, on average over a round of answers (`size` of them, and at least
    two: one slow answer is a hiccup), is one more request worth having in flight, up to
    `cap`. It never narrows: a wider window costs connections, not CPU. On a fast link it
    stays at one (a server slower than we are keeps us waiting less than a page, however
    many are in flight); at 20 ms a page, it reaches the cap.

    `cpu` is the process's CPU time over the recent pages (from the second: the first
    pays for connecting and setting up), divided by their number.
    """

    RECENT_PAGES = 8  # pages whose average CPU time is a page's
    SHORTEST_ROUND = 2

    def __init__(self, cap: int, cpu_clock: Callable[[], float] = time.process_time) -> None:
        self.cap, self.size = max(cap, 1), 1
        self.cpu_clock = cpu_clock
        self._waits: list[float] = []  # this round's
        # from the first page handed on: before it, the fetch connects and sets up
        self._marks: deque[float] = deque(maxlen=self.RECENT_PAGES + 1)

    def waited(self, seconds: float) -> None:
        """The fetch sat `seconds` waiting for an answer (or a connection) off the CPU."""
        self._waits.append(max(seconds, 0.0))

    def delivered(self) -> None:
        """A page was handed on: note the process's CPU time; a round ends, it may grow."""
        marks = self._marks
        marks.append(self.cpu_clock())
        if len(marks) < 2 or len(self._waits) < max(self.size, self.SHORTEST_ROUND):
            return
        cpu = (marks[-1] - marks[0]) / (len(marks) - 1)
        if cpu <= 0:
            return
        waiting = sum(self._waits) / len(self._waits)
        self.size = min(self.cap, self.size + int(waiting / cpu))
        self._waits.clear()
