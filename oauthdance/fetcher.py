"""Fast, polite, paginated REST fetching over an authenticated session.

Fast: keep-alive connections, and once the first page names its last page, the rest are
fetched concurrently (a bounded window) and handed on in order. Polite: primary limits
wait for the reset (or stop, with --no-wait), secondary limits honour `retry-after` or
back off from 60 s, and unchanged pages are asked for with `If-None-Match` (a 304 is free).
Bounded: no wait longer than `max_wait` (a longer one stops, saying when to retry) and no
more than `page_limit` pages unless `max_pages` says how many, so a hostile or broken
`Link` header cannot keep a fetch going for ever.
"""

from __future__ import annotations

import shlex
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .errors import (
    ConfigError,
    NetworkError,
    NotLoggedIn,
    ProviderError,
    RateLimited,
    UsageError,
    printable,
    response_text,
)
from .oauth import split_scopes
from .progress import Progress

if TYPE_CHECKING:  # imported where used: `invoke --list` loads this module's constants
    from concurrent.futures import Future

    from .cache import ETagCache

DEFAULT_WORKERS = 8
MAX_WORKERS = 100  # GitHub: no more than 100 concurrent requests
PER_PAGE = 100
SECONDARY_MIN_WAIT = 60.0
SECONDARY_MAX_WAIT = 900.0  # the longest our own back-off grows (without a retry-after)
MAX_SECONDARY_HITS = 6
DEFAULT_MAX_WAIT = 900  # seconds: a rate limit that needs longer stops the fetch
LONGEST_WAIT = 86400  # no --max-wait above a day; a retry-after beyond it means a day
DEFAULT_PAGE_LIMIT = 10_000  # pages: past it a fetch must say how many with --max-pages


@dataclass
class Page:
    """One page of items, and where the next ones are."""

    url: str
    items: list[Any]
    links: dict[str, str] = field(default_factory=dict)
    from_cache: bool = False
    remaining: str | None = None


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
    """GETs pages through `session` (an `oauthdance.session`), honouring the limits."""

    def __init__(
        self,
        session: Any,
        *,
        cache: ETagCache | None = None,
        wait: bool = True,
        progress: Progress | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        login: str = "invoke auth.login",
        token_from: str = "file",
        max_wait: float = DEFAULT_MAX_WAIT,
        page_limit: int = DEFAULT_PAGE_LIMIT,
    ) -> None:
        self.session, self.cache, self.wait = session, cache, wait
        self.login = login  # the command that logs this owner in again, unquoted
        self.token_from = token_from  # "file", or "environment (GITHUB_TOKEN)"
        self.max_wait, self.page_limit = max_wait, page_limit
        self.progress = progress or Progress(enabled=False)
        self.sleep, self.clock = sleep, clock
        self._gate_until = 0.0  # no request leaves before this instant (all threads)
        self._gate_primary = False  # the gate waits for a primary-limit reset
        self._announced = 0.0
        self._secondary_hits = 0
        self._abandoned = False  # the pages are no longer wanted: stop waiting at the gate
        self._lock = threading.Lock()
        self.requests = self.not_modified = 0

    # -- one page --------------------------------------------------------------------------

    def get_page(self, url: str) -> Page:
        while True:
            self._wait_for_gate()
            cached = self.cache.get(url) if self.cache else None
            headers = {"If-None-Match": cached.etag} if cached else {}
            response = self._get(url, headers)
            with self._lock:
                self.requests += 1
            remaining = response.headers.get("X-RateLimit-Remaining")
            if response.status_code == 304 and cached:
                with self._lock:
                    self.not_modified += 1
                return Page(url, items_of(cached.body), cached.links, True, remaining)
            if response.status_code == 200:
                with self._lock:
                    self._secondary_hits = 0
                body = _json_body(url, response.content)
                links = {rel: link["url"] for rel, link in response.links.items()}
                if self.cache and response.headers.get("ETag"):
                    self.cache.put(url, response.headers["ETag"], body, links)
                if remaining == "0":  # polite: wait for the reset before the next request
                    self._close_gate(self._reset_time(response.headers), primary=True)
                return Page(url, items_of(body), links, False, remaining)
            self._handle_refusal(url, response)

    def _get(self, url: str, headers: dict[str, str]) -> Any:
        """One GET (urllib3 has already retried connection errors and 5xx by now)."""
        import requests

        try:
            return self.session.get(url, headers=headers)
        except requests.RequestException as exc:
            raise NetworkError(
                f"could not fetch {printable(url)}: {type(exc).__name__}",
                "check the network and the provider's host; what was fetched so far is saved",
            ) from exc

    def _handle_refusal(self, url: str, response: Any) -> None:
        """Wait (and return, to retry) for rate limits; raise for everything else."""
        status, headers = response.status_code, response.headers
        message = response_text(response)
        if status in (403, 429) and headers.get("Retry-After"):
            self._secondary(self._retry_after(headers["Retry-After"]))
            return
        if status in (403, 429) and headers.get("X-RateLimit-Remaining") == "0":
            self._close_gate(self._reset_time(headers), primary=True)
            return
        if status in (403, 429) and "secondary rate limit" in message.lower():
            self._secondary(None)
            return
        if status == 401:
            hint = f"log in again: `{self.login}`"
            if self.token_from != "file":  # logging in cannot fix a variable's token
                hint = (
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
                    f"log in again asking for it: "
                    f"`{self.login} --scope {shlex.quote(printable(missing[0], 80))}`",
                )
        raise ProviderError(
            f"http_{status}",
            f"GET {url}: {message}",
            "check the path and its parameters" if status in (404, 422) else "try again later",
            status,
        )

    def _secondary(self, retry_after: float | None) -> None:
        with self._lock:
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
        with self._lock:
            if until > self._gate_until:
                self._gate_until, self._gate_primary = until, primary

    def _wait_for_gate(self) -> None:
        while True:
            with self._lock:
                until, primary = self._gate_until, self._gate_primary
                announce = until > self._announced
                if announce and self.wait:
                    self._announced = until
            left = until - self.clock()
            if left <= 0:
                return
            stamp = datetime.fromtimestamp(until, timezone.utc).strftime("%H:%M:%S UTC")
            if not self.wait or left > self.max_wait or self._abandoned:
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

    def pages(
        self, url: str, max_pages: int | None = None, workers: int = DEFAULT_WORKERS
    ) -> Iterator[Page]:
        """Every page in order: concurrently once the last page is known, else by `next`.

        At most `max_pages`; without it, more than `page_limit` pages is an error (before
        the first page is handed on when the last page is known, else when it is reached).
        """
        check_limits(max_pages, workers, self.page_limit, self.max_wait)
        limit = self.page_limit if max_pages is None else max_pages
        self._abandoned = False
        first = self.get_page(url)
        last = _page_number(first.links.get("last"))
        if last and last > limit:
            if max_pages is None:
                raise self._too_many(url, f"its last page is page {last:,}")
            last = limit
        self.progress.update(
            pages=1, items=len(first.items), remaining=first.remaining, total_pages=last
        )
        yield first
        if last and last > 1 and workers > 1:
            template = first.links["last"]
            urls = (with_query(template, {"page": n}) for n in range(2, last + 1))
            yield from self._in_order(urls, workers)
            return
        page, count, seen = first, 1, {first.url}
        while page.links.get("next"):
            if count >= limit:
                if max_pages is None:
                    raise self._too_many(url, f"its page {limit:,} links to a next one")
                return
            if page.links["next"] in seen:
                raise NetworkError(
                    f"the next-page link of {printable(page.url)} points back to a page "
                    "already fetched",
                    "the provider's pagination is broken; use --max-pages to stop earlier",
                )
            seen.add(page.links["next"])
            page = self.get_page(page.links["next"])
            count += 1
            self.progress.update(pages=1, items=len(page.items), remaining=page.remaining)
            yield page

    def _too_many(self, url: str, why: str) -> UsageError:
        return UsageError(
            f"{printable(urlsplit(url).path)} has more than {self.page_limit:,} pages "
            f"(--page-limit): {why}",
            "fetch the first N pages with --max-pages N, or raise --page-limit",
        )

    def _in_order(self, urls: Iterator[str], workers: int) -> Iterator[Page]:
        from concurrent.futures import ThreadPoolExecutor

        window: deque[Future[Page]] = deque()
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="oauthdance-fetch")
        try:
            for url in urls:
                window.append(pool.submit(self.get_page, url))
                if len(window) >= workers * 2:
                    yield self._done(window.popleft())
            while window:
                yield self._done(window.popleft())
        finally:  # workers waiting for a rate limit give up, rather than hold the shutdown
            self._abandoned = True  # (after an error or Ctrl-C) until the limit resets
            pool.shutdown(wait=True, cancel_futures=True)

    def _done(self, future: Future[Page]) -> Page:
        page = future.result()
        self.progress.update(pages=1, items=len(page.items), remaining=page.remaining)
        return page

    def items(
        self, url: str, max_pages: int | None = None, workers: int = DEFAULT_WORKERS
    ) -> Iterator[Any]:
        for page in self.pages(url, max_pages, workers):
            yield from page.items


def _page_number(url: str | None) -> int | None:
    if not url:
        return None
    value = dict(parse_qsl(urlsplit(url).query)).get("page")
    return int(value) if value and value.isdigit() else None


def _json_body(url: str, content: bytes) -> Any:
    """A page's JSON; HTML or a broken-off body is a clear error."""
    from .jsonio import loads

    try:
        return loads(content)
    except ValueError as exc:
        start = printable(content[:60].decode("utf-8", errors="replace"), 60)
        raise NetworkError(
            f"GET {printable(url)} answered HTTP 200 with something that is not JSON "
            f"({start!r}...)",
            "check the path (and the provider's api_base); what was fetched so far is saved",
        ) from exc


def _missing_scopes(headers: Any) -> list[str]:
    """The endpoint's accepted scopes, if the token has none of them."""
    accepted = split_scopes(headers.get("X-Accepted-OAuth-Scopes"))
    granted = set(split_scopes(headers.get("X-OAuth-Scopes")))
    return [] if not accepted or granted & set(accepted) else accepted


def check_limits(
    max_pages: int | None = None,
    workers: int = DEFAULT_WORKERS,
    page_limit: int = DEFAULT_PAGE_LIMIT,
    max_wait: float = DEFAULT_MAX_WAIT,
) -> None:
    """Refuse a bound that cannot be right, before anything is fetched, rather than guess
    what it meant (`--max-pages 0` used to fetch everything, and -1 one page)."""
    _within("--max-pages", max_pages, 1, None, ", or leave it out to fetch every page")
    _within("--workers", workers, 1, MAX_WORKERS, " (GitHub's limit for concurrent requests)")
    _within("--page-limit", page_limit, 1, None, ", or bound the fetch with --max-pages")
    _within("--max-wait", max_wait, 0, LONGEST_WAIT, " seconds (a day at most)")


def _within(flag: str, value: float | None, low: int, high: int | None, more: str) -> None:
    if value is None or (low <= value and (high is None or value <= high)):
        return
    accepted = f"{low} or more" if high is None else f"from {low} to {high}"
    raise UsageError(f"{flag} {value!r} is out of range", f"give {flag} {accepted}{more}")


def whole_number(flag: str, value: str | int | None) -> int | None:
    """A number of pages (or the like) given on the command line; None when not given."""
    if value is None or isinstance(value, int):
        return value
    try:
        return int(value.strip())
    except ValueError:
        raise UsageError(
            f"{flag} {printable(value, 40)!r} is not a whole number", f"e.g. {flag} 10"
        ) from None


def api_url(api_root: str, path: str, params: dict[str, Any]) -> str:
    """The first page's URL: `path` under the API root, with per_page=100 unless given."""
    url = path if path.startswith(("http://", "https://")) else api_root + "/" + path.lstrip("/")
    return with_query(url, {"per_page": PER_PAGE, **params})


def parse_params(pairs: list[str]) -> dict[str, str]:
    """`KEY=VALUE` strings from --param into a dict."""
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--param {pair!r} is not KEY=VALUE", "e.g. --param state=all")
        params[key] = value
    return params
