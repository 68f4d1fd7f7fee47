"""The protocol as pure functions: build URLs and request bodies, check and parse answers.

No I/O here, so most of it is tested with literals. Everything a server sends is checked
for shape and type before anything else sees it: a wrong answer is a `NetworkError` or a
`ProviderError` that says what was wrong, never a `KeyError` later on (and never echoes
the answer, which may hold a token).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

from oauthdance.base.advice import Hint, setting
from oauthdance.base.errors import (
    REDIRECT_ERROR_HINTS,
    AuthorizationDenied,
    AuthorizationError,
    NetworkError,
    ProviderError,
    advice,
    printable,
    token_error,
)
from oauthdance.protocol.providers import Provider
from oauthdance.protocol.quirks import accepted_redirect_uri
from oauthdance.protocol.tokens import TokenAnswer
from oauthdance.protocol.urls import is_loopback, is_secure

MAX_LIFETIME = 10 * 365 * 24 * 3600  # seconds; longer lifetimes are not meant seriously


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
        scope = " ".join(str(s) for s in scope)
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
    """The authorize URL the resource owner opens (the notebook's line 1)."""
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


def check_redirect_uri(provider: Provider, uri: str) -> str:
    """A redirect URI must be https, or http on a loopback address (RFC 8252 §7.3), unless
    one of the provider's quirks accepts it as it is (or refuses it outright)."""
    if accepted_redirect_uri(provider.quirks, uri) or is_secure(uri):
        return uri
    raise AuthorizationError(
        f"redirect_uri {uri!r} must be https://..., or http:// on 127.0.0.1, [::1] or localhost",
        "pass e.g. " + setting("redirect_uri", "http://127.0.0.1:8765/callback", text=True),
    )


# -- the redirect back ---------------------------------------------------------------------

# What a refused redirect should be followed by, unless the caller knows better (the command).
PASTE_AGAIN = (
    "paste the whole address from the browser after approving, e.g. "
    "'http://127.0.0.1:8765/callback?code=...&state=...', or use --code"
)
# Each parameter a redirect is read for; a provider sends each once (RFC 6749 §3.1), so a
# second one means the URL was altered, and neither copy can be trusted.
REDIRECT_PARAMETERS = ("code", "state", "error", "error_description", "iss")
# Codes are opaque and some run past a kilobyte; no real one comes near this, while a pasted
# file or a forged URL easily would.
MAX_CODE_LENGTH = 4096
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Redirect:
    """What came back on the redirect: a code, or an error, with the state."""

    state: str | None
    code: str | None = None
    error: str | None = None
    error_description: str | None = None
    iss: str | None = None  # the issuer that sent it, where the server says (RFC 9207)
    # Where it came to (scheme://host:port/path), when a whole URL was given; the same answer
    # is the same redirect wherever it was read from.
    location: str | None = field(default=None, compare=False)

    def raise_for_error(self, provider: str = "") -> None:
        """An error redirect raises, with advice naming `provider`'s `-p`."""
        if self.error:
            text = f"the provider refused the authorization: {printable(self.error, 80)}"
            if self.error_description:
                text += f" ({printable(self.error_description)})"
            raise AuthorizationDenied(text, advice(REDIRECT_ERROR_HINTS, self.error, provider))


def parse_redirect(pasted: str, hint: Hint | str = PASTE_AGAIN) -> Redirect:
    """Parse what the browser's address bar shows after the redirect.

    Accepts the full URL, just its query (`?code=...&state=...`) or `code=...&state=...`.
    A parameter given twice is refused. `hint` is the advice when the text cannot be used.
    """
    text = pasted.strip()
    if not text:
        raise _malformed(pasted, "it is empty", hint)
    location = None
    try:
        if "://" in text:
            parts = urlsplit(text)
            query = parts.query
            location = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        else:
            query = text.lstrip("?")
        pairs = parse_qsl(query.split("#", 1)[0], keep_blank_values=True)
    except ValueError as exc:
        raise _malformed(pasted, str(exc), hint) from exc
    for name in REDIRECT_PARAMETERS:
        count = sum(1 for key, _ in pairs if key == name)
        if count > 1:
            raise AuthorizationError(
                f"the redirect carries {name}= {count} times; a provider sends it once (RFC "
                "6749 §3.1), so the address was altered and cannot be trusted; nothing was stored",
                hint,
            )
    params = {key: value for key, value in pairs if value}
    iss = params.get("iss")
    if "error" in params:
        error, description = params["error"], params.get("error_description")
        return Redirect(params.get("state"), None, error, description, iss, location)
    if "code" not in params:
        raise _malformed(pasted, "it has neither code= nor error=", hint)
    return Redirect(params.get("state"), params["code"], iss=iss, location=location)


def check_redirect_values(redirect: Redirect, hint: Hint | str = PASTE_AGAIN) -> None:
    """A code and a state are visible ASCII (RFC 6749 Appendix A.5, A.11) — no controls, no
    spaces, no line breaks — and a code is of a sane length: anything else was mangled on the
    way (a copy that took the next line too) or forged, and is never stored."""
    for name, value in (("code", redirect.code), ("state", redirect.state)):
        if value is None:
            continue
        if name == "code" and len(value) > MAX_CODE_LENGTH:
            raise AuthorizationError(
                f"the redirect's code is {len(value)} characters long; a real one is far "
                f"shorter (at most {MAX_CODE_LENGTH} are accepted); nothing was stored",
                hint,
            )
        if not is_vschar_text(value):
            raise AuthorizationError(
                f"the redirect's {name} {printable(value, 40)!r} has characters a {name} "
                "cannot have (a control character, a space or a line break, or non-ASCII); "
                "nothing was stored",
                hint,
            )


def check_redirect_location(
    redirect: Redirect, redirect_uri: str | None, any_loopback_port: bool, hint: Hint | str
) -> None:
    """A redirect must have come back to the redirect_uri its authorization was started with:
    same scheme, host and path, and port (any port on a loopback host, where the provider
    allows that, RFC 8252 §7.3). Nothing to compare when only the query was given, or when
    the redirect_uri is not a URL (an eBay RuName names one only eBay knows)."""
    if not redirect.location or not redirect_uri or "://" not in redirect_uri:
        return
    got, want = urlsplit(redirect.location), urlsplit(redirect_uri)
    try:
        ports = (
            got.port or DEFAULT_PORTS.get(got.scheme.lower()),
            want.port or DEFAULT_PORTS.get(want.scheme.lower()),
        )
    except ValueError:  # a port that is not a number from 0 to 65535
        ports = (None, -1)
    differs = [
        what
        for what, same in (
            ("scheme", got.scheme.lower() == want.scheme.lower()),
            ("host", (got.hostname or "") == (want.hostname or "")),
            ("port", ports[0] == ports[1] or (any_loopback_port and is_loopback(want.hostname))),
            ("path", (got.path or "/") == (want.path or "/")),
        )
        if not same
    ]
    if differs:
        raise AuthorizationError(
            f"the redirect came back to {printable(redirect.location, 200)!r}, not to "
            f"{printable(redirect_uri, 200)!r}, the redirect_uri this authorization was "
            f"started with (another {' and '.join(differs)}); nothing was stored",
            hint,
        )


def check_issuer(redirect: Redirect, provider: Provider) -> None:
    """RFC 9207: a redirect naming another issuer than the one we started with came from
    another server (a mix-up attack); where the server always sends `iss`, it must be there."""
    expected = provider.issuer.rstrip("/")
    if not expected or (redirect.iss is None and not provider.iss_parameter):
        return
    if (redirect.iss or "").rstrip("/") != expected:
        named = printable(redirect.iss, 200) if redirect.iss is not None else "no issuer"
        raise AuthorizationError(
            f"the redirect names {named!r}, not the issuer {expected!r} this login was "
            "started with (RFC 9207): it may come from another server; nothing was stored",
            "start the login again; if it keeps happening, check the provider's settings",
        )


def _malformed(pasted: str, why: str, hint: Hint | str) -> AuthorizationError:
    shown = printable(pasted, 80)
    return AuthorizationError(f"cannot read the redirect URL {shown!r}: {why}", hint)


# -- requests to the token endpoint ---------------------------------------------------------


def basic_authorization(client_id: str, client_secret: str) -> str:
    """`client_secret_basic`: id and secret form-urlencoded, then base64 (RFC 6749 §2.3.1)."""
    raw = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def client_authentication(
    method: str, client_id: str, client_secret: str | None
) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, form fields) that authenticate the client by `method` (RFC 6749 §2.3.1).

    `client_secret_basic` sends id and secret in the Authorization header; `client_secret_post`
    both in the form; `none` (a public client) only the client_id.
    """
    if method == "client_secret_basic":
        return {"Authorization": basic_authorization(client_id, client_secret or "")}, {}
    if method == "client_secret_post":
        return {}, {"client_id": client_id, "client_secret": client_secret or ""}
    return {}, {"client_id": client_id}


def missing_scopes(
    requested: str | list[str] | None, granted: list[str], implied_by: dict[str, list[str]]
) -> list[str]:
    """Requested scopes the grant lacks, counting a broader scope as covering a narrower one."""
    return [
        scope
        for scope in split_scopes(requested)
        if scope not in granted and not set(implied_by.get(scope, ())) & set(granted)
    ]


# -- answers --------------------------------------------------------------------------------


def answer_fields(body: bytes | str, status: int, what: str) -> dict[str, Any]:
    """An answer's fields from a JSON object or a form-encoded body (GitHub's default).

    Anything else (HTML, a JSON list, a truncated body) is a `NetworkError` naming `what`.
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        data = None
        stripped = text.strip()
        if stripped and "=" in stripped and not stripped.startswith("<") and " " not in stripped:
            data = dict(parse_qsl(stripped, keep_blank_values=True))
    if isinstance(data, dict):
        return data
    kind = (
        "nothing"
        if not text.strip()
        else f"a JSON {type(data).__name__}"
        if data is not None
        else "no JSON object"
    )
    raise NetworkError(
        f"the {what} answered HTTP {status} with {kind} instead of an OAuth answer",
        "check the provider's endpoint URLs; if they are right, the provider is misbehaving",
    )


def raise_for_error_field(
    data: Mapping[str, Any], status: int, code_lifetime: int = 600, provider: str = ""
) -> None:
    """An answer with `error` (RFC 6749 §5.2; GitHub sends it with HTTP 200) raises."""
    error = data.get("error")
    if error is None:
        return
    description = data.get("error_description")
    raise token_error(
        str(error) if isinstance(error, str | int) else "invalid_answer",
        description if isinstance(description, str) else None,
        code_lifetime,
        status,
        provider,
    )


def parse_token_answer(
    body: bytes | str, status: int, code_lifetime: int = 600, provider: str = ""
) -> dict[str, Any]:
    """A token endpoint's answer as fields; error answers raise with the matching advice
    (naming `provider` in the commands it suggests)."""
    data = answer_fields(body, status, "token endpoint")
    raise_for_error_field(data, status, code_lifetime, provider)
    if status >= 400:
        raise ProviderError(
            f"http_{status}", "the token endpoint refused the request", "check the provider"
        )
    return data


def checked_token_answer(data: Mapping[str, Any]) -> TokenAnswer:
    """The fields of a token answer, each checked for type; a bad one is a `NetworkError`
    that names the field (never its value: it may be a secret)."""
    access_token = data.get("access_token")
    if not isinstance(access_token, str) or not access_token.strip():
        present = ", ".join(sorted(str(k) for k in data)) or "none"
        raise _bad_answer(f"no access_token string (fields present: {printable(present, 200)})")
    if not is_vschar_text(access_token):
        raise _bad_answer("an access_token with characters other than visible ASCII")
    token_type = data.get("token_type") or "bearer"
    if not isinstance(token_type, str):
        raise _bad_answer("a token_type that is not text")
    if token_type.lower() != "bearer":
        raise ProviderError(
            "unsupported_token_type",
            f"the token endpoint issued a {printable(token_type, 40)!r} token; only Bearer "
            "tokens (RFC 6750) can be used",
            "ask the provider for Bearer tokens",
        )
    refresh_token = data.get("refresh_token") or None
    if refresh_token is not None and not isinstance(refresh_token, str):
        raise _bad_answer("a refresh_token that is not text")
    if refresh_token is not None and not is_vschar_text(refresh_token):
        raise _bad_answer("a refresh_token with characters other than visible ASCII")
    id_token = data.get("id_token") or None
    if id_token is not None and not isinstance(id_token, str):
        raise _bad_answer("an id_token that is not text")
    scope = data.get("scope")
    if scope is not None and not isinstance(scope, str | list):
        raise _bad_answer("a scope that is neither text nor a list")
    if isinstance(scope, list) and not all(isinstance(s, str) for s in scope):
        raise _bad_answer("a scope list with items that are not text")
    return TokenAnswer(
        access_token=access_token,
        token_type="bearer",
        expires_in=_lifetime(data, "expires_in"),
        refresh_token=refresh_token,
        refresh_token_expires_in=_lifetime(data, "refresh_token_expires_in"),
        scope=split_scopes(scope),
        id_token=id_token,
    )


def is_vschar_text(token: str) -> bool:
    """Tokens are visible ASCII, no spaces (RFC 6749 Appendix A.12/A.17: 1*VSCHAR), so they
    fit an HTTP header and a terminal as they are."""
    return all("\x21" <= c <= "\x7e" for c in token)


def _lifetime(data: Mapping[str, Any], key: str) -> int | None:
    """A lifetime in seconds (a number, or digits as text as form answers carry it)."""
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _bad_answer(f"an {key} that is not a number of seconds")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not 0 <= value <= MAX_LIFETIME:
        raise _bad_answer(f"an {key} that is not a number of seconds")
    return value


def _bad_answer(what: str) -> NetworkError:
    return NetworkError(
        f"the token endpoint's answer has {what}; nothing was stored",
        "try again; if it keeps happening, check the provider's token_url",
    )


@dataclass(frozen=True)
class DeviceCode:
    """A device authorization (RFC 8628 §3.2): what the user must do, and what we poll with."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    expires_in: int
    interval: int


def checked_device_code(data: Mapping[str, Any]) -> DeviceCode:
    """A device authorization answer, each field checked (Google says `verification_url`)."""
    uri = data.get("verification_uri") or data.get("verification_url")
    fields = {"device_code": data.get("device_code"), "user_code": data.get("user_code")}
    for name, value in {**fields, "verification_uri": uri}.items():
        if not isinstance(value, str) or not value.strip():
            raise NetworkError(
                f"the device authorization answer has no {name} text",
                "check the provider's device_url",
            )
    return DeviceCode(
        str(fields["device_code"]),
        str(fields["user_code"]),
        str(uri),
        _bounded(data, "expires_in", 900, 1, 24 * 3600),
        _bounded(data, "interval", 5, 0, 300),
    )


def _bounded(data: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise NetworkError(
            f"the device authorization answer has an {key} that is not {low} to {high} seconds",
            "check the provider's device_url",
        )
    return value


def login_in(identity: Any, login_fields: tuple[str, ...]) -> str | None:
    """The first of `login_fields` in `identity` (a user endpoint's answer, or id_token
    claims) that can name an owner: short printable text (or a number); else None."""
    if isinstance(identity, dict):
        for name in login_fields:
            value = identity.get(name)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
                login = str(value).strip()
                if login.isprintable() and len(login) <= 256:
                    return login
    return None


def login_from_identity(identity: Any, login_fields: tuple[str, ...]) -> str:
    """The owner's login from a user endpoint's answer: the first of `login_fields` present."""
    login = login_in(identity, login_fields)
    if login is not None:
        return login
    raise NetworkError(
        f"the user endpoint gave none of {', '.join(login_fields)} as a login",
        "check the provider's user_url and login_field",
    )
