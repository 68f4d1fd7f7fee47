"""A token's life after the dance: find it, refresh it before it dies, check, revoke, forget.

A refresh takes the store's refresh turn (a lock beside a file; a claim on the token's
record in Vault, which other machines wait on) and re-reads the token inside it, so two
processes never both spend one rotated refresh token: the second finds the first's fresh
pair and uses it. The new pair is written before it is returned.
The calls to the provider import `endpoints` when they run, so `auth.token` with a fresh
token starts without loading an HTTP stack.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from oauthdance.base.advice import Command, Hint, suggest
from oauthdance.base.errors import (
    ConfigError,
    IdTokenInvalid,
    NotLoggedIn,
    ProviderError,
    TokenRejected,
)
from oauthdance.base.settings import token_from_environment
from oauthdance.keep.target import resolve_client
from oauthdance.protocol.client import Client
from oauthdance.protocol.providers import Provider
from oauthdance.protocol.tokens import (
    TokenAnswer,
    TokenRecord,
    marked_needs_login,
    new_token_record,
    parse_time,
    utcnow,
    without_claim,
)
from oauthdance.store import RefreshTurn, Store
from oauthdance.store.record import (
    forget_owner,
    pick_owner,
    put_token,
    set_default_owner,
    tokens_of,
)

MAX_LEEWAY = timedelta(seconds=60)
DEADLINE = 20.0  # seconds for a refresh request: less than other steps wait for the file
DEAD_REFRESH_ERRORS = ("bad_refresh_token", "invalid_grant")


@dataclass(frozen=True)
class FoundToken:
    """A usable access token, whose it is (None for an environment token), and its source."""

    access_token: str
    owner: str | None
    source: str  # the store's kind ("file", "vault", "keyring"), or "environment (NAME)"
    record: Mapping[str, Any]


def leeway(token: Mapping[str, Any]) -> timedelta:
    """How long before expiry a token counts as expired: min(60 s, half its lifetime)."""
    expires, created = parse_time(token.get("expires_at")), parse_time(token.get("created_at"))
    if expires is None:
        return timedelta(0)
    if created is None:
        return MAX_LEEWAY
    return min(MAX_LEEWAY, (expires - created) / 2)


def needs_refresh(token: Mapping[str, Any], now: datetime | None = None) -> bool:
    expires = parse_time(token.get("expires_at"))
    return expires is not None and (now or utcnow()) >= expires - leeway(token)


def environment_token(provider: Provider) -> tuple[str, str] | None:
    """(token, variable) from the provider's token variables (GITHUB_TOKEN, GH_TOKEN, ...)."""
    return token_from_environment(provider.token_env)


def find_token(
    creds: Store,
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
    token = tokens_of(record)[owner]
    _raise_if_dead(token, provider, owner)
    if needs_refresh(token, now):
        token = refresh_token(creds, provider, owner, now=now)
    if not isinstance(token.get("access_token"), str) or not token["access_token"]:
        raise NotLoggedIn(
            f"the stored {provider.name} token of {owner} is damaged (no access_token)",
            _log_in_again(provider, owner),
        )
    return FoundToken(token["access_token"], owner, creds.kind, token)


def refresh_token(
    creds: Store,
    provider: Provider,
    owner: str,
    *,
    force: bool = False,
    stale_token: str | None = None,
    now: datetime | None = None,
) -> TokenRecord:
    """Refresh `owner`'s token (if still needed once it is our turn); return the fresh one.

    `force` refreshes even a token that is not due; `stale_token` (one the provider just
    refused) refreshes unless another process already replaced it, so eight workers that
    all see a 401 spend one refresh, not eight. Refreshes take turns (`Store.refresh_turn`),
    so other steps only wait for the short writes, never for the provider; where another
    machine holds the turn, we wait for its new pair and use that.
    """
    with creds.refresh_turn(provider.name, owner) as turn:
        claim = _claim_refresh(creds, provider, owner, force, stale_token, now, turn)
        while isinstance(claim, Busy):  # another machine refreshes it: wait for its write
            turn.wait()
            claim = _claim_refresh(creds, provider, owner, False, claim.replacing, now, turn)
        token, app = claim
        if app is None:
            return token  # another worker or process already did it
        with signals_deferred():  # between "sent" and "written" a rotation must not be lost
            try:
                answer = _request_refresh(app, token)
                claims = _refreshed_id_claims(app, answer, token)
            except ProviderError as exc:
                dead = exc.error in DEAD_REFRESH_ERRORS
                replaced = _settle_refresh(creds, provider, owner, token, None, dead)
                if replaced is not None:
                    return replaced  # another machine refreshed it after our claim ran out
                if not dead:
                    raise
                raise _refused(provider, owner, exc, token) from exc
            except BaseException:
                _settle_refresh(creds, provider, owner, token, None, False)
                raise
            fresh = new_token_record(
                answer,
                token.get("requested_scope") or "",
                now or utcnow(),
                previous=token,
                id_claims=claims,
            )
            _settle_refresh(creds, provider, owner, token, fresh, False)
            return fresh


@dataclass(frozen=True)
class Busy:
    """Another machine's claim is on the token: it is replacing `replacing`."""

    replacing: str


def _claim_refresh(
    creds: Store,
    provider: Provider,
    owner: str,
    force: bool,
    stale_token: str | None,
    now: datetime | None,
    turn: RefreshTurn,
) -> tuple[TokenRecord, Client | None] | Busy:
    """In one change of the record: the token, and the client to refresh it with (None
    when it needs no refresh after all); the record notes that our refresh is in flight.
    While another machine's claim is on the token: `Busy`."""

    def claimed(record: dict[str, Any]) -> tuple[TokenRecord, Client | None] | Busy:
        token = tokens_of(record).get(owner)
        if token is None:
            raise NotLoggedIn(
                f"no {provider.name} token is stored for {owner!r}", _login(provider, owner)
            )
        if stale_token is not None:
            if token.get("access_token") != stale_token:
                return token, None  # already replaced by another worker or process
        elif not force and not needs_refresh(token, now):
            return token, None  # another process refreshed it while we waited
        if turn.busy(token):
            return Busy(str(token.get("access_token") or ""))
        _raise_if_dead(token, provider, owner)
        if not token.get("refresh_token"):
            expired = "has expired and has" if token.get("expires_at") else "does not expire, so"
            raise NotLoggedIn(
                f"the {provider.name} token of {owner} {expired} no refresh token",
                _log_in_again(provider, owner)
                if token.get("expires_at")
                else "nothing to do: use it as it is",
            )
        app = resolve_client(provider, record).require_client_id()
        put_token(record, owner, turn.claimed(token, now or utcnow()))
        return without_claim(token), app

    return creds.change(provider.name, claimed)


def _request_refresh(client: Client, token: TokenRecord) -> TokenAnswer:
    """The refresh request, with a deadline shorter than other steps wait for the file."""
    from oauthdance.net import endpoints

    return endpoints.request_token(
        client, "refresh_token", {"refresh_token": token["refresh_token"]}, deadline=DEADLINE
    )


def _settle_refresh(
    creds: Store,
    provider: Provider,
    owner: str,
    before: TokenRecord,
    fresh: TokenRecord | None,
    dead: bool,
) -> TokenRecord | None:
    """Write how the refresh ended: the fresh pair; or, with our claim taken off, the old
    token (marked `needs_login` when the provider refused its refresh token). Returns the
    stored token when another process replaced it meanwhile (after our claim ran out)."""

    def settled(record: dict[str, Any]) -> TokenRecord | None:
        tokens = tokens_of(record)
        if owner not in tokens:
            return None  # logged out meanwhile
        if fresh is not None:
            tokens[owner] = fresh
            return None
        stored = tokens[owner]
        if stored.get("refresh_token") != before.get("refresh_token"):
            return cast("TokenRecord", dict(stored))
        tokens[owner] = marked_needs_login(before) if dead else before
        return None

    return creds.change(provider.name, settled)


def _refused(
    provider: Provider, owner: str, failure: ProviderError, token: TokenRecord
) -> TokenRejected:
    if token.get("refresh_started_at"):  # an earlier refresh died between sent and written
        return TokenRejected(
            f"the {provider.name} refresh token of {owner} was refused ({failure.error}): the "
            f"last refresh (started {token['refresh_started_at']}) may have rotated the token "
            "at the provider and ended before saving the new one",
            _log_in_again(provider, owner),
        )
    return TokenRejected(
        f"the {provider.name} refresh token of {owner} was refused ({failure.error}): it was "
        "revoked, already used, or has expired",
        _log_in_again(provider, owner),
    )


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends (main thread only: elsewhere signals
    do not arrive), then act on them as if they came just now."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {
        number: signal.signal(number, lambda signum, frame: caught.append(signum))
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for number, handler in previous.items():  # None: set outside Python; the default
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
        for caught_number in caught[:1]:
            signal.raise_signal(caught_number)


def _refreshed_id_claims(
    client: Client, answer: TokenAnswer, token: Mapping[str, Any]
) -> dict[str, Any] | None:
    """A refresh answer's id_token, validated, naming the same subject and issuer as the
    login's (OIDC Core §12.2); None where the answer has none."""
    from oauthdance.net import endpoints

    if not client.provider.oidc or not answer["id_token"]:
        return None
    claims = endpoints.id_token_claims(client, answer["id_token"], None)
    before = token.get("id_token_claims") or {}
    for claim in ("iss", "sub"):
        if before.get(claim) and claims.get(claim) != before[claim]:
            raise IdTokenInvalid(
                f"the refreshed id_token names another {claim} than the login's; the old "
                "token was kept",
                _log_in_again(client.provider),
            )
    return claims


def _raise_if_dead(token: Mapping[str, Any], provider: Provider, owner: str) -> None:
    if token.get("needs_login"):
        raise NotLoggedIn(
            f"the {provider.name} token of {owner} can no longer be refreshed",
            _log_in_again(provider, owner),
        )


def _login(provider: Provider, owner: str | None = None) -> Hint:
    return suggest(Command("auth.login", provider.name, owner))


def _log_in_again(provider: Provider, owner: str | None = None) -> Hint:
    return Hint("log in again: {login}", login=Command("auth.login", provider.name, owner))


# -- at the provider -------------------------------------------------------------------


def _stored(creds: Store, provider: Provider, user: str | None) -> tuple[str, Client, str]:
    """(owner, client, access token) of the stored token a check or revocation is about."""
    record = creds.record(provider.name)
    owner = pick_owner(record, user, provider.name)
    app = resolve_client(provider, record).require_client_id()
    return owner, app, str(tokens_of(record)[owner].get("access_token") or "")


@dataclass(frozen=True)
class Checked:
    """The provider's word on a stored token."""

    owner: str
    valid: bool
    scopes: list[str] | None
    login: str | None
    expires_at: int | None = None  # epoch seconds, where the provider says


def check_token(creds: Store, provider: Provider, user: str | None = None) -> Checked:
    """Is the stored token still valid at the provider? (GitHub's check costs no rate limit.)"""
    from oauthdance.net import endpoints

    owner, app, access = _stored(creds, provider, user)
    if not (app.provider.introspection_url or app.provider.token_check_url):
        raise ConfigError(
            f"{provider.name} offers no token check endpoint",
            Hint("use {verify} instead", verify=Command("auth.verify", provider.name)),
        )
    result = endpoints.check_token(app, access)
    return Checked(owner, result.valid, result.scopes, result.login, result.expires_at)


def revoke_token(creds: Store, provider: Provider, user: str | None = None) -> tuple[str, bool]:
    """Revoke the token at the provider, then forget it here: (owner, already invalid)."""
    from oauthdance.net import endpoints

    owner, app, access = _stored(creds, provider, user)
    if not app.provider.revocation_url:
        raise ConfigError(
            f"{provider.name} has no revocation endpoint",
            Hint(
                "revoke the token in the provider's settings, then {logout}",
                logout=Command("auth.logout"),
            ),
        )
    already_invalid = endpoints.revoke_token(app, access)
    forget_token(creds, provider, owner)
    return owner, already_invalid


def forget_token(creds: Store, provider: Provider, owner: str) -> None:
    """Remove `owner`'s token from the store; another owner becomes the default."""

    def forgotten(record: dict[str, Any]) -> None:
        if not forget_owner(record, owner):
            raise NotLoggedIn(
                f"no {provider.name} token is stored for {owner!r}",
                Hint("see {status}", status=Command("auth.status", provider.name)),
            )

    creds.change(provider.name, forgotten)


def make_default_owner(creds: Store, provider: Provider, owner: str) -> None:
    """Make `owner` the provider's default owner."""

    def made_default(record: dict[str, Any]) -> None:
        if owner not in tokens_of(record):
            known = ", ".join(sorted(tokens_of(record))) or "none"
            raise NotLoggedIn(
                f"no {provider.name} token is stored for {owner!r} (stored owners: {known})",
                _login(provider, owner),
            )
        set_default_owner(record, owner)

    creds.change(provider.name, made_default)
