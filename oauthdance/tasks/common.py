"""What every task shares: settings with their precedence, and errors turned into exits.

Precedence for each setting: the flag, then invoke's configuration (invoke.yaml,
INVOKE_OAUTHDANCE_* variables), then the OAUTHDANCE_* environment, then the default.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from invoke import Context, task
from invoke.exceptions import Exit

from ..errors import OAuthDanceError

F = TypeVar("F", bound=Callable[..., Any])

DEFAULTS: dict[str, Any] = {
    "provider": None,  # else OAUTHDANCE_PROVIDER, else "github"
    "creds": None,  # else OAUTHDANCE_CREDS, else "creds.json"
    "user": None,  # else OAUTHDANCE_USER, else the provider's default owner
    "providers_file": None,  # else OAUTHDANCE_PROVIDERS
}

COMMON_HELP = {
    "provider": "provider name from config/providers.yaml (default: github; overrides "
    "oauthdance.provider / OAUTHDANCE_PROVIDER)",
    "user": "resource owner (login) whose token is meant (default: the provider's default "
    "owner; overrides OAUTHDANCE_USER)",
    "creds": "credentials file, .json or .yaml (default: creds.json; overrides "
    "oauthdance.creds / OAUTHDANCE_CREDS)",
    "json": "print machine-readable JSON instead of text",
}


def setting(c: Context, name: str, flag: Any, fallback: Any = None) -> Any:
    """flag → invoke config → OAUTHDANCE_<NAME> → fallback."""
    if flag:
        return flag
    configured = c.config.get("oauthdance", {}).get(name)
    return configured or os.environ.get(f"OAUTHDANCE_{name.upper()}") or fallback


def cli_task(iterable: tuple[str, ...] = (), **own_help: str) -> Callable[[F], Any]:
    """`@task` with help for every flag (the common ones filled in) and clean errors.

    `iterable` names flags that may be given several times (invoke's `iterable`).
    """

    def decorate(func: F) -> Any:
        params = inspect.signature(func).parameters
        help_text = {k: v for k, v in COMMON_HELP.items() if k in params} | own_help
        return task(help=help_text, iterable=list(iterable))(clean_errors(func))

    return decorate


def clean_errors(func: F) -> F:
    """Turn our errors into `invoke.Exit`: a message, a non-zero code, no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except OAuthDanceError as exc:
            raise Exit(f"error: {exc}", code=exc.exit_code) from exc
        except KeyboardInterrupt:
            raise Exit("interrupted", code=130) from None

    return wrapper  # type: ignore[return-value]


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)
