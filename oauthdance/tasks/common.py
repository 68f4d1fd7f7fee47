"""What every task shares: the target its flags name, flag help, and errors turned into exits.

Settings are resolved by `oauthdance.base.settings` (flag → invoke config → environment → .env →
default); this module only hands it the flags and invoke's `oauthdance` configuration.
"""

from __future__ import annotations

import functools
import inspect
import io
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from invoke import Context, Task, task
from invoke.exceptions import Exit

from oauthdance.base.advice import Asked, asked
from oauthdance.base.errors import BROKEN_PIPE, OAuthDanceError, answering, printable
from oauthdance.base.settings import BY_NAME, SETTINGS
from oauthdance.keep.target import Target, resolve_target
from oauthdance.tasks.options import WholeNumber

F = TypeVar("F", bound=Callable[..., Any])

DEFAULTS: dict[str, Any] = {s.name: None for s in SETTINGS}  # invoke's `oauthdance` config

COMMON_HELP = {
    name: f"{BY_NAME[name].help} (default: {BY_NAME[name].shown_default.strip('`')}; "
    f"overrides oauthdance.{name} / {BY_NAME[name].variable})"
    for name in ("provider", "user", "creds")
}
COMMON_HELP["json"] = "print machine-readable JSON instead of text"


def target(
    c: Context, provider: str | None = None, user: str | None = None, creds: str | None = None
) -> Target:
    """The credentials file, provider and owner these flags and invoke's config name."""
    return resolve_target(provider, user, creds, config=c.config.get("oauthdance") or {})


# The only short flags, each meaning the same in every task that has the flag. invoke would
# otherwise make one up per task from the first free letter (`-o` was --out in one task and
# --org in the next); every other flag is long only.
SHORT_FLAGS = {
    "provider": "p",
    "user": "u",
    "out": "o",
    "format": "f",
    "scope": "s",
    "quiet": "q",
}


class CliTask(Task):
    """A task whose short flags come from `SHORT_FLAGS` only."""

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        opts = super().arg_opts(name, default, taken_names)
        if name in SHORT_FLAGS:
            opts["names"].append(SHORT_FLAGS[name])
        if opts.get("kind") is int:  # invoke's own int() would end in a traceback
            opts["kind"] = WholeNumber(opts["names"][0])
        return opts


def cli_task(*, iterable: Sequence[str] = (), **own_help: str) -> Callable[[F], Any]:
    """`@task` with help for every flag (the common ones filled in), the fixed short flags
    and clean errors. `iterable` names flags that may be given several times."""

    def decorate(func: F) -> Any:
        params = inspect.signature(func).parameters
        help_text = {k: v for k, v in COMMON_HELP.items() if k in params} | own_help
        return task(klass=CliTask, auto_shortflags=False, help=help_text, iterable=list(iterable))(
            clean_errors(func)
        )

    return decorate


def clean_errors(func: F) -> F:
    """Turn our errors into `invoke.Exit`: a message, a non-zero code, no traceback.

    The task runs inside `answering(...)` with its own flags as the user gave them, so
    every suggestion it makes (errors, `next:` lines) carries them."""
    signature = inspect.signature(func)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = signature.bind_partial(*args, **kwargs).arguments
        try:
            flags = (given.get("provider"), given.get("user"), given.get("creds"))
            with answering(Asked.of(asked().face, *flags)):  # its errors keep these flags
                return func(*args, **kwargs)
        except OAuthDanceError as exc:
            lines = str(exc).split("\n")
            shown = "\n".join(printable(line, 100_000) for line in lines)
            raise Exit(f"error: {shown}", code=exc.exit_code) from exc
        except KeyboardInterrupt:
            raise Exit("interrupted", code=130) from None
        except BrokenPipeError:  # `invoke data.fetch ... | head`: the reader has had enough
            _silence_stdout()
            raise Exit(code=BROKEN_PIPE) from None

    return wrapper  # type: ignore[return-value]  # it takes and returns what func does


# Flags whose values are secrets or carry one (a pasted redirect holds the code).
SECRET_FLAGS = ("--client-secret", "--code", "--url")


class RedactSecrets(logging.Filter):
    """Keeps secret flag values out of invoke's `-d` debug output, which logs the argv, each
    parsed value and each call's arguments: every occurrence of such a value is masked."""

    def __init__(self, argv: list[str]) -> None:
        super().__init__()
        self.secrets = secret_values(argv)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            for secret in self.secrets:
                text = text.replace(secret, "****").replace(repr(secret)[1:-1], "****")
            record.msg, record.args = text, ()
        return True


def secret_values(argv: list[str]) -> list[str]:
    """The values given to `SECRET_FLAGS` in `argv` (`--flag VALUE` or `--flag=VALUE`)."""
    values = []
    for index, word in enumerate(argv):
        name, equals, value = word.partition("=")
        if name in SECRET_FLAGS:
            value = value if equals else (argv[index + 1] if index + 1 < len(argv) else "")
            if value:
                values.append(value)
    return sorted(values, key=len, reverse=True)  # longest first: a code inside a URL


def redact_debug_output(argv: list[str]) -> None:
    logger = logging.getLogger("invoke")
    for old in [f for f in logger.filters if isinstance(f, RedactSecrets)]:
        logger.removeFilter(old)
    logger.addFilter(RedactSecrets(argv))


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass  # not a real file (tests capture it): nothing will flush it to a closed pipe


def say(text: str) -> None:
    """Print a line for a person: what came from a provider (logins, scopes, messages) may
    hold escape sequences, so nothing unprintable reaches the terminal."""
    print("\n".join(printable(line, 100_000) for line in text.split("\n")))


def warn(message: str) -> None:
    print(f"warning: {printable(message, 100_000)}", file=sys.stderr)
