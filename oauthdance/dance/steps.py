"""Each step of the dance as one call over a `Target`, answering with a typed result.

The one implementation behind both faces: an `auth.*` task parses its flags and prints the
result; the Python call (`oauthdance.login(...)`) returns it. What a step needs beyond the
target comes as keyword arguments named as the task's flags.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from oauthdance.base.advice import Command, Hint, setting
from oauthdance.dance import flow
from oauthdance.keep.target import Target
from oauthdance.protocol.providers import get_provider, load_providers
from oauthdance.protocol.tokens import isoformat, mask
from oauthdance.store.record import overrides_of, pick_owner

if TYPE_CHECKING:  # the results load when a step makes one: `auth.url` makes none
    from oauthdance.dance.results import (
        Checked,
        CodeStored,
        Configured,
        Exchanged,
        Identity,
        LoggedOut,
        Refreshed,
        Revoked,
        Status,
    )


def configure(
    target: Target,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    redirect_uri: str | None = None,
    scope: str | None = None,
    host: str | None = None,
    issuer: str | None = None,
    client_auth: str | None = None,
    secret_in_env: bool = False,
) -> Configured:
    """Record the app's client id, secret, callback URL and scope (`issuer`: the endpoints
    from its discovery document; `client_auth`: how the client authenticates)."""
    store, name = target.store, target.settings.provider
    overrides = None
    if issuer:
        from oauthdance.net.endpoints import discover

        overrides = discover(issuer)
    if client_auth:
        overrides = {**(overrides or overrides_of(store.record(name)) or {})}
        overrides["client_auth"] = client_auth
    base = get_provider(
        name, target.settings.providers_file, overrides or overrides_of(store.record(name))
    )
    app = flow.configure(
        store,
        base,
        overrides=overrides,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=redirect_uri,
        scope=scope,
        host=host,
        store_secret=not secret_in_env,
    )
    secret_variable = f"{app.provider.env_prefix}_CLIENT_SECRET"
    from oauthdance.dance.results import Configured

    return Configured(
        provider=app.provider.name,
        client_id=app.client_id,
        client_secret=mask(app.client_secret),
        secret_source=app.secret_source,
        redirect_uri=app.redirect_uri,
        scope=app.scope,
        creds=store.location,
        auth_method=app.auth_method,
        secret_variable=secret_variable,
        warnings=(
            ()
            if app.client_secret or app.auth_method == "none"
            else (
                f"no client secret yet: set {secret_variable} or pass "
                f"{setting('client_secret')} before the code is exchanged",
            )
        ),
    )


def authorize(
    target: Target, *, scope: str | None = None, redirect_uri: str | None = None
) -> flow.Authorization:
    """A new authorization (state and PKCE verifier), kept as pending: its URL to open."""
    owner = target.user
    return flow.start_authorization(
        target.store,
        target.provider,
        scope=scope,
        redirect_uri=redirect_uri,
        extra_params={"login": owner} if owner else None,
    )


def store_code(
    target: Target,
    *,
    code: str | None = None,
    url: str | None = None,
    state: str | None = None,
) -> CodeStored:
    """Keep the code that came back (in the redirected address, or bare) on its authorization."""
    provider = target.provider
    matched = flow.store_code(target.store, provider, code=code, state=state, url=url)
    from oauthdance.dance.results import CodeStored

    return CodeStored(provider.name, matched)


def exchange(target: Target, *, state: str | None = None) -> Exchanged:
    """Trade the code for a token and store it (under `user` if named, else unverified)."""
    provider = target.provider
    done = flow.exchange_code(target.store, provider, state=state, user=target.user)
    from oauthdance.dance.results import Exchanged

    return Exchanged(
        provider=provider.name,
        state=done.state,
        owner=done.owner,
        token=mask(done.token["access_token"]),
        scope=tuple(done.token.get("scope") or ()),
        expires_at=done.token.get("expires_at"),
    )


def verify(target: Target) -> list[Identity]:
    """Ask the provider whose each waiting token (or the owner's) is; keep it under that login."""
    results = flow.verify_token(target.store, target.provider, user=target.user)
    return [identity(target, result) for result in results]


def login(
    target: Target,
    *,
    scope: str | None = None,
    port: int | None = None,
    timeout: float | None = None,
    browser: bool = True,
    mode: str = "auto",
) -> Identity:
    """The whole dance in one call: `mode` "browser" (a loopback callback), "paste",
    "device", or "auto" (`login.decide_mode` says which, and why)."""
    from oauthdance.dance.login import DEFAULT_TIMEOUT, run_login

    result = run_login(
        target.store,
        target.provider,
        user=target.user,
        scope=scope,
        port=port,
        timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
        browser=browser,
        mode=mode,
    )
    return identity(target, result, asked_for=target.user)


def device(
    target: Target,
    *,
    scope: str | None = None,
    browser: bool = True,
    timeout: float | None = None,
) -> Identity:
    """The device flow: the user types a short code on another device while this polls
    (until the code expires, or `timeout` seconds)."""
    from oauthdance.dance import login as browsing
    from oauthdance.dance.device import device_login

    opener = browsing.open_browser if browser and browsing.browser_can_start() else None
    result = device_login(
        target.store,
        target.provider,
        scope=scope,
        user=target.user,
        opener=opener,
        timeout=timeout,
    )
    return identity(target, result, asked_for=target.user)


def identity(target: Target, verified: flow.Verified, asked_for: str | None = None) -> Identity:
    """A verified token as a result: its owner, scopes and expiry, the token masked; what
    the person should know (fewer scopes than asked; another account than `asked_for`)."""
    warnings = []
    if verified.missing_scopes:
        warnings.append(
            f"{verified.owner} granted fewer scopes than asked: missing "
            f"{', '.join(verified.missing_scopes)}"
        )
    if asked_for and asked_for != verified.owner:
        warnings.append(
            f"asked for {asked_for}, but the account that approved is {verified.owner}: the "
            f"token is stored under {verified.owner}"
        )
    from oauthdance.dance.results import Identity

    return Identity(
        provider=target.provider.name,
        owner=verified.owner,
        scopes=tuple(verified.scopes),
        missing_scopes=tuple(verified.missing_scopes),
        token=mask(verified.token["access_token"]),
        expires_at=verified.token.get("expires_at"),
        source=target.store.kind,
        creds=target.store.location,
        warnings=tuple(warnings),
    )


def refresh(target: Target) -> Refreshed:
    """Refresh the owner's token now, due or not (the refresh token rotates)."""
    from oauthdance.keep.lifecycle import refresh_token

    store, provider = target.store, target.provider
    owner = pick_owner(store.record(provider.name), target.user, provider.name)
    fresh = refresh_token(store, provider, owner, force=True)
    from oauthdance.dance.results import Refreshed

    return Refreshed(provider.name, owner, mask(fresh["access_token"]), fresh.get("expires_at"))


def check(target: Target) -> Checked:
    """The provider's word on whether the stored token still works (changes nothing)."""
    from oauthdance.keep.lifecycle import check_token

    provider = target.provider
    result = check_token(target.store, provider, target.user)
    from oauthdance.dance.results import Checked

    return Checked(
        provider=provider.name,
        owner=result.owner,
        valid=result.valid,
        scopes=None if result.scopes is None else tuple(result.scopes),
        login=result.login,
        expires_at=_instant(result.expires_at),
    )


def revoke(target: Target) -> Revoked:
    """Revoke the token at the provider, then remove it here."""
    from oauthdance.keep.lifecycle import revoke_token

    owner, already_invalid = revoke_token(target.store, target.provider, target.user)
    from oauthdance.dance.results import Revoked

    return Revoked(target.provider.name, owner, already_invalid)


def logout(target: Target) -> LoggedOut:
    """Remove the token here only (it keeps working at the provider until revoked)."""
    from oauthdance.keep.lifecycle import forget_token

    store, provider = target.store, target.provider
    owner = pick_owner(store.record(provider.name), target.user, provider.name)
    forget_token(store, provider, owner)
    still = Hint(
        "the token still works at the provider until it is revoked: revoke it in the "
        "provider's settings (use {revoke} instead of logout next time)",
        revoke=Command("auth.revoke"),
    )
    from oauthdance.dance.results import LoggedOut

    return LoggedOut(provider.name, owner, store.location, (still.render(),))


def use(target: Target, owner: str) -> str:
    """Make `owner` the provider's default owner; its name back."""
    from oauthdance.keep.lifecycle import make_default_owner

    make_default_owner(target.store, target.provider, owner)
    return owner


def status(target: Target, provider: str | None = None, user: str | None = None) -> Status:
    """Every stored token (or only `provider`'s, `user`'s), masked; changes nothing."""
    from oauthdance.dance.status import status_rows

    store, providers_file = target.store, target.settings.providers_file
    providers = load_providers(providers_file)
    if provider and provider not in providers:  # a typo must not read as "nothing stored"
        get_provider(provider, providers_file, overrides_of(store.record(provider)))
    rows = [
        row
        for row in status_rows(store, providers)
        if (not provider or row.provider == provider) and (not user or row.owner == user)
    ]
    shadows = sorted({(row.provider, row.shadowed_by) for row in rows if row.shadowed_by})
    warnings = tuple(
        f"{name}: a token in the {shadow} shadows the stored ones for data tasks and the "
        f"Python API (pass {setting('user')} to use a stored one)"
        for name, shadow in shadows
    )
    from oauthdance.dance.results import Status

    return Status(store.location, tuple(rows), warnings)


def _instant(epoch: int | None) -> str | None:
    """An epoch time from a provider, as the file stores times (UTC, ISO 8601)."""
    from datetime import datetime, timezone

    if epoch is None:
        return None
    try:
        return isoformat(datetime.fromtimestamp(epoch, timezone.utc))
    except (OverflowError, OSError, ValueError):
        return None
