"""One provider's record in the credentials store: its keys, typed, and the few accessors
the steps need.

Every store keeps a provider's record as a plain mapping (JSON, YAML, a Vault secret), so
it can be read by people and by the notebooks; this module is the only one that names its
keys. Readers take any mapping and never fail on a hand-edited file (a missing or empty
part reads as empty); writers change the record in place, inside `Store.change`.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, cast

from oauthdance.base.advice import Command, Hint, setting
from oauthdance.base.errors import NotLoggedIn
from oauthdance.protocol.tokens import TokenRecord


class PendingAuthorization(TypedDict, total=False):
    """An authorization in flight, under `pending.<state>`: made by `auth.url`, given its
    code by `auth.code`, consumed by `auth.exchange`."""

    scope: str
    redirect_uri: str
    created_at: str
    code_verifier: str  # PKCE (RFC 7636)
    nonce: str  # OpenID Connect: the id_token must echo it
    code: str
    code_received_at: str


class ProviderRecord(TypedDict, total=False):
    """Everything stored for one provider."""

    client_id: str
    client_secret: str  # unless kept in the environment
    redirect_uri: str
    scope: str
    host: str  # GitHub Enterprise, the sandbox's port: fills the presets' `{host}`
    provider: dict[str, Any]  # provider facts kept with the record (OIDC discovery)
    pending: dict[str, PendingAuthorization]
    unverified: dict[str, TokenRecord]  # exchanged, owner not yet asked (by state)
    tokens: dict[str, TokenRecord]  # by owner
    default_user: str


Record = Mapping[str, Any]  # what a store hands back: a ProviderRecord, or a hand-edited one
MutableRecord = MutableMapping[str, Any]

# The parts a store may keep apart (Vault keeps each owner's token in a secret of its own).
TOKENS, PENDING, UNVERIFIED = "tokens", "pending", "unverified"
CLIENT_KEYS = ("client_id", "client_secret", "redirect_uri", "scope")

# The teaching notebooks' flat record: these right under the provider.
FLAT_KEYS = ("client_id", "client_secret", "redirect_uri", "state", "scope", "code", "token")


# -- reading ---------------------------------------------------------------------------


def _part(record: Record, key: str) -> dict[str, Any]:
    part = record.get(key)
    return part if isinstance(part, dict) else {}


def tokens_of(record: Record) -> dict[str, TokenRecord]:
    """The tokens by owner."""
    return cast("dict[str, TokenRecord]", _part(record, TOKENS))


def pending_of(record: Record) -> dict[str, PendingAuthorization]:
    """The authorizations in flight, by state."""
    return cast("dict[str, PendingAuthorization]", _part(record, PENDING))


def unverified_of(record: Record) -> dict[str, TokenRecord]:
    """The tokens exchanged whose owner is not known yet, by the state they came from."""
    return cast("dict[str, TokenRecord]", _part(record, UNVERIFIED))


def default_owner_of(record: Record) -> str | None:
    owner = record.get("default_user")
    return str(owner) if owner else None


def overrides_of(record: Record) -> dict[str, Any] | None:
    """The provider facts kept with the record (what OIDC discovery found), if any."""
    return _part(record, "provider") or None


def host_of(record: Record) -> str | None:
    host = record.get("host")
    return str(host) if host else None


@dataclass(frozen=True)
class SavedClient:
    """The app's settings as the record keeps them (None for each that it lacks)."""

    client_id: str | None
    client_secret: str | None = field(repr=False)
    redirect_uri: str | None
    scope: str | None


def saved_client(record: Record) -> SavedClient:
    values = (record.get(key) for key in CLIENT_KEYS)
    return SavedClient(*(str(value) if value else None for value in values))


def pick_owner(record: Record, user: str | None, provider: str) -> str:
    """Whose token is meant: `user` (the setting), else the default, else the only one."""
    tokens = tokens_of(record)
    owner = user or default_owner_of(record)
    if not owner and len(tokens) == 1:
        owner = next(iter(tokens))
    if owner and owner in tokens:
        return str(owner)
    if unverified_of(record) and not tokens:
        raise NotLoggedIn(
            f"the {provider} token has not been verified yet, so it has no owner",
            Hint("run {verify}", verify=Command("auth.verify", provider=provider)),
        )
    if owner:
        known = ", ".join(sorted(tokens)) or "none"
        raise NotLoggedIn(
            f"no {provider} token is stored for {owner!r} (stored owners: {known})",
            Hint(
                "run {login}, or pick another " + setting("user"),
                login=Command("auth.login", provider=provider, user=str(owner)),
            ),
        )
    if tokens:
        raise NotLoggedIn(
            f"several {provider} owners are stored ({', '.join(sorted(tokens))}) and none is "
            "the default",
            Hint(
                f"pass {setting('user', 'NAME', text=True)}, or make one the default: {{use}}",
                use=Command("auth.use", provider=provider, user="NAME"),
            ),
        )
    raise NotLoggedIn(
        f"no {provider} token is stored yet",
        Hint(
            "run {login} (or the steps one at a time, starting with {url})",
            login=Command("auth.login", provider=provider),
            url=Command("auth.url", provider=provider),
        ),
    )


# -- writing (inside Store.change) -----------------------------------------------------


def _part_for_writing(record: MutableRecord, key: str) -> dict[str, Any]:
    part = record.get(key)
    if not isinstance(part, dict):
        part = record[key] = {}
    return part


def _drop_if_empty(record: MutableRecord, key: str) -> None:
    if key in record and not record[key]:
        del record[key]


def save_client(
    record: MutableRecord,
    *,
    client_id: str,
    client_secret: str | None,
    store_secret: bool,
    redirect_uri: str,
    scope: str,
    host: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> None:
    """Keep the app's settings; with `store_secret=False` the secret leaves the record."""
    record["client_id"] = client_id
    if not store_secret:
        record.pop("client_secret", None)
    elif client_secret:
        record["client_secret"] = client_secret
    record["redirect_uri"] = redirect_uri
    record["scope"] = scope
    if host:
        record["host"] = host
    if overrides:
        record["provider"] = dict(overrides)


def add_pending(record: MutableRecord, state: str, entry: PendingAuthorization) -> None:
    _part_for_writing(record, PENDING)[state] = entry


def pending_for_writing(record: MutableRecord, state: str) -> PendingAuthorization | None:
    """The pending authorization `state`, to be changed in place (None if it is gone)."""
    entry = _part(record, PENDING).get(state)
    return cast("PendingAuthorization", entry) if isinstance(entry, dict) else None


def drop_pending(record: MutableRecord, state: str) -> None:
    """Forget the authorization `state` (consumed, cancelled or timed out)."""
    _part(record, PENDING).pop(state, None)
    _drop_if_empty(record, PENDING)


def put_token(record: MutableRecord, owner: str, token: TokenRecord) -> None:
    _part_for_writing(record, TOKENS)[owner] = token


def put_unverified(record: MutableRecord, key: str, token: TokenRecord) -> None:
    _part_for_writing(record, UNVERIFIED)[key] = token


def drop_unverified(record: MutableRecord, key: str) -> None:
    _part(record, UNVERIFIED).pop(key, None)
    _drop_if_empty(record, UNVERIFIED)


def set_default_owner(record: MutableRecord, owner: str | None) -> None:
    if owner:
        record["default_user"] = owner
    else:
        record.pop("default_user", None)


def forget_owner(record: MutableRecord, owner: str) -> bool:
    """Remove `owner`'s token; the default passes to another owner, if one is left.
    Returns whether there was a token to remove."""
    tokens = _part(record, TOKENS)
    if tokens.pop(owner, None) is None:
        return False
    if default_owner_of(record) == owner:
        set_default_owner(record, next(iter(tokens), None))
    _drop_if_empty(record, TOKENS)
    return True


# -- the notebooks' flat shape ---------------------------------------------------------


def is_flat(record: Record) -> bool:
    return any(key in record for key in ("state", "code", "token"))


def upgrade(record: dict[str, Any]) -> dict[str, Any]:
    """Turn the notebooks' flat record into the structured one; others pass unchanged.

    Flat: client_id, client_secret, redirect_uri, state, scope, code, token right under
    the provider. The state and code become a pending authorization; a token becomes an
    unverified token that `auth.verify` names the owner of.
    """
    if not is_flat(record):
        return record
    upgraded = {k: v for k, v in record.items() if k not in ("state", "code", "token")}
    state, code, token = record.get("state"), record.get("code"), record.get("token")
    if state:
        pending = cast(
            "PendingAuthorization",
            {"scope": record.get("scope"), "redirect_uri": record.get("redirect_uri")},
        )
        if code:
            pending["code"] = code
        add_pending(upgraded, str(state), pending)
    if token:
        entry = dict(token) if isinstance(token, dict) else {"access_token": str(token)}
        if entry.get("access_token"):
            put_unverified(upgraded, "notebook", cast("TokenRecord", entry))
    return upgraded
