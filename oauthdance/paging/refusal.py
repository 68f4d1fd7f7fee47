"""A page refused for a reason other than a rate limit, as the error that says what to do:
a refused token (`TokenRejected`: log in again, or fix the variable it came from), a
missing scope (log in asking for it), or the provider's own word."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from oauthdance.base.advice import Command, Hint
from oauthdance.base.errors import OAuthDanceError, ProviderError, TokenRejected, printable
from oauthdance.protocol.oauth import split_scopes


def refusal(
    url: str,
    status: int,
    headers: Mapping[str, str],
    message: str,
    login: Command,
    token_from: str = "file",
) -> OAuthDanceError:
    """The error for `status` at `url`; `login` logs this owner in again, and `token_from`
    says where the token came from (a store's kind, or "environment (GITHUB_TOKEN)")."""
    if status == 401:  # the engine's source already refreshed and resent once
        return TokenRejected.at(url, message, login, token_from)
    if status in (403, 404):
        missing = missing_scopes(headers)
        if missing:
            return ProviderError(
                f"http_{status}",
                f"{urlsplit(url).path} needs one of the scopes {', '.join(missing)}, which "
                f"the token lacks (it has: {headers.get('X-OAuth-Scopes') or 'none'})",
                Hint(
                    "log in again asking for it: {login}",
                    login=login.with_flags(scope=printable(missing[0], 80)),
                ),
            )
    return ProviderError(
        f"http_{status}",
        f"GET {url}: {message}",
        "check the path and its parameters" if status in (404, 422) else "try again later",
        status,
    )


def missing_scopes(headers: Mapping[str, str]) -> list[str]:
    """The endpoint's accepted scopes, if the token has none of them."""
    accepted = split_scopes(headers.get("X-Accepted-OAuth-Scopes"))
    granted = set(split_scopes(headers.get("X-OAuth-Scopes")))
    return [] if not accepted or granted & set(accepted) else accepted
