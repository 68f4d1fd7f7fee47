"""`data.*` tasks: fetch API data with the stored token, to a file or stdout.

Each makes sure a valid token exists first (refreshing it if due), so they chain after the
auth steps: `invoke auth.verify data.fetch --path /user/repos --out repos.json`.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from invoke import Context

from oauthdance.base.errors import OAuthDanceError, UsageError
from oauthdance.paging.engine import (
    DEFAULT_MAX_WAIT,
    DEFAULT_PAGE_LIMIT,
    DEFAULT_WORKERS,
    MAX_WORKERS,
    check_limits,
    parse_params,
    whole_number,
)
from oauthdance.tasks.common import cli_task, target

OUTPUT_HELP = {
    "out": "write to this file (default: stdout); its extension (.json, .ndjson or .jsonl, "
    ".csv) picks the format, any other needs --format",
    "format": "json (one array), ndjson (one item per line) or csv (every column of every "
    "item, nested fields dotted)",
    "max_pages": "stop after this many pages, 1 or more (default: every page)",
    "workers": f"pages fetched at once once the last page is known (default "
    f"{DEFAULT_WORKERS}, from 1 to {MAX_WORKERS})",
    "page_limit": f"refuse to fetch more pages than this unless --max-pages is given "
    f"(default {DEFAULT_PAGE_LIMIT:,})",
    "wait": "when the rate limit is spent, wait for the reset (default); --no-wait stops, "
    "keeping what was fetched",
    "max_wait": f"the longest wait for a rate limit, in seconds (default {DEFAULT_MAX_WAIT}); "
    "a longer one stops, keeping what was fetched and saying when to retry",
    "cache": "send If-None-Match from the ETag cache so unchanged pages cost no rate limit "
    "(default); --no-cache skips it",
    "quiet": "no progress bar and no summary",
}


FETCH_OPTIONS = (
    "provider",
    "user",
    "creds",
    "out",
    "format",
    "max_pages",
    "workers",
    "page_limit",
    "wait",
    "max_wait",
    "cache",
    "quiet",
)


def fetch_options(flags: dict[str, Any]) -> dict[str, Any]:
    """The flags every data task shares, picked from its `locals()` to pass on as they are."""
    return {name: flags[name] for name in FETCH_OPTIONS}


def run_fetch(c: Context, path: str, params: dict[str, Any], **options: Any) -> None:
    """The one way every data task fetches: stream pages into the writer, then report.

    `options`: provider, user, creds, out, format, max_pages, workers, page_limit, wait,
    max_wait, cache, quiet; and `one` (data.user) for one JSON object rather than an array.
    Every flag is checked before anything is fetched.
    """
    from oauthdance.paging.authenticated import open_fetch
    from oauthdance.paging.output import ItemWriter, format_for
    from oauthdance.paging.progress import Progress

    quiet, out, workers = options["quiet"], options["out"], options["workers"]
    max_pages = whole_number("--max-pages", options["max_pages"])
    check_limits(max_pages, workers, options["page_limit"], options["max_wait"])
    writer = ItemWriter(out, format_for(out, options["format"]), one=options.get("one", False))
    started = time.perf_counter()
    progress = Progress(enabled=False if quiet else None)
    opened = open_fetch(
        target(c, options["provider"], options["user"], options["creds"]),
        workers=workers,
        wait=options["wait"],
        cache=options["cache"],
        progress=progress,
        max_wait=options["max_wait"],
        page_limit=options["page_limit"],
    )
    complete = False
    try:
        for page in opened.fetcher.pages(opened.url(path, params), max_pages, workers):
            writer.write_page(page)
        complete = True
    except OAuthDanceError as exc:
        if writer.count:  # the output is finished all the same: say what it holds
            exc.message += f"; saved {writer.count} items to {writer.target}"
        raise
    finally:
        writer.close(complete)
        progress.close()
    if not quiet:
        fetcher = opened.fetcher
        unchanged = f", {fetcher.not_modified} unchanged (304)" if fetcher.not_modified else ""
        print(
            f"fetched {writer.count} items in {fetcher.requests} requests{unchanged} in "
            f"{time.perf_counter() - started:.2f} s -> {writer.target}",
            file=sys.stderr,
        )


@cli_task(
    iterable=("param",),
    path="API path, e.g. /user/repos (or a full URL)",
    param="query parameter KEY=VALUE (repeatable)",
    **OUTPUT_HELP,
)
def fetch(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
    path: str | None = None,
    param: list[str] | None = None,
    out: str | None = None,
    format: str | None = None,
    max_pages: str | None = None,
    workers: int = DEFAULT_WORKERS,
    page_limit: int = DEFAULT_PAGE_LIMIT,
    wait: bool = True,
    max_wait: int = DEFAULT_MAX_WAIT,
    cache: bool = True,
    quiet: bool = False,
) -> None:
    """Fetch every page of an API path (authenticated, paginated, rate-limit aware)."""
    if not path:
        raise UsageError("data.fetch needs --path", "e.g. invoke data.fetch --path /user/repos")
    run_fetch(
        c,
        path,
        parse_params(param or []),
        **fetch_options(locals()),
    )


@cli_task(out=OUTPUT_HELP["out"], format=OUTPUT_HELP["format"], quiet=OUTPUT_HELP["quiet"])
def user(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
    out: str | None = None,
    format: str | None = None,
    quiet: bool = False,
) -> None:
    """Fetch the signed-in user's profile (as JSON: one object)."""
    run_fetch(
        c,
        "/user",
        {},
        provider=provider,
        user=user,
        creds=creds,
        out=out,
        format=format,
        max_pages=1,
        workers=1,
        page_limit=DEFAULT_PAGE_LIMIT,
        wait=True,
        max_wait=DEFAULT_MAX_WAIT,
        cache=True,
        quiet=quiet,
        one=True,
    )


@cli_task(org="an organization's repositories instead of your own", **OUTPUT_HELP)
def repos(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
    org: str | None = None,
    out: str | None = None,
    format: str | None = None,
    max_pages: str | None = None,
    workers: int = DEFAULT_WORKERS,
    page_limit: int = DEFAULT_PAGE_LIMIT,
    wait: bool = True,
    max_wait: int = DEFAULT_MAX_WAIT,
    cache: bool = True,
    quiet: bool = False,
) -> None:
    """Fetch your repositories (or an organization's, with --org)."""
    run_fetch(
        c,
        f"/orgs/{org}/repos" if org else "/user/repos",
        {},
        **fetch_options(locals()),
    )


@cli_task(repo="OWNER/REPO (required)", state="open, closed or all (default open)", **OUTPUT_HELP)
def issues(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
    repo: str | None = None,
    state: str = "open",
    out: str | None = None,
    format: str | None = None,
    max_pages: str | None = None,
    workers: int = DEFAULT_WORKERS,
    page_limit: int = DEFAULT_PAGE_LIMIT,
    wait: bool = True,
    max_wait: int = DEFAULT_MAX_WAIT,
    cache: bool = True,
    quiet: bool = False,
) -> None:
    """Fetch a repository's issues."""
    if not repo or repo.count("/") != 1:
        raise UsageError("data.issues needs --repo OWNER/REPO", "e.g. --repo octocat/hello")
    if state not in ("open", "closed", "all"):
        raise UsageError(f"--state {state!r} is not open, closed or all", "pick one of those")
    run_fetch(
        c,
        f"/repos/{repo}/issues",
        {"state": state},
        **fetch_options(locals()),
    )
