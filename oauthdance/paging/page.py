"""A page of API data, and following pages: the `last` link's numbered pages, or each
page's `next`, bounded by `max_pages` or else `page_limit` (a hostile or broken `Link`
header cannot keep a fetch going for ever)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from oauthdance.base.advice import setting
from oauthdance.base.errors import NetworkError, UsageError, printable

PER_PAGE = 100


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


def with_query(url: str, params: Mapping[str, Any]) -> str:
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


def api_url(api_root: str, path: str, params: Mapping[str, Any]) -> str:
    """The first page's URL: `path` under the API root, with per_page=100 unless given."""
    url = path if path.startswith(("http://", "https://")) else api_root + "/" + path.lstrip("/")
    return with_query(url, {"per_page": PER_PAGE, **params})


class Following:
    """The pages after the first of one fetch: at most `max_pages`; without it, more than
    `page_limit` pages is an error (before the first page is handed on when the last page
    is known, else when it is reached)."""

    def __init__(self, url: str, max_pages: int | None, page_limit: int) -> None:
        self.url, self.max_pages, self.page_limit = url, max_pages, page_limit
        self.limit = page_limit if max_pages is None else max_pages

    def last_page(self, first: Page) -> int | None:
        """The number of the last page to fetch, where the first page names its last."""
        last = page_number(first.links.get("last"))
        if last and last > self.limit:
            if self.max_pages is None:
                raise self._too_many(f"its last page is page {last:,}")
            last = self.limit
        return last

    def numbered(self, first: Page, last: int) -> Iterator[str]:
        """Pages 2 to `last`, from the `last` link's URL: all known at once."""
        template = first.links["last"]
        return (with_query(template, {"page": n}) for n in range(2, last + 1))

    def next_links(
        self, first: Page, latest: Callable[[], tuple[str, dict[str, str]]]
    ) -> Iterator[str]:
        """The `next` links, each asked for once the page before it is answered (`latest`:
        its URL and links): no more than the limit, and none that was fetched already."""
        page_url, links, count, seen = first.url, first.links, 1, {first.url}
        while links.get("next"):
            if count >= self.limit:
                if self.max_pages is None:
                    raise self._too_many(f"its page {self.limit:,} links to a next one")
                return
            if links["next"] in seen:
                raise NetworkError(
                    f"the next-page link of {printable(page_url)} points back to a page "
                    "already fetched",
                    f"the provider's pagination is broken; use {setting('max_pages')} to stop "
                    "earlier",
                )
            seen.add(links["next"])
            count += 1
            yield links["next"]
            page_url, links = latest()

    def _too_many(self, why: str) -> UsageError:
        return UsageError(
            f"{printable(urlsplit(self.url).path)} has more than {self.page_limit:,} pages "
            f"({setting('page_limit')}): {why}",
            f"fetch the first N pages with {setting('max_pages', 'N')}, or raise "
            f"{setting('page_limit')}",
        )


def page_number(url: str | None) -> int | None:
    if not url:
        return None
    value = dict(parse_qsl(urlsplit(url).query)).get("page")
    return int(value) if value and value.isdigit() else None
