"""Fast, polite, paginated REST fetching through an authenticated page source.

Fast: keep-alive connections, and once the first page names its last page, the rest are
asked for ahead, several in flight at once, and handed on in order, all on the caller's
thread. How many are in flight adapts (`Window`): one at first, more only while the fetch
waits on the network rather than works, never more than `workers`. Pages are checked as
JSON but not decoded unless someone wants their items (a JSON array is written out as it
came). Polite: primary limits wait for the reset (or stop, with --no-wait), secondary
limits honour `retry-after` or back off from 60 s, and unchanged pages are asked for with
`If-None-Match` (a 304 is free). Bounded: no wait longer than `max_wait` (a longer one
stops, saying when to retry) and no more than `page_limit` pages unless `max_pages` says
how many, so a hostile or broken `Link` header cannot keep a fetch going for ever.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from oauthdance.base.advice import Command, Hint
from oauthdance.base.errors import (
    NetworkError,
    NotLoggedIn,
    OAuthDanceError,
    ProviderError,
    RateLimited,
    UsageError,
    printable,
    response_text,
)
from oauthdance.paging.options import DEFAULT_WORKERS, LONGEST_WAIT, FetchOptions
from oauthdance.paging.progress import Progress
from oauthdance.protocol.oauth import split_scopes

if TYPE_CHECKING:  # imported where used: `invoke --list` loads this module's constants
    from oauthdance.net.transport import Pending
    from oauthdance.paging.cache import Cached, ETagCache

PER_PAGE = 100
SECONDARY_MIN_WAIT = 60.0
SECONDARY_MAX_WAIT = 900.0  # the longest our own back-off grows (without a retry-after)
MAX_SECONDARY_HITS = 6


@dataclass
class Page:
    """One page: its JSON as it came, how many items it holds, where the next ones are."""

    url: str
    body: bytes = field(repr=False)
    count: int  # items on the page
    array: bool  # the body is a JSON array of the items, fit to be written out as it is
    links: dict[str, str] = field(default_factory=dict)
    from_cache: bool = False
    remaining: str | None = None

    @cached_property
    def items(self) -> list[Any]:
        """The items, decoded when first asked for."""
        from oauthdance.base.jsonio import loads

        return items_of(loads(self.body))


def checked_page(url: str, body: bytes, links: dict[str, str], **more: Any) -> Page:
    """A page whose body is JSON (checked whole); HTML or a broken-off body is a clear
    error. An array is only counted; anything else is decoded to find its items."""
    from oauthdance.base.jsonio import array_length

    try:
        length = array_length(body)
    except ValueError as exc:
        start = printable(body[:60].decode("utf-8", errors="replace"), 60)
        raise NetworkError(
            f"GET {printable(url)} answered HTTP 200 with something that is not JSON "
            f"({start!r}...)",
            "check the path (and the provider's api_base); what was fetched so far is saved",
        ) from exc
    if length is not None:
        return Page(url, body, length, True, links, **more)
    page = Page(url, body, 0, False, links, **more)
    page.count = len(page.items)
    return page


def with_query(url: str, params: dict[str, Any]) -> str:
    """`url` with `params` merged into its query (later values win)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update({k: str(v) for k, v in params.items()})
    return urlunsplit(parts._replace(query=urlencode(query)))


def items_of(body: Any) -> list[Any]:
    """A list answer is the items; a search answer keeps them under `items`; else one item."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return body["items"]
    return [body]


class Fetcher:
    """GETs pages through `session` (anything with `get(url, headers)` that answers as
    requests does: `keeper.BearerPages` in use), honouring the limits."""

    def __init__(
        self,
        session: Any,
        options: FetchOptions | None = None,
        *,
        cache: ETagCache | None = None,
        progress: Progress | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        login: Command | None = None,
        token_from: str = "file",
    ) -> None:
        self.session, self.cache = session, cache
        self.options = options = options or FetchOptions()
        self.wait, self.max_wait, self.page_limit = (
            options.wait,
            options.max_wait,
            options.page_limit,
        )
        self.login = login or Command("auth.login")  # logs this owner in again
        self.token_from = token_from  # "file", or "environment (GITHUB_TOKEN)"
        self.progress = progress or Progress(enabled=False)
        self.sleep, self.clock = sleep, clock
        self._gate_until = 0.0  # no request leaves before this instant
        self._gate_primary = False  # the gate waits for a primary-limit reset
        self._sent = 0  # requests sent
        self._latest: tuple[Sent, Any] | None = None  # the last answer read
        self._gate_closed_after = 0  # requests sent when the gate last closed
        self._announced = 0.0
        self._secondary_hits = 0
        self.requests = self.not_modified = 0
        self.window = Window(DEFAULT_WORKERS)

    # -- one page --------------------------------------------------------------------------

    def get_page(self, url: str) -> Page:
        """One page, waiting out rate limits (and trying again after them) as it must."""
        return self._page(*self._answered(self._send(url)))

    def _send(self, url: str) -> Sent:
        """The GET for `url`, sent once the rate-limit gate is open (`If-None-Match` when
        the page is cached); its answer is read by `_answered`."""
        self._wait_for_gate()
        cached = self.cache.get(url) if self.cache else None
        headers = {"If-None-Match": cached.etag} if cached else {}
        started, cpu = time.perf_counter(), time.thread_time()
        send = getattr(self.session, "send", None)
        if send is None:  # a session that only answers at once
            from oauthdance.net.transport import Pending

            response = self.session.get(url, headers=headers)
            pending = Pending(lambda: response)
        else:
            pending = send(url, headers)
        waited = time.perf_counter() - started - (time.thread_time() - cpu)
        self._sent += 1
        return Sent(url, cached, pending, waited, self._sent)

    def _answered(self, sent: Sent) -> tuple[Sent, Any]:
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
                self._secondary_hits = 0
                if response.headers.get("X-RateLimit-Remaining") == "0":
                    # polite: no further request leaves before the reset
                    self._close_gate(self._reset_time(response.headers), primary=True)
                self._latest = sent, response
                return sent, response
            self._handle_refusal(sent, response)
            sent = self._send(sent.url)

    def _page(self, sent: Sent, response: Any) -> Page:
        """The page in an answer `_answered` accepted: checked as JSON, and cached."""
        remaining = response.headers.get("X-RateLimit-Remaining")
        links = _links_of(sent, response)
        if response.status_code == 304 and sent.cached:
            body = sent.cached.body
            return checked_page(sent.url, body, links, from_cache=True, remaining=remaining)
        page = checked_page(sent.url, response.content, links, remaining=remaining)
        if self.cache and response.headers.get("ETag"):
            self.cache.put(sent.url, response.headers["ETag"], page.body, links)
        return page

    def _handle_refusal(self, sent: Sent, response: Any) -> None:
        """Wait (and return, to retry) for rate limits; raise for everything else."""
        url, status, headers = sent.url, response.status_code, response.headers
        message = response_text(response)
        if status in (403, 429) and headers.get("Retry-After"):
            self._secondary(self._retry_after(headers["Retry-After"]), sent.number)
            return
        if status in (403, 429) and headers.get("X-RateLimit-Remaining") == "0":
            self._close_gate(self._reset_time(headers), primary=True)
            return
        if status in (403, 429) and "secondary rate limit" in message.lower():
            self._secondary(None, sent.number)
            return
        if status == 401:
            hint = Hint("log in again: {login}", login=self.login)
            if self.token_from != "file":  # logging in cannot fix a variable's token
                hint = Hint(
                    f"the token came from the {self.token_from}: set a valid one there, or "
                    "unset it to use the stored one"
                )
            raise NotLoggedIn(
                f"the provider refused the token at {printable(url)} ({message})", hint
            )
        if status in (403, 404):
            missing = _missing_scopes(headers)
            if missing:
                raise ProviderError(
                    f"http_{status}",
                    f"{urlsplit(url).path} needs one of the scopes {', '.join(missing)}, which "
                    f"the token lacks (it has: {headers.get('X-OAuth-Scopes') or 'none'})",
                    Hint(
                        "log in again asking for it: {login}",
                        login=self.login.with_flags(scope=printable(missing[0], 80)),
                    ),
                )
        raise ProviderError(
            f"http_{status}",
            f"GET {url}: {message}",
            "check the path and its parameters" if status in (404, 422) else "try again later",
            status,
        )

    def _secondary(self, retry_after: float | None, number: int) -> None:
        """Back off from a secondary limit: `retry-after`, else 60 s doubling with each
        refusal in a row. A request that left before the gate last closed met the limit
        already waited for (it was in flight with the one refused first): it is only sent
        again, with no back-off of its own."""
        if number <= self._gate_closed_after:
            return
        self._secondary_hits += 1
        hits = self._secondary_hits
        if hits > MAX_SECONDARY_HITS:
            raise ProviderError(
                "secondary_rate_limit",
                "the provider keeps refusing: too many requests",
                "wait a few minutes, or use fewer --workers",
            )
        backoff = min(SECONDARY_MIN_WAIT * 2 ** (hits - 1), SECONDARY_MAX_WAIT)
        self._close_gate(
            self.clock() + (backoff if retry_after is None else retry_after), primary=False
        )

    def _retry_after(self, value: str) -> float | None:
        """Seconds from a `Retry-After` (delay-seconds or an HTTP date, RFC 9110 §10.2.3);
        None when it is neither, so the usual back-off applies."""
        value = value.strip()
        if value.isdigit():
            return min(float(value), LONGEST_WAIT)
        from email.utils import parsedate_to_datetime

        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            return None
        return min(max(moment.timestamp() - self.clock(), 0.0), LONGEST_WAIT)

    def _reset_time(self, headers: Any) -> float:
        """When the primary limit resets (`X-RateLimit-Reset`, epoch seconds); a missing or
        unreadable value, or one more than a day away, means a minute from now."""
        value = str(headers.get("X-RateLimit-Reset") or "").strip()
        now = self.clock()
        if not value.isdigit() or float(value) > now + 86400:
            return now + 60
        # at least a second away: a reset the server rounds down, or a clock running ahead
        # of the server's, must not turn into a stream of requests that are sure to fail
        return max(float(value), now + 1)

    def _close_gate(self, until: float, primary: bool) -> None:
        """No request leaves before `until`; a primary gate stops at once with --no-wait."""
        if until > self._gate_until:
            self._gate_until, self._gate_primary = until, primary
            self._gate_closed_after = self._sent

    def _gate_open(self) -> bool:
        return self._gate_until <= self.clock()

    def _wait_for_gate(self) -> None:
        while True:
            until, primary = self._gate_until, self._gate_primary
            announce = until > self._announced
            if announce and self.wait:
                self._announced = until
            left = until - self.clock()
            if left <= 0:
                return
            stamp = datetime.fromtimestamp(until, timezone.utc).strftime("%H:%M:%S UTC")
            if not self.wait or left > self.max_wait:
                raise self._stop(primary, stamp, left, until)
            if announce:
                kind = "rate limit spent" if primary else "secondary rate limit"
                self.progress.note(f"{kind}: waiting {left:.0f} s (until {stamp})")
            self.sleep(min(left, 1.0))

    def _stop(self, primary: bool, stamp: str, left: float, until: float) -> RateLimited:
        """Stopping at a limit rather than waiting for it: why, and when to run it again."""
        kind = "the rate limit is spent" if primary else "a secondary rate limit applies"
        if not self.wait:
            why, instead = "", "drop --no-wait to wait for it"
        else:
            why, instead = f", longer than --max-wait {self.max_wait:g} s", "raise --max-wait"
        return RateLimited(
            f"{kind}; it resets at {stamp} (in {left:.0f} s){why}",
            f"run the same command again after {stamp}, or {instead}",
            until,
        )

    # -- all pages -------------------------------------------------------------------------

    def pages(self, url: str) -> Iterator[Page]:
        """Every page in order: several in flight once the last page is known, else by
        `next`.

        At most `max_pages`; without it, more than `page_limit` pages is an error (before
        the first page is handed on when the last page is known, else when it is reached).
        """
        max_pages, workers = self.options.max_pages, self.options.workers
        limit = self.page_limit if max_pages is None else max_pages
        self.window = Window(workers)
        try:
            yield from self._pages(url, max_pages, limit, workers)
        finally:
            if self.cache:
                self.cache.flush()

    def _pages(self, url: str, max_pages: int | None, limit: int, workers: int) -> Iterator[Page]:
        first = self.get_page(url)
        self.window.delivered()
        last = _page_number(first.links.get("last"))
        if last and last > limit:
            if max_pages is None:
                raise self._too_many(url, f"its last page is page {last:,}")
            last = limit
        self.progress.update(
            pages=1, items=first.count, remaining=first.remaining, total_pages=last
        )
        yield first
        if last and last > 1 and workers > 1:
            template = first.links["last"]
            urls = (with_query(template, {"page": n}) for n in range(2, last + 1))
            yield from self._in_order(urls)
            return
        self.window = Window(1)  # each page names the next: one URL is known at a time
        yield from self._in_order(self._next_links(first, url, max_pages, limit))

    def _next_links(
        self, first: Page, url: str, max_pages: int | None, limit: int
    ) -> Iterator[str]:
        """The `next` links, each asked for once the page before it is answered (with a
        window of one, `_in_order` asks just then): no more than `limit` pages, and none
        that was fetched already."""
        page_url, links, count, seen = first.url, first.links, 1, {first.url}
        while links.get("next"):
            if count >= limit:
                if max_pages is None:
                    raise self._too_many(url, f"its page {limit:,} links to a next one")
                return
            if links["next"] in seen:
                raise NetworkError(
                    f"the next-page link of {printable(page_url)} points back to a page "
                    "already fetched",
                    "the provider's pagination is broken; use --max-pages to stop earlier",
                )
            seen.add(links["next"])
            count += 1
            yield links["next"]
            latest = self._latest
            assert latest is not None  # `_in_order` answered that page before asking again
            page_url, links = latest[0].url, _links_of(*latest)

    def _too_many(self, url: str, why: str) -> UsageError:
        return UsageError(
            f"{printable(urlsplit(url).path)} has more than {self.page_limit:,} pages "
            f"(--page-limit): {why}",
            "fetch the first N pages with --max-pages N, or raise --page-limit",
        )

    def _in_order(self, urls: Iterator[str]) -> Iterator[Page]:
        """Pages in the order of `urls`, as many requests in flight as the `Window` says,
        all on this thread: each page's answer is read, the requests after it topped up
        (unless a rate limit closed the gate: then this page is handed on first), and only
        then is the page checked and handed on, so the server works on the next pages
        while we work on this one. Threads would add nothing but hand-overs: the waiting
        is the sockets', and at most `window.size` answers wait to be read."""
        flying: deque[Sent] = deque()  # sent, in order, not yet answered
        more = True
        try:
            while True:
                more = more and self._send_ahead(flying, urls)  # the window may have grown
                if not flying:  # at the end, or the gate is closed: wait at it, then send
                    url = next(urls, None) if more else None
                    if url is None:
                        return
                    flying.append(self._send(url))
                answered = self._answered(flying.popleft())
                try:
                    more = more and self._send_ahead(flying, urls)
                except OAuthDanceError:  # the next URL is wrong: this page first, then that
                    yield self._delivered(self._page(*answered))
                    raise
                yield self._delivered(self._page(*answered))
        finally:
            for sent in flying:  # not wanted any more: their connections are not reused
                sent.pending.discard()

    def _send_ahead(self, flying: deque[Sent], urls: Iterator[str]) -> bool:
        """Send the next pages' requests until the window is full (or the gate closed);
        whether `urls` may have more."""
        while len(flying) < self.window.size and self._gate_open():
            url = next(urls, None)
            if url is None:
                return False
            flying.append(self._send(url))
        return True

    def _delivered(self, page: Page) -> Page:
        self.window.delivered()
        self.progress.update(pages=1, items=page.count, remaining=page.remaining)
        return page

    def items(self, url: str) -> Iterator[Any]:
        for page in self.pages(url):
            yield from page.items


@dataclass
class Sent:
    """A page's request on its way: what was cached for it, its answer to come, how long
    sending it waited off the CPU (connecting), and how many requests the fetcher had
    sent before it."""

    url: str
    cached: Cached | None
    pending: Pending
    waited: float
    number: int


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


def _links_of(sent: Sent, response: Any) -> dict[str, str]:
    """An answer's links by relation: the `Link` header's, or the cached page's for a 304."""
    if response.status_code == 304 and sent.cached:
        return sent.cached.links
    return {rel: link["url"] for rel, link in response.links.items()}


def _page_number(url: str | None) -> int | None:
    if not url:
        return None
    value = dict(parse_qsl(urlsplit(url).query)).get("page")
    return int(value) if value and value.isdigit() else None


def _missing_scopes(headers: Any) -> list[str]:
    """The endpoint's accepted scopes, if the token has none of them."""
    accepted = split_scopes(headers.get("X-Accepted-OAuth-Scopes"))
    granted = set(split_scopes(headers.get("X-OAuth-Scopes")))
    return [] if not accepted or granted & set(accepted) else accepted


def api_url(api_root: str, path: str, params: dict[str, Any]) -> str:
    """The first page's URL: `path` under the API root, with per_page=100 unless given."""
    url = path if path.startswith(("http://", "https://")) else api_root + "/" + path.lstrip("/")
    return with_query(url, {"per_page": PER_PAGE, **params})
