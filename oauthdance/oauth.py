"""The protocol as pure functions: build URLs and request bodies, parse answers.

No I/O here, so most of it is tested with literals. Token requests and answers go
through oauthlib (imported only when a token is exchanged); the authorize URL and PKCE
use the standard library, because `auth.url` must start fast (see README design notes).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

from .errors import AuthorizationDenied, AuthorizationError, NetworkError, token_error
from .providers import Provider

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")

REDIRECT_ERROR_HINTS = {
    "access_denied": "the user pressed Deny (or cancelled): run `invoke auth.url` again and "
    "approve the app",
    "redirect_uri_mismatch": "the redirect_uri is not the app's callback URL: fix it with "
    "`invoke auth.configure --redirect-uri ...`, then run `invoke auth.url` again",
    "application_suspended": "the app is suspended: its owner must unsuspend it in the "
    "provider's settings",
}


def new_state() -> str:
    """An unguessable `state` (RFC 6749 §10.12): 256 bits from `secrets`."""
    return secrets.token_urlsafe(32)


def new_code_verifier() -> str:
    """A PKCE code verifier (RFC 7636 §4.1): 43 characters of 256-bit entropy."""
    return secrets.token_urlsafe(32)


def code_challenge_s256(verifier: str) -> str:
    """BASE64URL(SHA256(verifier)) without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def split_scopes(scope: str | list[str] | None) -> list[str]:
    """Scopes from a string separated by spaces or commas (GitHub answers with commas)."""
    if not scope:
        return []
    if isinstance(scope, list):
        scope = " ".join(scope)
    return [s for s in re.split(r"[,\s]+", scope) if s]


def authorize_url(
    provider: Provider,
    client_id: str,
    redirect_uri: str,
    scope: str,
    state: str,
    code_challenge: str | None,
    extra: dict[str, str] | None = None,
) -> str:
    """Line 1 of the dance: the URL the resource owner opens."""
    params: dict[str, str] = {"client_id": client_id, "response_type": "code"}
    if redirect_uri:
        params["redirect_uri"] = redirect_uri
    if scope:
        params["scope"] = provider.scope_separator.join(split_scopes(scope))
    params["state"] = state
    if code_challenge:
        params["code_challenge"] = code_challenge
        params["code_challenge_method"] = "S256"
    params.update(provider.extra_authorize_params)
    params.update(extra or {})
    endpoint = provider.authorize_endpoint
    joiner = "&" if "?" in endpoint else "?"
    return endpoint + joiner + urlencode(params)


@dataclass(frozen=True)
class Redirect:
    """What came back on the redirect: a code, or an error, with the state."""

    state: str | None
    code: str | None = None
    error: str | None = None
    error_description: str | None = None

    def raise_for_error(self) -> None:
        if self.error:
            text = f"the provider refused the authorization: {self.error}"
            if self.error_description:
                text += f" ({self.error_description})"
            raise AuthorizationDenied(text, REDIRECT_ERROR_HINTS.get(self.error))


def parse_redirect(pasted: str) -> Redirect:
    """Parse what the browser's address bar shows after the redirect.

    Accepts the full URL, just its query (`?code=...&state=...`) or `code=...&state=...`.
    """
    text = pasted.strip()
    if not text:
        raise _malformed(pasted, "it is empty")
    query = urlsplit(text).query if "://" in text else text.lstrip("?")
    if "#" in query:
        query = query.split("#", 1)[0]
    try:
        params = dict(parse_qsl(query, keep_blank_values=False, strict_parsing=False))
    except ValueError as exc:
        raise _malformed(pasted, str(exc)) from exc
    if "error" in params:
        return Redirect(params.get("state"), None, params["error"], params.get("error_description"))
    if "code" not in params:
        raise _malformed(pasted, "it has neither code= nor error=")
    return Redirect(params.get("state"), params["code"])


def _malformed(pasted: str, why: str) -> AuthorizationError:
    shown = pasted if len(pasted) <= 80 else pasted[:77] + "..."
    return AuthorizationError(
        f"cannot read the redirect URL {shown!r}: {why}",
        "paste the whole address from the browser after approving, e.g. "
        "'http://127.0.0.1:8765/callback?code=...&state=...', or use --code",
    )


def is_loopback(host: str | None) -> bool:
    return (host or "").strip("[]").lower() in LOOPBACK_HOSTS


def check_redirect_uri(uri: str) -> str:
    """A redirect URI must be https, or http on a loopback address (RFC 8252 §7.3)."""
    parts = urlsplit(uri)
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return uri
    raise AuthorizationError(
        f"redirect_uri {uri!r} must be https://..., or http:// on 127.0.0.1, [::1] or localhost",
        "pass e.g. --redirect-uri http://127.0.0.1:8765/callback",
    )


def token_request_body(
    grant_type: str, client_id: str, client_secret: str | None, send_secret: bool, **params: Any
) -> str:
    """The form body of a token request (RFC 6749 §4.1.3, §6), via oauthlib."""
    from oauthlib.oauth2.rfc6749.parameters import prepare_token_request

    if send_secret and client_secret:
        params["client_secret"] = client_secret
    return prepare_token_request(grant_type, client_id=client_id, **params)


def basic_authorization(client_id: str, client_secret: str) -> str:
    """`client_secret_basic`: id and secret form-urlencoded, then base64 (RFC 6749 §2.3.1)."""
    raw = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def missing_scopes(
    requested: str | list[str] | None, granted: list[str], implied_by: dict[str, list[str]]
) -> list[str]:
    """Requested scopes the grant lacks, counting a broader scope as covering a narrower one."""
    return [
        scope
        for scope in split_scopes(requested)
        if scope not in granted and not set(implied_by.get(scope, ())) & set(granted)
    ]


def parse_token_answer(body: str, status: int, code_lifetime: int = 600) -> dict[str, Any]:
    """A token answer as a dict; errors (GitHub sends them with HTTP 200) raise.

    Copes with JSON and form-encoded bodies (oauthlib tries both).
    """
    from oauthlib.oauth2.rfc6749.errors import MissingTokenError, OAuth2Error
    from oauthlib.oauth2.rfc6749.parameters import parse_token_response

    try:
        answer = dict(parse_token_response(body))
    except MissingTokenError as exc:
        raise NetworkError(
            f"the token endpoint answered HTTP {status} without an access token: {body[:200]!r}",
            "check the provider's token_url",
        ) from exc
    except OAuth2Error as exc:
        raise token_error(exc.error, exc.description or None, code_lifetime) from exc
    except ValueError as exc:  # e.g. expires_in that is not a number
        raise NetworkError(f"unreadable token answer: {exc}", "check the provider") from exc
    answer["scope"] = split_scopes(answer.get("scope"))
    return answer
