"""Every call to an authorization server or a user endpoint, each as prepare → send → parse.

Preparing and parsing are pure (`oauth.py`, `oidc.py`); sending is `http.call` (https or
loopback only, no redirects, a deadline, a size limit). Client authentication is chosen
in one place, `client_auth`. Nothing here touches the credentials file: the steps decide
what to store, after every answer has been checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oauthdance.base.advice import Command, Hint
from oauthdance.base.errors import (
    DEVICE_ERROR_HINTS,
    ConfigError,
    NetworkError,
    ProviderError,
    advice,
)
from oauthdance.net import http
from oauthdance.protocol import oauth, oidc
from oauthdance.protocol.client import Client
from oauthdance.protocol.providers import Provider
from oauthdance.protocol.quirks import fix_token_answer
from oauthdance.protocol.tokens import TokenAnswer

JSON = {"Accept": "application/json"}


def client_auth(client: Client, authenticate: bool = True) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, form fields) authenticating `client` as its provider wants (RFC 6749 §2.3).

    `authenticate=False` identifies a public client by its client_id only (GitHub's device
    flow needs no secret).
    """
    method = client.auth_method if authenticate else "none"
    secret = client.require_secret() if method != "none" else None
    return oauth.client_authentication(method, client.client_id, secret)


def request_token(
    client: Client,
    grant_type: str,
    params: dict[str, Any],
    authenticate: bool = True,
    deadline: float | None = None,
) -> TokenAnswer:
    """POST a grant to the token endpoint (RFC 6749 §4.1.3, §6; RFC 8628 §3.4); the checked
    answer, or an error with advice (GitHub sends errors with HTTP 200)."""
    provider = client.provider
    headers, form = client_auth(client, authenticate)
    form = {"grant_type": grant_type, **form}
    form.update({k: str(v) for k, v in params.items() if v is not None})
    answer = http.call(
        "POST", provider.token_endpoint, headers={**JSON, **headers}, data=form, deadline=deadline
    )
    fields = oauth.parse_token_answer(
        answer.content, answer.status_code, provider.code_lifetime, provider.name
    )
    return oauth.checked_token_answer(fix_token_answer(provider.quirks, fields))


def request_device_code(client: Client, scope: str) -> oauth.DeviceCode:
    """Start a device authorization (RFC 8628 §3.1)."""
    provider = client.provider
    if not provider.device_url:
        raise ConfigError(
            f"{provider.name} has no device flow (no device_url)",
            Hint("use {login} instead", login=Command("auth.login", provider.name)),
        )
    headers, form = client_auth(client, provider.device_client_auth == "both")
    answer = http.call(
        "POST",
        provider.endpoint("device_url"),
        headers={**JSON, **headers},
        data={**form, "scope": scope},  # `form` names the client unless Basic does
    )
    fields = oauth.answer_fields(answer.content, answer.status_code, "device endpoint")
    if "error" in fields or answer.status_code >= 400:
        error = fields.get("error")
        error = error if isinstance(error, str) else f"http_{answer.status_code}"
        description = fields.get("error_description")
        raise ProviderError(
            error,
            description if isinstance(description, str) else None,
            advice(DEVICE_ERROR_HINTS, error, provider.name),
            answer.status_code,
        )
    return oauth.checked_device_code(fields)


@dataclass(frozen=True)
class Identity:
    """Whose token it is, and the scopes it carries where the provider says (GitHub does)."""

    login: str
    scopes: list[str] | None


def fetch_identity(provider: Provider, access_token: str) -> Identity:
    """Ask the user endpoint whose token this is."""
    answer = http.call(
        "GET",
        provider.user_endpoint,
        headers={**provider.api_headers, "Authorization": f"Bearer {access_token}"},
    )
    if answer.status_code == 401:
        raise ProviderError(
            "bad_credentials",
            "the provider refused the token (revoked, expired or wrong)",
            Hint("log in again: {login}", login=Command("auth.login", provider.name)),
            401,
        )
    if answer.status_code >= 400:
        raise ProviderError.from_response(
            answer,
            "check the provider's user endpoint (api_base + user_path, or user_url)",
            "the user endpoint",
        )
    login = oauth.login_from_identity(answer.json_or_none(), provider.login_field)
    header = answer.headers.get(provider.scopes_header) if provider.scopes_header else None
    return Identity(login, oauth.split_scopes(header) if header is not None else None)


@dataclass(frozen=True)
class TokenCheck:
    """What the provider says of a token it was asked about."""

    valid: bool
    scopes: list[str] | None = None
    login: str | None = None
    expires_at: int | None = None  # epoch seconds, where the provider says


def check_token(client: Client, access_token: str) -> TokenCheck:
    """Ask the provider whether `access_token` still works: RFC 7662 introspection where the
    provider has it, else GitHub's check (which costs no rate limit)."""
    if client.provider.introspection_url:
        return _introspect(client, access_token)
    answer = _about_token(client, "token_check_url", "POST", access_token)
    if answer.status_code in (404, 422):
        return TokenCheck(False)
    if answer.status_code >= 400:
        raise ProviderError.from_response(
            answer, "check the app's client_id and client_secret", "the token check"
        )
    body = answer.json_or_none()
    if not isinstance(body, dict):
        raise NetworkError(
            "the token check answered with no JSON object", "check the provider's token_check_url"
        )
    scopes = body.get("scopes")
    user = body.get("user")
    login = user.get("login") if isinstance(user, dict) else None
    return TokenCheck(
        True,
        [str(s) for s in scopes] if isinstance(scopes, list) else None,
        str(login) if isinstance(login, str | int) else None,
    )


def _introspect(client: Client, access_token: str) -> TokenCheck:
    """RFC 7662: `active` decides; the request authenticates like the token endpoint."""
    headers, form = client_auth(client)
    answer = http.call(
        "POST",
        client.provider.endpoint("introspection_url"),
        headers={**JSON, **headers},
        data={"token": access_token, "token_type_hint": "access_token", **form},
    )
    if answer.status_code >= 400:
        raise ProviderError.from_response(
            answer, "check the app's client_id and client_secret", "introspection"
        )
    body = answer.json_or_none()
    if not isinstance(body, dict) or not isinstance(body.get("active"), bool):
        raise NetworkError(
            "the introspection endpoint did not say whether the token is active",
            "check the provider's introspection_url",
        )
    if not body["active"]:
        return TokenCheck(False)
    scope, exp = body.get("scope"), body.get("exp")
    login = next((body[k] for k in ("username", "sub") if isinstance(body.get(k), str)), None)
    return TokenCheck(
        True,
        oauth.split_scopes(scope) if isinstance(scope, str) else None,
        login,
        exp if isinstance(exp, int) and not isinstance(exp, bool) else None,
    )


def revoke_token(client: Client, access_token: str) -> bool:
    """Revoke `access_token` at the provider; True if it already counted as invalid."""
    method = "POST" if client.provider.revocation_style == "rfc7009" else "DELETE"
    answer = _about_token(client, "revocation_url", method, access_token)
    if answer.status_code >= 400 and answer.status_code != 404:
        raise ProviderError.from_response(
            answer, "check the app's client_id and client_secret, then try again", "revocation"
        )
    return answer.status_code == 404


def _about_token(client: Client, field: str, method: str, access_token: str) -> http.Answer:
    """A request about one token, authenticated as the client (never as the user).

    GitHub style: Basic auth and a JSON body. RFC 7009: a form body with the provider's
    usual client authentication.
    """
    provider = client.provider
    url = provider.app_token_endpoint(field, client.client_id)
    if provider.revocation_style == "rfc7009":
        headers, form = client_auth(client)
        form = {"token": access_token, "token_type_hint": "access_token", **form}
        return http.call(method, url, headers={**JSON, **headers}, data=form)
    basic = oauth.basic_authorization(client.client_id, client.require_secret())
    headers = {**provider.api_headers, "Authorization": basic}
    return http.call(method, url, headers=headers, json_body={"access_token": access_token})


def discover(issuer: str) -> dict[str, Any]:
    """An issuer's endpoints and methods, as provider overrides: its OpenID Connect
    discovery document, else its RFC 8414 metadata (a server without OpenID Connect)."""
    statuses = []
    for url, openid in oidc.metadata_urls(issuer):
        answer = http.call("GET", url, headers=JSON)
        statuses.append(str(answer.status_code))
        meta = answer.json_or_none() if answer.status_code == 200 else None
        if meta is not None:
            return oidc.overrides_from_metadata(meta, issuer, openid=openid)
    raise NetworkError(
        f"{issuer} has neither an OpenID Connect discovery document nor RFC 8414 metadata "
        f"(HTTP {' and '.join(statuses)})",
        "check the issuer URL: it is the `issuer` the provider documents",
    )


def id_token_claims(client: Client, id_token: str, nonce: str | None) -> dict[str, Any]:
    """The claims of `id_token` once validated against the issuer's current JWKS."""
    provider = client.provider
    if not provider.jwks_uri or not provider.issuer:
        raise ConfigError(
            f"{provider.name} has no issuer/jwks_uri to check id_tokens against",
            Hint(
                "run {configure}",
                configure=Command("auth.configure", provider.name).with_flags(issuer="URL"),
            ),
        )
    answer = http.call("GET", provider.endpoint("jwks_uri"), headers=JSON)
    jwks = answer.json_or_none()  # anything but a key set is refused as unreadable there
    return oidc.validate_id_token(id_token, jwks, provider, client.client_id, nonce)
