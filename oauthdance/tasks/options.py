"""Flag text into values: every flag the tasks parse or check beyond invoke's own.

One whole-number parser (`whole_number`; `WholeNumber` is the same rule as invoke's kind
for `int` flags), `--param KEY=VALUE`, and the data tasks' flags into a `FetchOptions`
(which checks the bounds itself, so the Python API meets the same ones). A wrong value is
a usage error (exit 2) that names the flag.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from invoke.exceptions import Exit

from oauthdance.base.errors import ConfigError, UsageError, printable
from oauthdance.paging.options import FetchOptions, within


def whole_number(
    flag: str, value: str | int | None, low: int | None = None, high: int | None = None
) -> int | None:
    """A whole number given for `flag` (`--max-pages`), from `low` to `high` when `low` is
    given; None when not given."""
    if value is None:
        return None
    if isinstance(value, int):
        number = value
    else:
        try:
            number = int(value.strip())
        except ValueError:
            raise UsageError(
                f"{flag} takes a whole number, not {printable(value, 40)!r}", f"e.g. {flag} 10"
            ) from None
    if low is not None:
        within(flag, number, low, high)
    return number


class WholeNumber:
    """invoke's kind for a whole-number flag: `whole_number`, its usage error an exit 2
    (invoke parses flags before the task's own error handling runs)."""

    __name__ = "int"  # what invoke shows in debug output

    def __init__(self, flag: str) -> None:
        self.flag = flag

    # invoke's help looks the kind up in {str: "STRING", int: "INT"}: answer as `int` does
    def __eq__(self, other: object) -> bool:
        return other is int or other is self

    def __hash__(self) -> int:
        return hash(int)

    def __call__(self, value: str) -> int:
        try:
            number = whole_number(f"--{self.flag}", value)
        except UsageError as exc:
            raise Exit(f"error: {exc}", code=2) from None
        assert number is not None  # invoke passes the text given
        return number


def parse_params(pairs: Iterable[str]) -> dict[str, str]:
    """`KEY=VALUE` strings from --param into a dict."""
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--param {pair!r} is not KEY=VALUE", "e.g. --param state=all")
        params[key] = value
    return params


def fetch_options(
    *,
    max_pages: str | int | None,
    workers: int,
    page_limit: int,
    wait: bool,
    max_wait: int,
    cache: bool,
    out: str | None,
    format: str | None,
    quiet: bool,
    params: dict[str, Any] | None = None,
) -> FetchOptions:
    """The data tasks' shared flags as one checked `FetchOptions` (before anything is
    fetched or written)."""
    return FetchOptions(
        max_pages=whole_number("--max-pages", max_pages),
        workers=workers,
        page_limit=page_limit,
        wait=wait,
        max_wait=max_wait,
        cache=cache,
        params=params or {},
        out=out,
        format=format,
        quiet=quiet,
    )
