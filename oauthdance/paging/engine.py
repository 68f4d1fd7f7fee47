"""Fast, polite, paginated REST fetching through a page source (`source.PageSource`): `Fetcher`.

Fast: keep-alive connections, and once the first page names its last page, the rest are
asked for ahead, several in flight at once, and handed on in order, all on the caller's
thread (`window.py`). Pages are checked as JSON but not decoded unless someone wants their
items (a JSON array is written out as it came). Polite: every request passes the
rate-limit gate (`gate.py`), and unchanged pages are asked for with `If-None-Match` (a 304
is free). Bounded: no more than `page_limit` pages unless `max_pages` says how many
(`page.py`). A refusal that is not a rate limit is an error that says what to do
(`refusal.py`). This module puts them together.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from oauthdance.base.advice import Command
from oauthdance.base.errors import response_text
from oauthdance.paging.gate import RateGate
from oauthdance.paging.options import DEFAULT_WORKERS, FetchOptions
from oauthdance.paging.page import Following, Page, checked_page
from oauthdance.paging.progress import Progress
from oauthdance.paging.refusal import refusal
from oauthdance.paging.source import PageAnswer, PageSource
from oauthdance.paging.window import Ahead, Sent, Window

if TYPE_CHECKING:  # imported where used: `invoke --list` loads the options' constants
    from oauthdance.paging.cache import ETagCache

Accepted = tuple[Sent, PageAnswer]  # a request and the answer `_answered` accepted


class Fetcher:
    """GETs pages through `source` (`keeper.BearerPages` in use; `AnsweredAtOnce` makes
    one of a plain `get`), honouring the limits."""

    def __init__(
        self,
        source: PageSource,
        options: FetchOptions | None = None,
        *,
        cache: ETagCache | None = None,
        progress: Progress | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        login: Command | None = None,
        token_from: str = "file",
    ) -> None:
        self.source, self.cache = source, cache
        self.options = options or FetchOptions()
        self.login = login or Command("auth.login")  # logs this owner in again
        self.token_from = token_from  # a store's kind, or "environment (GITHUB_TOKEN)"
        self.progress = progress or Progress(enabled=False)
        self.gate = RateGate(self.options.wait, self.options.max_wait, self.progress, sleep, clock)
        self._latest: Accepted | None = None  # the last answer read
        self.requests = self.not_modified = 0
        self.window = Window(DEFAULT_WORKERS)

    # -- one page --------------------------------------------------------------------------

    def get_page(self, url: str) -> Page:
        """One page, waiting out rate limits (and trying again after them) as it must."""
        return self._page(self._answered(self._send(url)))

    def _send(self, url: str) -> Sent:
        """The GET for `url`, sent once the rate-limit gate is open (`If-None-Match` when
        the page is cached); its answer is read by `_answered`."""
        number = self.gate.through()
        cached = self.cache.get(url) if self.cache else None
        headers = {"If-None-Match": cached.etag} if cached else {}
        started, cpu = time.perf_counter(), time.thread_time()
        pending = self.source.send(url, headers)
        waited = time.perf_counter() - started - (time.thread_time() - cpu)
        return Sent(url, cached, pending, waited, number)

    def _answered(self, sent: Sent) -> Accepted:
        """`sent`'s answer: a 200, or a 304 for a cached page. A rate limit is waited out
        (the gate closes; the next send waits at it) and the page asked for again; any
        other refusal raises. How long it waited off the CPU tells the `Window`."""
        while True:
            started, cpu = time.perf_counter(), time.thread_time()
            response = sent.pending.answer()
            self.window.waited(
                sent.waited + time.perf_counter() - started - (time.thread_time() - cpu)
            )
            self.requests += 1
            if response.status_code == 304 and sent.cached:
                self.not_modified += 1
                self._latest = sent, response
                return sent, response
            if response.status_code == 200:
                self.gate.accepted(response.headers)
                self._latest = sent, response
                return sent, response
            message = response_text(response)
            status, headers = response.status_code, response.headers
            if not self.gate.refused(status, headers, message, sent.number):
                raise refusal(sent.url, status, headers, message, self.login, self.token_from)
            sent = self._send(sent.url)

    def _page(self, answered: Accepted) -> Page:
        """The page in an answer `_answered` accepted: checked as JSON, and cached."""
        sent, response = answered
        remaining = response.headers.get("X-RateLimit-Remaining")
        links = _links_of(sent, response)
        if response.status_code == 304 and sent.cached:
            body = sent.cached.body
            return checked_page(sent.url, body, links, from_cache=True, remaining=remaining)
        page = checked_page(sent.url, response.content, links, remaining=remaining)
        if self.cache and response.headers.get("ETag"):
            self.cache.put(sent.url, response.headers["ETag"], page.body, links)
        return page

    # -- all pages -------------------------------------------------------------------------

    def pages(self, url: str) -> Iterator[Page]:
        """Every page in order: several in flight once the last page is known, else by
        `next`; bounded as `Following` says."""
        self.window = Window(self.options.workers)
        try:
            yield from self._pages(url)
        finally:
            if self.cache:
                self.cache.flush()

    def _pages(self, url: str) -> Iterator[Page]:
        following = Following(url, self.options.max_pages, self.options.page_limit)
        first = self.get_page(url)
        self.window.delivered()
        last = following.last_page(first)
        self.progress.update(
            pages=1, items=first.count, remaining=first.remaining, total_pages=last
        )
        yield first
        if last and last > 1 and self.options.workers > 1:
            yield from self._ahead().in_order(following.numbered(first, last))
            return
        self.window = Window(1)  # each page names the next: one URL is known at a time
        # with a window of one, each next link is asked for once the page before it is in
        yield from self._ahead().in_order(following.next_links(first, self._latest_links))

    def _ahead(self) -> Ahead[Accepted]:
        return Ahead(self.window, self._send, self.gate.is_open, self._answered, self._delivered)

    def _latest_links(self) -> tuple[str, dict[str, str]]:
        """The URL and links of the answer read last (the page before the next link)."""
        latest = self._latest
        assert latest is not None  # `in_order` answered that page before asking again
        return latest[0].url, _links_of(*latest)

    def _delivered(self, answered: Accepted) -> Page:
        page = self._page(answered)
        self.window.delivered()
        self.progress.update(pages=1, items=page.count, remaining=page.remaining)
        return page

    def items(self, url: str) -> Iterator[Any]:
        for page in self.pages(url):
            yield from page.items


def _links_of(sent: Sent, response: PageAnswer) -> dict[str, str]:
    """An answer's links by relation: the `Link` header's, or the cached page's for a 304."""
    if response.status_code == 304 and sent.cached:
        return sent.cached.links
    return {rel: link["url"] for rel, link in response.links.items()}
