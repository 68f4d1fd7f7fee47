"""`data.*` tasks: fetch API data with the stored token, to a file or stdout.

Each makes sure a valid token exists first (refreshing it if due), so they chain after the
auth steps: `auth.verify data.fetch --path /user/repos --out repos.json`. Each turns its
flags into one `FetchOptions` (`tasks/options.py`) and hands it to `run_fetch`.
"""

from __future__ import annotations

import functools
import inspect
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from invoke import Context

from oauthdance.base.advice import Command, Hint
from oauthdance.base.errors import OAuthDanceError, UsageError
from oauthdance.paging.options import (
    DEFAULT_MAX_WAIT,
    DEFAULT_PAGE_LIMIT,
    DEFAULT_WORKERS,
    MAX_WORKERS,
    FetchOptions,
)
from oauthdance.tasks.common import cli_task, target
from oauthdance.tasks.options import fetch_options, parse_params

F = TypeVar("F", bound=Callable[..., None])

OUTPUT_HELP: dict[str, str] = {
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


# The flags every listing task shares, with their defaults: written once, here. A task made
# by `fetch_task` has them in its signature (so invoke shows and parses them) and its body
# gets them as one checked `FetchOptions`.
FETCH_FLAGS: dict[str, object] = {
    "out": None,
    "format": None,
    "max_pages": None,  # text: parsed by tasks/options.py, so a wrong value is exit 2
    "workers": DEFAULT_WORKERS,
    "page_limit": DEFAULT_PAGE_LIMIT,
    "wait": True,
    "max_wait": DEFAULT_MAX_WAIT,
    "cache": True,
    "quiet": False,
}


def fetch_task(*, iterable: Sequence[str] = (), **own_help: str) -> Callable[[F], Any]:
    """`cli_task` for a data task whose body takes `options` in place of the shared flags."""

    def decorate(body: F) -> Any:
        own = [p for p in inspect.signature(body).parameters.values() if p.name != "options"]
        shared = [
            inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)
            for name, default in FETCH_FLAGS.items()
        ]

        @functools.wraps(body)
        def task_body(c: Context, *args: Any, **flags: Any) -> None:
            given = {name: flags.pop(name, default) for name, default in FETCH_FLAGS.items()}
            body(c, *args, options=fetch_options(**given), **flags)

        task_body.__signature__ = inspect.Signature([*own, *shared])  # type: ignore[attr-defined]  # read by invoke and inspect
        return cli_task(iterable=iterable, **own_help, **OUTPUT_HELP)(task_body)

    return decorate


def run_fetch(
    c: Context,
    path: str,
    options: FetchOptions,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
) -> None:
    """The one way every data task fetches: stream pages into the writer, then report.

    `options` were checked when they were made, before anything is fetched.
    """
    from oauthdance.paging.authenticated import open_fetch
    from oauthdance.paging.output import ItemWriter, format_for
    from oauthdance.paging.progress import Progress

    writer = ItemWriter(options.out, format_for(options.out, options.format), one=options.one)
    started = time.perf_counter()
    progress = Progress(enabled=False if options.quiet else None)
    opened = open_fetch(target(c, provider, user, creds), options, progress=progress)
    complete = False
    try:
        for page in opened.fetcher.pages(opened.url(path)):
            writer.write_page(page)
        complete = True
    except OAuthDanceError as exc:
        if writer.count:  # the output is finished all the same: say what it holds
            exc.message += f"; saved {writer.count} items to {writer.target}"
        raise
    finally:
        writer.close(complete)
        progress.close()
    if not options.quiet:
        fetcher = opened.fetcher
        unchanged = f", {fetcher.not_modified} unchanged (304)" if fetcher.not_modified else ""
        print(
            f"fetched {writer.count} items in {fetcher.requests} requests{unchanged} in "
            f"{time.perf_counter() - started:.2f} s -> {writer.target}",
            file=sys.stderr,
        )


@fetch_task(
    iterable=("param",),
    path="API path, e.g. /user/repos (or a full URL)",
    param="query parameter KEY=VALUE (repeatable)",
)
def fetch(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
    path: str | None = None,
    param: list[str] | None = None,
    *,
    options: FetchOptions,
) -> None:
    """Fetch every page of an API path (authenticated, paginated, rate-limit aware)."""
    if not path:
        example = Command("data.fetch").with_flags(path="/user/repos")
        raise UsageError("data.fetch needs --path", Hint("e.g. {example}", example=example))
    options = replace(options, params=parse_params(param or []))
    run_fetch(c, path, options, provider, user, creds)


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
    options = FetchOptions(max_pages=1, workers=1, out=out, format=format, quiet=quiet, one=True)
    run_fetch(c, "/user", options, provider, user, creds)


@fetch_task(org="an organization's repositories instead of your own")
def repos(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
    org: str | None = None,
    *,
    options: FetchOptions,
) -> None:
    """Fetch your repositories (or an organization's, with --org)."""
    run_fetch(c, f"/orgs/{org}/repos" if org else "/user/repos", options, provider, user, creds)


@fetch_task(repo="OWNER/REPO (required)", state="open, closed or all (default open)")
def issues(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
    repo: str | None = None,
    state: str = "open",
    *,
    options: FetchOptions,
) -> None:
    """Fetch a repository's issues."""
    if not repo or repo.count("/") != 1:
        raise UsageError("data.issues needs --repo OWNER/REPO", "e.g. --repo octocat/hello")
    if state not in ("open", "closed", "all"):
        raise UsageError(f"--state {state!r} is not open, closed or all", "pick one of those")
    options = replace(options, params={"state": state})
    run_fetch(c, f"/repos/{repo}/issues", options, provider, user, creds)
