"""`auth.*` tasks: each parses flags, runs one step of `oauthdance.dance.steps`, and prints
its result (the Python calls in `oauthdance.api` run the same steps)."""

from __future__ import annotations

import json as _json
from typing import TYPE_CHECKING, Any

from invoke import Context

from oauthdance.base.advice import Command, Hint
from oauthdance.base.errors import TokenRejected, UsageError
from oauthdance.dance import steps
from oauthdance.tasks.common import cli_task, say, target, warn
from oauthdance.tasks.options import whole_number

if TYPE_CHECKING:
    from oauthdance.dance.results import Identity, Result


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
    app = steps.configure(
        target(c, provider, user, creds),
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=redirect_uri,
        scope=scope,
        host=host,
        issuer=issuer,
        client_auth=client_auth,
        secret_in_env=secret_in_env,
    )
    if json:
        _print_json(app.to_dict())
        return
    say(f"configured {app.provider} in {app.creds}")
    for key in ("client_id", "redirect_uri", "scope"):
        say(f"  {key}: {getattr(app, key)}")
    say(f"  client_secret: {app.client_secret or '(none)'} (from {app.secret_source})")
    _warn(app)
    say(f"next: {Command('auth.url', app.provider).text()}")


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
    started = steps.authorize(aim, scope=scope, redirect_uri=redirect_uri)
    if json:
        _print_json({"url": started.url, "state": started.state})
    else:
        say(started.url)
        paste = Command("auth.code", aim.provider.name).with_flags(
            url="<the address the browser shows>"
        )
        say(f"next: after approving, run: {paste.text()}")
    if open:
        from oauthdance.dance.login import open_browser

        if not open_browser(started.url):
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
    stored = steps.store_code(target(c, provider, user, creds), code=code, state=state, url=url)
    say(f"stored the code for authorization {stored.state[:8]}...")
    say(f"next: {Command('auth.exchange', stored.provider).text()}")


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
    done = steps.exchange(target(c, provider, user, creds), state=state)
    if json:
        _print_json(done.to_dict())
        return
    say(f"got token {done.token} (scopes: {', '.join(done.scope) or 'none'})")
    say(f"next: {Command('auth.verify', done.provider).text()}")


@cli_task()
def verify(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
    json: bool = False,
) -> None:
    """Use the token: ask the provider whose it is and which scopes it has."""
    identities = steps.verify(target(c, provider, user, creds))
    for identity in identities:
        _warn(identity)
    if json:
        _print_json([_identity_row(identity) for identity in identities])
        return
    for identity in identities:
        say(
            f"verified {identity.provider} token {identity.token}: login {identity.owner}, "
            f"scopes {', '.join(identity.scopes) or 'none'}"
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
    found = steps.status(target(c, None, None, creds), provider, user)
    _warn(found)
    if json:
        _print_json([row.to_dict() for row in found])
        return
    if not found:
        say(f"nothing stored in {found.creds} yet: run {Command('auth.configure')} first")
        return
    header = ("PROVIDER", "OWNER", "TOKEN", "FROM", "SCOPES", "EXPIRES", "SECRET FROM")
    table = [header] + [
        (
            r.provider,
            (r.owner or "-") + (" *" if r.default else ""),
            r.token or "-",
            r.source or "-",
            ",".join(r.scopes) or "-",
            r.expiry,
            r.secret_source,
        )
        for r in found
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        say("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


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


def _warn(result: Result) -> None:
    for warning in result.warnings:
        warn(warning)


def _identity_row(identity: Identity) -> dict[str, Any]:
    """What `--json` shows of a verified token."""
    return {
        key: value
        for key, value in identity.to_dict().items()
        if key in ("provider", "owner", "scopes", "missing_scopes", "token")
    }


def _print_logged_in(identity: Identity, json: bool) -> None:
    _warn(identity)
    if json:
        _print_json(_identity_row(identity))
    else:
        say(
            f"logged in to {identity.provider} as {identity.owner} (token {identity.token}, "
            f"scopes {', '.join(identity.scopes) or 'none'})"
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
    identity = steps.login(
        target(c, provider, user, creds),
        scope=scope,
        port=whole_number("--port", port, 0, 65535),
        timeout=float(timeout),
        browser=not no_browser,
        mode="paste" if paste else "auto",
    )
    _print_logged_in(identity, json)


@cli_task(
    scope="scopes for this login (default: the configured scope)",
    no_browser="do not open the verification page in a browser",
    timeout="seconds to wait for the code to be entered (default: until it expires)",
)
def device(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
    scope: str | None = None,
    no_browser: bool = False,
    timeout: str | None = None,
    json: bool = False,
) -> None:
    """Log in with the device flow: type a short code on another device."""
    identity = steps.device(
        target(c, provider, user, creds),
        scope=scope,
        browser=not no_browser,
        timeout=whole_number("--timeout", timeout, 1),
    )
    _print_logged_in(identity, json)


@cli_task()
def refresh(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
    json: bool = False,
) -> None:
    """Refresh the owner's expiring token now (the refresh token rotates)."""
    fresh = steps.refresh(target(c, provider, user, creds))
    if json:
        _print_json(fresh.to_dict())
    else:
        say(
            f"refreshed {fresh.provider} token of {fresh.owner}: {fresh.token}, expires "
            f"{fresh.expires_at or 'never'}"
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
    result = steps.check(target(c, provider, user, creds))
    if json:
        _print_json(result.to_dict())
    elif result.valid:
        expiry = f", expires {result.expires_at}" if result.expires_at else ""
        who = f", login {result.login}" if result.login else ""
        say(
            f"valid: the {result.provider} token of {result.owner} works "
            f"(scopes {', '.join(result.scopes or []) or 'none'}{who}{expiry})"
        )
    else:
        say(f"invalid: the {result.provider} token of {result.owner} no longer works")
    if not result.valid:
        raise TokenRejected(
            f"the provider no longer accepts the {result.provider} token of {result.owner}",
            Hint(
                "log in again with {login}",
                login=Command("auth.login", result.provider, result.owner),
            ),
        )


@cli_task()
def revoke(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
) -> None:
    """Revoke the token at the provider and remove it here."""
    done = steps.revoke(target(c, provider, user, creds))
    extra = " (the provider already considered it invalid)" if done.already_invalid else ""
    say(f"revoked and removed the {done.provider} token of {done.owner}{extra}")


@cli_task()
def logout(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
) -> None:
    """Remove the token here only; it keeps working at the provider until revoked."""
    gone = steps.logout(target(c, provider, user, creds))
    say(f"removed the {gone.provider} token of {gone.owner} from {gone.creds}")
    _warn(gone)


@cli_task(user="the owner to make the default (required)")
def use(
    c: Context,
    provider: str | None = None,
    user: str | None = None,
    creds: str | None = None,
) -> None:
    """Make an owner the provider's default (scripts can pass --user instead)."""
    if not user:
        raise UsageError(
            "auth.use needs --user NAME",
            Hint("see {status} for the owners", status=Command("auth.status")),
        )
    aim = target(c, provider, user, creds)
    steps.use(aim, user)
    say(f"{user} is now the default {aim.provider.name} owner")
