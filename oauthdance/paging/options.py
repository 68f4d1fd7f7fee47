"""Every option of one fetch, as one value: `FetchOptions`, checked when it is made.

The data tasks build it from their flags (parsed in `tasks/options.py`) and
`oauthdance.fetch()` from its arguments, so both meet the same bounds and the same errors.
Light on purpose: `invoke --list` reads the defaults here for the flags' help.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from oauthdance.base.advice import setting
from oauthdance.base.errors import UsageError

DEFAULT_WORKERS = 8
MAX_WORKERS = 100  # GitHub: no more than 100 concurrent requests
DEFAULT_MAX_WAIT = 900  # seconds: a rate limit that needs longer stops the fetch
LONGEST_WAIT = 86400  # no --max-wait above a day; a retry-after beyond it means a day
DEFAULT_PAGE_LIMIT = 10_000  # pages: past it a fetch must say how many with --max-pages


@dataclass(frozen=True)
class FetchOptions:
    """How to fetch (bounds, politeness, cache) and where the items go (out, format).

    A bound that cannot be right is refused here, before anything is fetched, rather than
    guessed at (`--max-pages 0` once fetched everything, and -1 one page).
    """

    max_pages: int | None = None  # stop after this many pages; None: every page
    workers: int = DEFAULT_WORKERS  # requests in flight at most, once the last page is known
    page_limit: int = DEFAULT_PAGE_LIMIT  # more pages than this is an error without max_pages
    wait: bool = True  # wait for a spent rate limit's reset (False: stop, keeping what came)
    max_wait: float = DEFAULT_MAX_WAIT  # the longest wait, in seconds; a longer one stops
    cache: bool = True  # send If-None-Match from the ETag cache
    params: Mapping[str, Any] = field(default_factory=dict)  # the first page's query
    out: str | None = None  # the file written (None: stdout)
    format: str | None = None  # json, ndjson or csv (None: from `out`'s extension)
    quiet: bool = False  # no progress bar and no summary
    one: bool = False  # one JSON object rather than an array (`data.user`)

    def __post_init__(self) -> None:
        # Named as Python spells them: each face shows its own (`--max-pages`, `max_pages`).
        within("max_pages", self.max_pages, 1, None, ", or leave it out to fetch every page")
        within("workers", self.workers, 1, MAX_WORKERS, " (GitHub's limit for concurrent requests)")
        bound = setting("max_pages")
        within("page_limit", self.page_limit, 1, None, f", or bound the fetch with {bound}")
        within("max_wait", self.max_wait, 0, LONGEST_WAIT, " seconds (a day at most)")


def within(name: str, value: float | None, low: int, high: int | None, more: str = "") -> None:
    """Refuse `value` for the option `name` unless it is from `low` to `high` (no upper
    bound: None). A `name` that is a flag (`--port`) is shown as it is; any other as the
    face in use names it."""
    if value is None or (low <= value and (high is None or value <= high)):
        return
    accepted = f"{low} or more" if high is None else f"from {low} to {high}"
    if name.startswith("--"):
        shown, given = name, f"{name} {value!r}"
    else:
        shown, given = setting(name), setting(name, repr(value))
    raise UsageError(f"{given} is out of range", f"give {shown} {accepted}{more}")
