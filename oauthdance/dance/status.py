"""`auth.status`: what is stored and what is in effect, as rows with every secret masked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oauthdance.dance.results import StatusRow
from oauthdance.keep.lifecycle import environment_token
from oauthdance.keep.target import resolve_client
from oauthdance.protocol.providers import Provider
from oauthdance.protocol.tokens import mask, parse_time, utcnow
from oauthdance.store import Store
from oauthdance.store.record import default_owner_of, pending_of, tokens_of, unverified_of


def status_rows(creds: Store, providers: dict[str, Provider]) -> list[StatusRow]:
    """One row per token (stored, unverified, or from the environment), or per bare app.

    A stored token that an environment token shadows says so in `shadowed_by`.
    """
    rows: list[StatusRow] = []
    records = creds.read()
    names = list(records) + [
        name for name, p in providers.items() if name not in records and environment_token(p)
    ]
    for name in names:
        record = records.get(name) or {}
        provider = providers.get(name) or Provider(name, "", "", "")
        app = resolve_client(provider, record)
        base: dict[str, Any] = dict(
            provider=name,
            client_id=app.client_id,
            client_secret=mask(app.client_secret),
            secret_source=app.secret_source,
            pending=len(pending_of(record)),
        )
        env = environment_token(provider)
        shadow = f"environment ({env[1]})" if env else None
        tokens: list[tuple[str | None, Mapping[str, Any], str]] = [
            (owner, token, creds.kind) for owner, token in tokens_of(record).items()
        ]
        tokens += [
            (None, token, f"{creds.kind} (unverified)") for token in unverified_of(record).values()
        ]
        if env:
            tokens.insert(0, (None, {"access_token": env[0]}, shadow or ""))
        if not tokens:
            rows.append(StatusRow(**base, **_token_row(None, {}, "", None, False)))
        for owner, token, source in tokens:
            is_default = owner is not None and owner == default_owner_of(record)
            shadowed_by = shadow if source == creds.kind else None
            rows.append(
                StatusRow(**base, **_token_row(owner, token, source, shadowed_by, is_default))
            )
    return rows


def _token_row(
    owner: str | None,
    token: Mapping[str, Any],
    source: str,
    shadowed_by: str | None,
    is_default: bool,
) -> dict[str, Any]:
    expires = parse_time(token.get("expires_at"))
    return {
        "owner": owner,
        "token": mask(token.get("access_token")),
        "source": source,
        "scopes": tuple(token.get("scope") or ()),
        "expires_at": token.get("expires_at"),
        "expired": bool(expires and expires <= utcnow()),
        "refreshable": bool(token.get("refresh_token")) and not token.get("needs_login"),
        "needs_login": bool(token.get("needs_login")),
        "verified_at": token.get("verified_at"),
        "default": is_default,
        "shadowed_by": shadowed_by,
    }
