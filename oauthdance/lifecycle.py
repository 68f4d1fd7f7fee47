"""A token's life after the dance: find it, refresh it before it dies, check, revoke, forget.

Refreshing holds the credentials file's lock across the refresh request and re-reads the
file inside it, so two processes never both spend one rotated refresh token: the second
finds the first's fresh pair and uses it. The new pair is written before it is returned.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .app import App, resolve_app
from .errors import ConfigError, NotLoggedIn, ProviderError
from .http import send
from .providers import Provider
from .store import CredentialsFile
from .tokens import isoformat, parse_time, pick_owner, token_record, utcnow

MAX_LEEWAY = timedelta(seconds=60)
DEAD_REFRESH_ERRORS = ("bad_refresh_token", "invalid_grant")


@dataclass(frozen=True)
class FoundToken:
    """A usable access token, whose it is (None for an environment token), and its source."""

    access_token: str
    owner: str | None
    source: str  # "file" or "environment (NAME)"
    record: dict[str, Any]


def leeway(token: dict[str, Any]) -> timedelta:
    """How long before expiry a token counts as expired: min(60 s, half its lifetime)."""
    expires, created = parse_time(token.get("expires_at")), parse_time(token.get("created_at"))
    if expires is None:
        return timedelta(0)
    if created is None:
        return MAX_LEEWAY
    return min(MAX_LEEWAY, (expires - created) / 2)


def needs_refresh(token: dict[str, Any], now: datetime | None = None) -> bool:
    expires = parse_time(token.get("expires_at"))
    return expires is not None and (now or utcnow()) >= expires - leeway(token)


def environment_token(provider: Provider) -> tuple[str, str] | None:
    """(token, variable) from the provider's token variables (GITHUB_TOKEN, GH_TOKEN, ...)."""
    for name in provider.token_env:
        if os.environ.get(name):
            return os.environ[name], name
    return None


def find_token(
    creds: CredentialsFile,
    provider: Provider,
    user: str | None = None,
    *,
    use_environment: bool = True,
    now: datetime | None = None,
) -> FoundToken:
    """The token to use now: an environment token (unless an owner is named), else the
    stored owner's, refreshed first when it is within its leeway of expiry."""
    if use_environment and not user:
        found = environment_token(provider)
        if found:
            return FoundToken(found[0], None, f"environment ({found[1]})", {})
    record = creds.record(provider.name)
    owner = pick_owner(record, user, provider.name)
    token = record["tokens"][owner]
    _raise_if_dead(token, provider, owner)
    if needs_refresh(token, now):
        token = refresh(creds, provider, owner, now=now)
    return FoundToken(str(token["access_token"]), owner, "file", token)


def refresh(
    creds: CredentialsFile,
    provider: Provider,
    owner: str,
    *,
    force: bool = False,
    stale_token: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Refresh `owner`'s token (if still needed once the lock is held); return the fresh one.

    `force` refreshes even a token that is not due; `stale_token` (one the provider just
    refused) refreshes unless another process already replaced it, so eight workers that
    all see a 401 spend one refresh, not eight.
    """
    failure: ProviderError | None = None
    with creds.update() as data:
        record = data.get(provider.name) or {}
        token = (record.get("tokens") or {}).get(owner)
        if token is None:
            raise NotLoggedIn(
                f"no {provider.name} token is stored for {owner!r}", login_command(provider, owner)
            )
        if stale_token is not None:
            if token.get("access_token") != stale_token:
                return token  # already replaced by another worker or process
        elif not force and not needs_refresh(token, now):
            return token  # another process refreshed it while we waited for the lock
        _raise_if_dead(token, provider, owner)
        if not token.get("refresh_token"):
            raise NotLoggedIn(
                f"the {provider.name} token of {owner} has expired and has no refresh token",
                f"log in again: {login_command(provider, owner)}",
            )
        from .flow import request_token

        app = resolve_app(provider, record).require_client_id()
        try:
            answer = request_token(app, "refresh_token", {"refresh_token": token["refresh_token"]})
        except ProviderError as exc:
            if exc.error not in DEAD_REFRESH_ERRORS:
                raise
            token["needs_login"] = True  # written below, so every later use says so at once
            failure = exc
        else:
            fresh = token_record(answer, token.get("requested_scope") or "", now or utcnow())
            fresh.setdefault("refresh_token", token.get("refresh_token"))
            if not fresh.get("refresh_token_expires_at") and token.get("refresh_token_expires_at"):
                fresh["refresh_token_expires_at"] = token["refresh_token_expires_at"]
            fresh["scope"] = fresh["scope"] or token.get("scope") or []
            for kept in ("login", "verified_at"):
                if token.get(kept):
                    fresh[kept] = token[kept]
            fresh["refreshed_at"] = isoformat(now or utcnow())
            record["tokens"][owner] = fresh
            return fresh
    assert failure is not None
    raise NotLoggedIn(
        f"the {provider.name} refresh token of {owner} was refused ({failure.error}): it was "
        "revoked, already used, or has expired",
        f"log in again: {login_command(provider, owner)}",
    )


def _raise_if_dead(token: dict[str, Any], provider: Provider, owner: str) -> None:
    if token.get("needs_login"):
        raise NotLoggedIn(
            f"the {provider.name} token of {owner} can no longer be refreshed",
            f"log in again: {login_command(provider, owner)}",
        )


def login_command(provider: Provider, owner: str | None = None) -> str:
    user = f" -u {owner}" if owner else ""
    return f"`invoke auth.login -p {provider.name}{user}`"


# -- at the provider -------------------------------------------------------------------


def _app_token_request(app: App, template: str, method: str, access_token: str) -> Any:
    """A request about one token, authenticated as the app (never as the user).

    GitHub style: Basic auth and a JSON body. RFC 7009: a form body with the provider's
    usual client authentication.
    """
    from .oauth import basic_authorization

    api = app.provider
    if not app.client_secret and api.client_auth != "none":
        raise ConfigError(
            f"no client_secret for {api.name!r}",
            f"set {api.env_prefix}_CLIENT_SECRET or run auth.configure",
        )
    url = api.url(template).replace("{api}", api.api_root).replace("{client_id}", app.client_id)
    if api.revocation_style == "rfc7009":
        form = {"token": access_token, "token_type_hint": "access_token"}
        headers = {"Accept": "application/json"}
        if api.client_auth == "client_secret_basic":
            headers["Authorization"] = basic_authorization(app.client_id, app.client_secret or "")
        else:
            form["client_id"] = app.client_id
            if api.client_auth == "client_secret_post":
                form["client_secret"] = app.client_secret or ""
        return send(method, url, headers=headers, data=form)
    headers = {
        **api.api_headers,
        "Authorization": basic_authorization(app.client_id, app.client_secret or ""),
    }
    return send(method, url, headers=headers, json={"access_token": access_token})


def _stored(creds: CredentialsFile, provider: Provider, user: str | None) -> tuple[str, App, str]:
    """(owner, app, access token) of the stored token a check or revocation is about."""
    record = creds.record(provider.name)
    owner = pick_owner(record, user, provider.name)
    app = resolve_app(provider, record).require_client_id()
    return owner, app, record["tokens"][owner]["access_token"]


def check(creds: CredentialsFile, provider: Provider, user: str | None = None) -> dict[str, Any]:
    """Is the stored token still valid at the provider? (GitHub's check costs no rate limit.)"""
    owner, app, access = _stored(creds, provider, user)
    if not app.provider.token_check_url:
        raise ConfigError(
            f"{provider.name} offers no token check endpoint",
            f"use `invoke auth.verify -p {provider.name}` instead",
        )
    response = _app_token_request(app, app.provider.token_check_url, "POST", access)
    if response.status_code in (404, 422):
        return {"owner": owner, "valid": False}
    if response.status_code >= 400:
        raise ProviderError(
            f"http_{response.status_code}",
            response.text[:200],
            "check the app's client_id and client_secret",
        )
    body = response.json()
    return {
        "owner": owner,
        "valid": True,
        "scopes": body.get("scopes"),
        "login": (body.get("user") or {}).get("login"),
    }


def revoke(creds: CredentialsFile, provider: Provider, user: str | None = None) -> dict[str, Any]:
    """Revoke the token at the provider, then forget it here."""
    owner, app, access = _stored(creds, provider, user)
    if not app.provider.revocation_url:
        raise ConfigError(
            f"{provider.name} has no revocation endpoint",
            "revoke the token in the provider's settings, then `invoke auth.logout`",
        )
    method = "POST" if app.provider.revocation_style == "rfc7009" else "DELETE"
    response = _app_token_request(app, app.provider.revocation_url, method, access)
    if response.status_code >= 400 and response.status_code != 404:
        raise ProviderError(
            f"http_{response.status_code}",
            response.text[:200],
            "check the app's client_id and client_secret, then try again",
        )
    forget(creds, provider, owner)
    return {"owner": owner, "already_invalid": response.status_code == 404}


def forget(creds: CredentialsFile, provider: Provider, owner: str) -> None:
    """Remove `owner`'s token from the file; another owner becomes the default."""
    with creds.update() as data:
        record = data.get(provider.name) or {}
        tokens = record.get("tokens") or {}
        if owner not in tokens:
            raise NotLoggedIn(
                f"no {provider.name} token is stored for {owner!r}",
                f"see `invoke auth.status -p {provider.name}`",
            )
        del tokens[owner]
        if record.get("default_user") == owner:
            if tokens:
                record["default_user"] = next(iter(tokens))
            else:
                record.pop("default_user", None)
        if not tokens:
            record.pop("tokens", None)


def use(creds: CredentialsFile, provider: Provider, owner: str) -> None:
    """Make `owner` the provider's default owner."""
    with creds.update() as data:
        record = data.get(provider.name) or {}
        if owner not in (record.get("tokens") or {}):
            known = ", ".join(sorted(record.get("tokens") or {})) or "none"
            raise NotLoggedIn(
                f"no {provider.name} token is stored for {owner!r} (stored owners: {known})",
                login_command(provider, owner),
            )
        record["default_user"] = owner
