"""The steps of the dance as plain functions over (credentials file, provider).

Each step reads what it needs from the file and writes what the next step needs, so
the steps can run in separate processes, one at a time or chained. A step that fails
raises before it writes: the file stays exactly as it was. The steps that talk to the
provider import `endpoints` when they run, so `auth.url` and `auth.code` start without
loading an HTTP stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from oauthdance.base.advice import PLACEHOLDER, Command, Hint, setting
from oauthdance.base.errors import (
    AuthorizationError,
    ConfigError,
    IdTokenInvalid,
    ProviderError,
    StateMismatch,
    UnknownState,
    printable,
)
from oauthdance.keep.lifecycle import find_token
from oauthdance.keep.target import resolve_client
from oauthdance.protocol import oauth
from oauthdance.protocol.client import Client
from oauthdance.protocol.providers import Provider
from oauthdance.protocol.tokens import (
    TokenAnswer,
    TokenRecord,
    isoformat,
    new_token_record,
    utcnow,
    with_identity,
)
from oauthdance.store import Store
from oauthdance.store.record import (
    PendingAuthorization,
    add_pending,
    default_owner_of,
    drop_pending,
    drop_unverified,
    host_of,
    overrides_of,
    pending_for_writing,
    pending_of,
    put_token,
    put_unverified,
    save_client,
    set_default_owner,
    tokens_of,
    unverified_of,
)


def current_client(creds: Store, provider: Provider) -> Client:
    """The client as configured for `provider` right now (environment, .env, file)."""
    return resolve_client(provider, creds.record(provider.name))


# -- auth.configure ---------------------------------------------------------------------


def configure(
    creds: Store,
    provider: Provider,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    redirect_uri: str | None = None,
    scope: str | None = None,
    host: str | None = None,
    store_secret: bool = True,
    overrides: dict[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Client:
    """Record the app's client_id, client_secret, redirect_uri and scope for `provider`.

    Values come from the arguments, else the environment / `.env`, else what is stored.
    With `store_secret=False` the secret is kept out of the file (and removed from it).
    `overrides` are provider facts kept with the record (what OIDC discovery found).
    """
    prefix = provider.env_prefix
    existing = creds.record(provider.name)
    overrides = overrides or overrides_of(existing)
    provider = provider.with_overrides(overrides, "the provider overrides")
    host = host.strip().rstrip("/") if host else None
    provider.with_host(host or host_of(existing)).check_endpoints()
    wanted = resolve_client(
        provider,
        existing,
        environ,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=redirect_uri,
        scope=scope,
    )
    client_id = wanted.client_id.strip()
    if not client_id:
        raise ConfigError(
            f"no client_id for {provider.name!r}",
            f"pass {setting('client_id', PLACEHOLDER)} (from the app's settings page) or set "
            f"{prefix}_CLIENT_ID",
        )
    redirect_uri = oauth.check_redirect_uri(provider, wanted.redirect_uri.strip())
    scope = " ".join(oauth.split_scopes(wanted.scope))

    def configured(record: dict[str, Any]) -> dict[str, Any]:
        save_client(
            record,
            client_id=client_id,
            client_secret=wanted.client_secret,
            store_secret=store_secret,
            redirect_uri=redirect_uri,
            scope=scope,
            host=host,
            overrides=overrides,
        )
        return dict(record)

    return resolve_client(provider, creds.change(provider.name, configured), environ)


# -- auth.url ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Authorization:
    """A started authorization: the URL to open and the state that names it."""

    url: str
    state: str
    redirect_uri: str
    scope: str


def start_authorization(
    creds: Store,
    provider: Provider,
    *,
    scope: str | None = None,
    redirect_uri: str | None = None,
    extra_params: dict[str, str] | None = None,
    now: datetime | None = None,
) -> Authorization:
    """Start an authorization: a fresh state and PKCE verifier, saved as pending, and the
    authorize URL to send the user to (the notebook's line 1)."""
    app = current_client(creds, provider).require_client_id()
    scope = " ".join(oauth.split_scopes(scope)) if scope else app.scope
    redirect_uri = (
        oauth.check_redirect_uri(app.provider, redirect_uri) if redirect_uri else app.redirect_uri
    )
    state = oauth.new_state()
    pending: PendingAuthorization = {
        "scope": scope,
        "redirect_uri": redirect_uri,
        "created_at": isoformat(now or utcnow()),
    }
    challenge = None
    if app.provider.pkce:
        pending["code_verifier"] = oauth.new_code_verifier()
        challenge = oauth.code_challenge_s256(pending["code_verifier"])
    extra = dict(extra_params or {})
    if app.provider.oidc:  # the id_token must echo it (OpenID Connect Core §3.1.2.1)
        pending["nonce"] = extra["nonce"] = oauth.new_state()
    url = oauth.authorize_url(
        app.provider, app.client_id, redirect_uri, scope, state, challenge, extra
    )
    creds.change(provider.name, lambda rec: add_pending(rec, state, pending))
    return Authorization(url, state, redirect_uri, scope)


# -- auth.code --------------------------------------------------------------------------


def store_code(
    creds: Store,
    provider: Provider,
    *,
    code: str | None = None,
    state: str | None = None,
    url: str | None = None,
    now: datetime | None = None,
    for_login: bool = False,
) -> str:
    """Keep the code that came back on the pending authorization it belongs to (the
    notebook's line 6).

    Takes the pasted redirect URL, or a bare code (with its state when several
    authorizations are pending). Returns the state. A redirect that is not exactly what
    the provider sends back to this authorization's redirect_uri is refused (see
    `oauth.check_redirect_values`, `oauth.check_redirect_location`). `for_login`: `auth.login`
    passes its own state, and the advice is to log in again rather than to run `auth.code`.
    """
    paste = Command("auth.code", provider.name)
    retry = (
        Hint("start again: {login}", login=Command("auth.login", provider.name))
        if for_login
        else Hint(
            "paste the whole address the browser shows after approving: {code}",
            code=paste.with_flags(url="<that address>"),
        )
    )
    if bool(code) == bool(url):
        raise AuthorizationError(
            "give either --code or --url" if code and url else "nothing was given to store",
            Hint("e.g. {code}", code=paste.with_flags(url="http://...?code=..")),
        )
    api = current_client(creds, provider).provider
    if url:
        redirect = oauth.parse_redirect(url, retry)
        oauth.check_redirect_values(redirect, retry)
        if state and redirect.state != state:
            raise _state_mismatch(provider, redirect.state, state, retry, for_login)
        redirect.raise_for_error(provider.name)
        oauth.check_issuer(redirect, api)
        if not redirect.state:
            raise UnknownState(
                "the redirect URL carries no state, so it cannot be matched to an authorization",
                retry
                if for_login
                else Hint(
                    "paste the whole redirect URL, or give the code with its state: {code}",
                    code=paste.with_flags(code="CODE", state="STATE"),
                ),
            )
    else:
        redirect = oauth.Redirect(state, code)
        oauth.check_redirect_values(redirect, retry)
    pending = pending_of(creds.record(provider.name))
    state = _pick_pending(pending, redirect.state, provider.name, want_code=False)
    if redirect.location:
        redirect_uri = pending[state].get("redirect_uri")
        oauth.check_redirect_location(redirect, redirect_uri, api.any_loopback_port, retry)

    code = redirect.code
    if not code:  # parse_redirect and the flags make sure of one: this is for the reader
        raise AuthorizationError("the redirect carries no code", retry)

    def with_code(record: dict[str, Any]) -> None:
        entry = pending_for_writing(record, state)
        if entry is None:  # consumed by another process since we looked
            raise _unknown_state(state, provider.name)
        entry["code"] = code
        entry["code_received_at"] = isoformat(now or utcnow())

    creds.change(provider.name, with_code)
    return state


def pasted(text: str) -> tuple[str | None, str | None]:
    """(url, code) of what a user pasted: the redirected address, or the bare code."""
    text = text.strip()
    return (text, None) if "=" in text else (None, text)


def _state_mismatch(
    provider: Provider, got: str | None, wanted: str, retry: Hint, for_login: bool
) -> StateMismatch:
    """The redirect names another authorization than the one asked for: by `--state`, or
    (`for_login`) by the login itself, where the user never gave a state to drop."""
    shown = printable(got or "", 40)
    if for_login:
        return StateMismatch(
            f"the pasted redirect belongs to another authorization (state {shown!r}), not to "
            "this login; nothing was stored",
            retry.then(
                ", and paste the address the browser shows after approving the URL it prints"
            ),
        )
    return StateMismatch(
        f"the redirect's state {shown!r} does not match {setting('state')} "
        f"{printable(wanted, 40)!r}",
        Hint(
            f"paste the redirect of the authorization {setting('state')} names, or drop "
            f"{setting('state')} to match the redirect by its own: {{code}}",
            code=Command("auth.code", provider.name).with_flags(url="<the redirect URL>"),
        ),
    )


def _pick_pending(
    pending: dict[str, Any], state: str | None, provider: str, *, want_code: bool
) -> str:
    if state:
        if state in pending:
            return state
        # The first characters, as the "which one?" hint below shows them, name one too.
        named = [s for s in pending if len(state) >= 8 and s.startswith(state)]
        if len(named) != 1:
            raise _unknown_state(state, provider)
        return named[0]
    candidates = [s for s, entry in pending.items() if bool(entry.get("code")) == want_code]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        if want_code:
            raise AuthorizationError(
                f"no {provider} authorization has a code yet",
                Hint("run {code} first", code=_paste_command(provider)),
            )
        raise AuthorizationError(
            f"no {provider} authorization is waiting for a code",
            Hint("run {url} first", url=Command("auth.url", provider)),
        )
    raise AuthorizationError(
        f"{len(candidates)} {provider} authorizations are pending; which one is meant?",
        f"pass {setting('state')} with one of them, or its first 8 characters: "
        + ", ".join(setting("state", s[:8], text=True) for s in candidates),
    )


def _paste_command(provider: str) -> Command:
    return Command("auth.code", provider).with_flags(url="<the redirect URL>")


def _unknown_state(state: str, provider: str) -> UnknownState:
    return UnknownState(
        f"state {state[:12]!r}... is not one of the pending {provider} authorizations "
        "(forged, already used, or from another credentials file)",
        Hint("start again with {url}", url=Command("auth.url", provider)),
    )


# -- auth.exchange ----------------------------------------------------------------------


@dataclass(frozen=True)
class Exchanged:
    """A token fresh from the token endpoint, and where it was stored."""

    state: str
    owner: str | None  # None until auth.verify names it
    token: TokenRecord = field(repr=False)


def exchange_code(
    creds: Store,
    provider: Provider,
    *,
    state: str | None = None,
    user: str | None = None,
    now: datetime | None = None,
) -> Exchanged:
    """Trade the code for a token; the pending authorization is consumed (the notebook's
    lines 7-8).

    The token waits under `unverified` until `auth.verify` names its owner, unless
    `user` names the owner now.
    """
    state, token = _redeem_code(creds, provider, state, now)
    save_new_token(creds, provider, state, token, user)
    return Exchanged(state, user, token)


def exchange_and_verify(
    creds: Store,
    provider: Provider,
    *,
    state: str,
    fallback_owner: str | None = None,
    now: datetime | None = None,
) -> Verified:
    """Exchange and verify at once (`auth.login`; the notebook's lines 7-9): the token is
    stored only once its owner is known, so a failure at either step leaves no token behind."""
    state, token = _redeem_code(creds, provider, state, now)
    return store_verified(creds, provider, state, token, fallback_owner, now)


def _redeem_code(
    creds: Store, provider: Provider, state: str | None, now: datetime | None
) -> tuple[str, TokenRecord]:
    """(state, token) for the pending authorization's code; nothing is written."""
    from oauthdance.net import endpoints

    record = creds.record(provider.name)
    app = resolve_client(provider, record).require_client_id()
    state = _pick_pending(pending_of(record), state, provider.name, want_code=True)
    pending = pending_of(record)[state]
    if not pending.get("code"):
        raise AuthorizationError(
            "that authorization has no code yet",
            Hint("run {code}", code=_paste_command(provider.name)),
        )
    params: dict[str, Any] = {"code": pending["code"], "redirect_uri": pending.get("redirect_uri")}
    if pending.get("code_verifier"):
        params["code_verifier"] = pending["code_verifier"]
    answer = endpoints.request_token(app, "authorization_code", params)
    claims = id_token_claims(app, answer, pending.get("scope") or "", pending.get("nonce"))
    token = new_token_record(answer, pending.get("scope") or "", now or utcnow(), id_claims=claims)
    return state, token


def id_token_claims(
    client: Client, answer: TokenAnswer, scope: str, nonce: str | None
) -> dict[str, Any] | None:
    """The validated claims of the answer's id_token; one is required from an OpenID
    Connect provider when `openid` was asked for (OIDC Core §3.1.3.3)."""
    from oauthdance.net import endpoints

    if not client.provider.oidc:
        return None
    if not answer["id_token"]:
        if "openid" in oauth.split_scopes(scope):
            raise IdTokenInvalid(
                "the token answer has no id_token although `openid` was asked for; nothing "
                "was stored",
                "check the provider's settings (is it an OpenID Connect issuer?)",
            )
        return None
    return endpoints.id_token_claims(client, answer["id_token"], nonce)


def save_new_token(
    creds: Store,
    provider: Provider,
    key: str,
    token: TokenRecord,
    user: str | None = None,
) -> None:
    """File a fresh token: under `user` if named, else under `unverified[key]`.

    The pending authorization `key` (if any) is consumed in the same write.
    """

    def filed(rec: dict[str, Any]) -> None:
        drop_pending(rec, key)
        if user:
            put_token(rec, user, token)
        else:
            put_unverified(rec, key, token)

    creds.change(provider.name, filed)


def discard_pending(creds: Store, provider: Provider, state: str) -> None:
    """Forget an authorization that will never complete (cancelled, timed out)."""
    creds.change(provider.name, lambda rec: drop_pending(rec, state))


# -- auth.verify ------------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    """The owner a token belongs to, and what it may do."""

    owner: str
    scopes: list[str]
    missing_scopes: list[str]
    token: TokenRecord = field(repr=False)


def identify(
    provider: Provider,
    token: Mapping[str, Any],
    now: datetime,
    fallback_owner: str | None = None,
) -> Verified:
    """Whose `token` this is and what it may do: the user endpoint where there is one and
    it answers; else the validated id_token's claims (in `login_field` order); else
    `fallback_owner` (the user's `--user`)."""
    login, scopes = _owner_from_user_endpoint(provider, token)
    login = login or oauth.login_in(token.get("id_token_claims"), provider.login_field)
    login = login or fallback_owner
    if not login:
        raise AuthorizationError(
            f"cannot tell whose {provider.name} token this is: the provider has no user "
            "endpoint that answers, and no id_token names the owner; nothing was stored",
            Hint(
                "name the owner: {login} (or {exchange})",
                login=Command("auth.login", provider.name, "NAME"),
                exchange=Command("auth.exchange", provider.name, "NAME"),
            ),
        )
    scopes = scopes if scopes is not None else list(token.get("scope") or [])
    missing = oauth.missing_scopes(token.get("requested_scope"), scopes, provider.implied_scopes)
    if token.get("refresh_token"):  # what `offline_access` asks for came: a refresh token
        missing = [s for s in missing if s != "offline_access"]
    return Verified(login, scopes, missing, with_identity(token, login, scopes, now))


def _owner_from_user_endpoint(
    provider: Provider, token: Mapping[str, Any]
) -> tuple[str | None, list[str] | None]:
    """(login, scopes) from the user endpoint; (None, None) where there is none, or where it
    refuses a token that a validated id_token vouches for (userinfo may want other scopes)."""
    from oauthdance.net import endpoints

    if not provider.user_endpoint:
        return None, None
    try:
        identity = endpoints.fetch_identity(provider, str(token.get("access_token") or ""))
    except ProviderError as exc:
        if exc.status in (403, 404) and token.get("id_token_claims"):
            return None, None
        raise
    return identity.login, identity.scopes


def store_verified(
    creds: Store,
    provider: Provider,
    key: str,
    token: TokenRecord,
    fallback_owner: str | None = None,
    now: datetime | None = None,
) -> Verified:
    """Identify a fresh token's owner, then file it under that login in one write (the
    pending authorization `key`, if any, is consumed in it)."""
    api = current_client(creds, provider).provider
    verified = identify(api, token, now or utcnow(), fallback_owner)

    def filed(rec: dict[str, Any]) -> None:
        drop_pending(rec, key)
        _file_verified(rec, [verified])

    creds.change(provider.name, filed)
    return verified


def verify_token(
    creds: Store,
    provider: Provider,
    *,
    user: str | None = None,
    now: datetime | None = None,
) -> list[Verified]:
    """Ask the provider whose token it is; keep it under that login with its granted scopes.

    Verifies every token waiting under `unverified` (unless `user` is named), else the
    owner's.
    """
    record = creds.record(provider.name)
    api = resolve_client(provider, record).provider
    unverified = unverified_of(record)
    targets: list[tuple[bool, str, Mapping[str, Any]]]
    if unverified and not user:
        targets = [(True, key, tok) for key, tok in unverified.items()]
    else:
        found = find_token(creds, provider, user, use_environment=False, now=now)
        targets = [(False, str(found.owner), found.record)]
    moment = now or utcnow()
    results = []
    for waiting, key, token in targets:
        verified = identify(api, token, moment)
        if not waiting and verified.owner != key:
            raise AuthorizationError(
                f"the token stored for {key!r} belongs to {verified.owner!r}",
                f"log in again as {key}, or use {setting('user', verified.owner, text=True)}",
            )
        results.append(verified)

    def filed(rec: dict[str, Any]) -> None:
        for waiting, key, _ in targets:
            if waiting:
                drop_unverified(rec, key)
            else:
                tokens_of(rec).pop(key, None)
        _file_verified(rec, results)

    creds.change(provider.name, filed)
    return results


def _file_verified(record: dict[str, Any], results: list[Verified]) -> None:
    for result in results:
        put_token(record, result.owner, result.token)
    if default_owner_of(record) not in tokens_of(record):
        set_default_owner(record, results[0].owner)
