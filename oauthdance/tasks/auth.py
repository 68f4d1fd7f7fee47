"""`auth.*` tasks: each parses flags, calls one step in `oauthdance.dance.flow`, and prints."""

from __future__ import annotations

import json as _json
from typing import Any

from invoke import Context

from oauthdance.base.advice import Command, Hint
from oauthdance.base.errors import TokenRejected, UsageError
from oauthdance.dance import flow
from oauthdance.protocol.providers import Provider, get_provider, load_providers
from oauthdance.protocol.tokens import mask
from oauthdance.store.record import overrides_of, pick_owner
from oauthdance.tasks.common import cli_task, say, target, warn
from oauthdance.tasks.options import whole_number


def _print_json(data: Any) -> None:
    print(_json.dumps(data, indent=2, default=str))


@cli_task(
    client_id="the app's client ID (else <PROVIDER>_CLIENT_ID from the environment or .env)",
    client_secret="the app's client secret (else <PROVIDER>_CLIENT_SECRET)",
    redirect_uri="the callback URL registered with the app (https, or http on 127.0.0.1)",
    scope="scopes to ask for, space- or comma-separated",
    host="serve the provider from this host[:port] (GitHub Enterprise, the sandbox)",
    issuer="an OpenID Connect issuer (or RFC 8414 OAuth server): read its metadata for the "
    "endpoints",
    client_auth="client_secret_basic, client_secret_post or none (default: the provider's "
    "entry; else none without a secret, else what the server takes, Basic first)",
    secret_in_env="keep the client secret out of the file: read it from the environment",
)
def configure(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    redirect_uri: str | None = None,
    scope: str | None = None,
    host: str | None = None,
    issuer: str | None = None,
    client_auth: str | None = None,
    secret_in_env: bool = False,
    json: bool = False,
) -> None:
    """Record the OAuth app's client id, secret, callback URL and scope."""
    aim = target(c, provider, user, creds)
    store, overrides = aim.store, None
    if issuer:
        from oauthdance.net.endpoints import discover

        overrides = discover(issuer)
    if client_auth:
        overrides = {**(overrides or overrides_of(store.record(aim.settings.provider)) or {})}
        overrides["client_auth"] = client_auth
    name, settings = aim.settings.provider, aim.settings
    base = get_provider(
        name,
        settings.providers_file,
        overrides or overrides_of(store.record(name)),
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
    summary = {
        "provider": app.provider.name,
        "client_id": app.client_id,
        "client_secret": mask(app.client_secret),
        "secret_source": app.secret_source,
        "redirect_uri": app.redirect_uri,
        "scope": app.scope,
        "creds": store.location,
    }
    if json:
        _print_json(summary)
        return
    say(f"configured {app.provider.name} in {store.location}")
    for key in ("client_id", "redirect_uri", "scope"):
        say(f"  {key}: {summary[key]}")
    say(f"  client_secret: {summary['client_secret'] or '(none)'} (from {app.secret_source})")
    if not app.client_secret and app.auth_method != "none":
        warn(
            f"no client secret yet: set {app.provider.env_prefix}_CLIENT_SECRET or pass "
            "--client-secret before auth.exchange"
        )
    say(f"next: {Command('auth.url', app.provider.name).text()}")


@cli_task(
    scope="scopes for this authorization (default: the configured scope)",
    redirect_uri="callback URL for this authorization (default: the configured one)",
    open="open the URL in a web browser",
)
def url(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
    scope: str | None = None,
    redirect_uri: str | None = None,
    open: bool = False,
    json: bool = False,
) -> None:
    """Make the authorize URL (a new state and PKCE verifier) and keep it as pending
    (the notebook's line 1)."""
    aim = target(c, provider, user, creds)
    prov, owner = aim.provider, aim.user
    started = flow.start_authorization(
        aim.store,
        prov,
        scope=scope,
        redirect_uri=redirect_uri,
        extra_params={"login": owner} if owner else None,
    )
    if json:
        _print_json({"url": started.url, "state": started.state})
    else:
        say(started.url)
        paste = Command("auth.code", prov.name).with_flags(url="<the address the browser shows>")
        say(f"next: after approving, run: {paste.text()}")
    if open:
        import webbrowser

        if not webbrowser.open(started.url):
            warn("could not open a browser: open the URL above by hand")


@cli_task(
    code="the code from the redirect (with --state when several authorizations are pending)",
    state="the state of the authorization the code belongs to",
    url="the whole address the browser shows after the redirect",
)
def code(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
    code: str | None = None,
    state: str | None = None,
    url: str | None = None,
) -> None:
    """Keep the code that came back (from --url or --code) on its authorization
    (the notebook's line 6)."""
    aim = target(c, provider, user, creds)
    prov = aim.provider
    matched = flow.store_code(aim.store, prov, code=code, state=state, url=url)
    say(f"stored the code for authorization {matched[:8]}...")
    say(f"next: {Command('auth.exchange', prov.name).text()}")


@cli_task(state="which pending authorization to exchange (default: the only one)")
def exchange(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
    state: str | None = None,
    json: bool = False,
) -> None:
    """Exchange the code for an access token and store it (the notebook's lines 7-8)."""
    aim = target(c, provider, user, creds)
    prov = aim.provider
    done = flow.exchange_code(aim.store, prov, state=state, user=user)
    summary = {
        "provider": prov.name,
        "state": done.state,
        "owner": done.owner,
        "token": mask(done.token["access_token"]),
        "scope": done.token.get("scope"),
        "expires_at": done.token.get("expires_at"),
    }
    if json:
        _print_json(summary)
        return
    scopes = ", ".join(done.token.get("scope") or []) or "none"
    say(f"got token {summary['token']} (scopes: {scopes})")
    say(f"next: {Command('auth.verify', prov.name).text()}")


@cli_task()
def verify(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
    json: bool = False,
) -> None:
    """Use the token: ask the provider whose it is and which scopes it has."""
    aim = target(c, provider, user, creds)
    prov = aim.provider
    results = flow.verify_token(aim.store, prov, user=aim.user)
    rows = [_verified_summary(prov, result) for result in results]
    if json:
        _print_json(rows)
        return
    for row in rows:
        say(
            f"verified {row['provider']} token {row['token']}: login {row['owner']}, "
            f"scopes {', '.join(row['scopes']) or 'none'}"
        )


@cli_task(provider="show only this provider")
def status(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
    json: bool = False,
) -> None:
    """Show providers, owners, scopes, expiry and token sources (masked); changes nothing."""
    from oauthdance.dance.status import status_rows

    aim = target(c, None, None, creds)
    store = aim.store
    providers = load_providers(aim.settings.providers_file)
    if provider and provider not in providers:  # a typo must not read as "nothing stored"
        get_provider(provider, aim.settings.providers_file, overrides_of(store.record(provider)))
    rows = status_rows(store, providers)
    rows = [
        r
        for r in rows
        if (not provider or r["provider"] == provider) and (not user or r["owner"] == user)
    ]
    for name, shadow in sorted(
        {(r["provider"], r["shadowed_by"]) for r in rows if r["shadowed_by"]}
    ):
        warn(
            f"{name}: a token in the {shadow} shadows the stored ones for data tasks and the "
            "Python API (pass --user to use a stored one)"
        )
    if json:
        _print_json(rows)
        return
    if not rows:
        say(f"nothing stored in {store.location} yet: run {Command('auth.configure')} first")
        return
    header = ("PROVIDER", "OWNER", "TOKEN", "FROM", "SCOPES", "EXPIRES", "SECRET FROM")
    table = [header] + [
        (
            r["provider"],
            (r["owner"] or "-") + (" *" if r["default"] else ""),
            r["token"] or "-",
            r["source"] or "-",
            ",".join(r["scopes"]) or "-",
            _expiry(r),
            r["secret_source"],
        )
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        say("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _instant(epoch: int | None) -> str | None:
    """An epoch time from a provider, as the file stores times (UTC, ISO 8601)."""
    from datetime import datetime, timezone

    from oauthdance.protocol.tokens import isoformat

    if epoch is None:
        return None
    try:
        return isoformat(datetime.fromtimestamp(epoch, timezone.utc))
    except (OverflowError, OSError, ValueError):
        return None


def _expiry(row: dict[str, Any]) -> str:
    if row["needs_login"]:
        return "needs login"
    if not row["expires_at"]:
        return "never" if row["token"] else "-"
    note = " (expired" + (", refreshable)" if row["refreshable"] else ")")
    return row["expires_at"] + (note if row["expired"] else "")


@cli_task()
def token(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
) -> None:
    """Print only the raw access token (refreshed if due), for TOKEN=$(invoke auth.token)."""
    from oauthdance.keep.lifecycle import find_token

    aim = target(c, provider, user, creds)
    print(find_token(aim.store, aim.provider, aim.user).access_token)


def _verified_summary(prov: Provider, result: flow.Verified) -> dict[str, Any]:
    """What to show of a verified token (masked); warns when scopes are missing."""
    if result.missing_scopes:
        warn(
            f"{result.owner} granted fewer scopes than asked: missing "
            f"{', '.join(result.missing_scopes)}"
        )
    return {
        "provider": prov.name,
        "owner": result.owner,
        "scopes": result.scopes,
        "missing_scopes": result.missing_scopes,
        "token": mask(result.token["access_token"]),
    }


def _print_logged_in(prov: Provider, result: flow.Verified, json: bool) -> None:
    row = _verified_summary(prov, result)
    if json:
        _print_json(row)
    else:
        say(
            f"logged in to {prov.name} as {row['owner']} (token {row['token']}, "
            f"scopes {', '.join(row['scopes']) or 'none'})"
        )


@cli_task(
    scope="scopes for this login (default: the configured scope)",
    port="receive the redirect on this 127.0.0.1 port (default: the redirect_uri's, or a "
    "free one where the provider accepts any loopback port)",
    timeout="seconds to wait for the redirect (default 300)",
    no_browser="print the URL but do not open a browser",
    paste="paste the redirected address (or the code) instead of receiving it",
)
def login(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
    scope: str | None = None,
    port: str | None = None,
    timeout: int = 300,
    no_browser: bool = False,
    paste: bool = False,
    json: bool = False,
) -> None:
    """Log in in one command: browser + loopback callback (or paste), exchange, verify."""
    from oauthdance.dance.login import run_login

    aim = target(c, provider, user, creds)
    prov, owner = aim.provider, aim.user
    result = run_login(
        aim.store,
        prov,
        user=owner,
        scope=scope,
        port=whole_number("--port", port, 0, 65535),
        timeout=float(timeout),
        browser=not no_browser,
        mode="paste" if paste else "auto",
    )
    if owner and result.owner != owner:
        warn(
            f"asked for {owner}, but the account that approved is {result.owner}: the token "
            f"is stored under {result.owner}"
        )
    _print_logged_in(prov, result, json)


@cli_task(
    scope="scopes for this login (default: the configured scope)",
    no_browser="do not open the verification page in a browser",
)
def device(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
    scope: str | None = None,
    no_browser: bool = False,
    json: bool = False,
) -> None:
    """Log in with the device flow: type a short code on another device."""
    from oauthdance.dance.device import device_login
    from oauthdance.dance.login import has_display, open_browser

    aim = target(c, provider, user, creds)
    prov = aim.provider
    opener = open_browser if not no_browser and has_display() else None
    result = device_login(aim.store, prov, scope=scope, user=aim.user, opener=opener)
    _print_logged_in(prov, result, json)


@cli_task()
def refresh(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
    json: bool = False,
) -> None:
    """Refresh the owner's expiring token now (the refresh token rotates)."""
    from oauthdance.keep.lifecycle import refresh_token

    aim = target(c, provider, user, creds)
    store, prov = aim.store, aim.provider
    owner = pick_owner(store.record(prov.name), aim.user, prov.name)
    fresh = refresh_token(store, prov, owner, force=True)
    summary = {
        "provider": prov.name,
        "owner": owner,
        "token": mask(fresh["access_token"]),
        "expires_at": fresh.get("expires_at"),
    }
    if json:
        _print_json(summary)
    else:
        say(
            f"refreshed {prov.name} token of {owner}: {summary['token']}, expires "
            f"{summary['expires_at'] or 'never'}"
        )


@cli_task()
def check(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
    json: bool = False,
) -> None:
    """Ask the provider whether the stored token still works (exit 1 if not)."""
    from oauthdance.keep.lifecycle import check_token

    aim = target(c, provider, user, creds)
    prov = aim.provider
    result = check_token(aim.store, prov, aim.user)
    if json:
        _print_json(
            {
                "provider": prov.name,
                "owner": result.owner,
                "valid": result.valid,
                "scopes": result.scopes,
                "login": result.login,
                "expires_at": _instant(result.expires_at),
            }
        )
    elif result.valid:
        expiry = f", expires {_instant(result.expires_at)}" if result.expires_at else ""
        who = f", login {result.login}" if result.login else ""
        say(
            f"valid: the {prov.name} token of {result.owner} works "
            f"(scopes {', '.join(result.scopes or []) or 'none'}{who}{expiry})"
        )
    else:
        say(f"invalid: the {prov.name} token of {result.owner} no longer works")
    if not result.valid:
        raise TokenRejected(
            f"the provider no longer accepts the {prov.name} token of {result.owner}",
            Hint("log in again with {login}", login=Command("auth.login", prov.name, result.owner)),
        )


@cli_task()
def revoke(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
) -> None:
    """Revoke the token at the provider and remove it here."""
    from oauthdance.keep.lifecycle import revoke_token

    aim = target(c, provider, user, creds)
    prov = aim.provider
    owner, already_invalid = revoke_token(aim.store, prov, aim.user)
    extra = " (the provider already considered it invalid)" if already_invalid else ""
    say(f"revoked and removed the {prov.name} token of {owner}{extra}")


@cli_task()
def logout(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
) -> None:
    """Remove the token here only; it keeps working at the provider until revoked."""
    from oauthdance.keep.lifecycle import forget_token

    aim = target(c, provider, user, creds)
    store, prov = aim.store, aim.provider
    owner = pick_owner(store.record(prov.name), aim.user, prov.name)
    forget_token(store, prov, owner)
    say(f"removed the {prov.name} token of {owner} from {store.location}")
    revoke = Command("auth.revoke")
    warn(
        "the token still works at the provider until it is revoked: revoke it in the "
        f"provider's settings (use {revoke} instead of logout next time)"
    )


@cli_task(user="the owner to make the default (required)")
def use(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
) -> None:
    """Make an owner the provider's default (scripts can pass --user instead)."""
    from oauthdance.keep.lifecycle import make_default_owner

    if not user:
        raise UsageError(
            "auth.use needs --user NAME",
            Hint("see {status} for the owners", status=Command("auth.status")),
        )
    aim = target(c, provider, user, creds)
    prov = aim.provider
    make_default_owner(aim.store, prov, user)
    say(f"{user} is now the default {prov.name} owner")
