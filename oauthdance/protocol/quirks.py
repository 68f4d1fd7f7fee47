"""Provider quirks: where a provider bends OAuth 2.0, a named hook says so and copes.

A provider's entry lists the quirks it needs (`quirks: [runame_redirect]`); the flow
calls the hooks below and never asks which provider it is talking to. Behaviour that
only differs by a value (Basic vs post client authentication, extra authorize
parameters, PKCE, the code's lifetime) is a field in the entry, not a quirk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from oauthdance.base.errors import AuthorizationError


@dataclass(frozen=True)
class Quirk:
    """One bend of the rules: hooks that are None leave that step alone."""

    check_redirect_uri: Callable[[str], str | None] | None = None
    fix_token_answer: Callable[[dict[str, Any]], dict[str, Any]] | None = None


def _runame(uri: str) -> str | None:
    """eBay: the redirect_uri is an RuName — a name eBay maps to your real URL — so it is
    not a URL at all (RFC 6749 §3.1.2 wants an absolute URI)."""
    if uri and "://" not in uri and " " not in uri:
        return uri
    raise AuthorizationError(
        f"redirect_uri {uri!r} is not an eBay RuName",
        "use the RuName shown in eBay's developer console",
    )


def _no_localhost(uri: str) -> str | None:
    """Spotify refuses `localhost` in redirect URIs (RFC 8252 §8.3 only discourages it);
    127.0.0.1 or [::1] work."""
    if urlsplit(uri).hostname == "localhost":
        raise AuthorizationError(
            f"this provider refuses localhost redirect URIs: {uri!r}",
            "use http://127.0.0.1:PORT/... instead",
        )
    return None  # then the usual rules apply


def _token_type_label(answer: dict[str, Any]) -> dict[str, Any]:
    """eBay answers `token_type: "User Access Token"` (RFC 6750 says "Bearer"), yet the
    token is used as a Bearer token."""
    if str(answer.get("token_type", "")).lower() in (
        "user access token",
        "application access token",
    ):
        answer = {**answer, "token_type": "bearer"}
    return answer


QUIRKS: dict[str, Quirk] = {
    "runame_redirect": Quirk(check_redirect_uri=_runame),
    "no_localhost_redirect": Quirk(check_redirect_uri=_no_localhost),
    "token_type_label": Quirk(fix_token_answer=_token_type_label),
}


def accepted_redirect_uri(quirks: tuple[str, ...], uri: str) -> bool:
    """True if one of the provider's quirks accepts `uri` as it is (an eBay RuName), so the
    usual URL rules (in `oauth.check_redirect_uri`) do not apply; a quirk may also refuse it."""
    for name in quirks:
        hook = QUIRKS[name].check_redirect_uri
        if hook and hook(uri) is not None:
            return True
    return False


def fix_token_answer(quirks: tuple[str, ...], answer: dict[str, Any]) -> dict[str, Any]:
    for name in quirks:
        hook = QUIRKS[name].fix_token_answer
        if hook:
            answer = hook(answer)
    return answer
