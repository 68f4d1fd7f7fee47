"""The notebooks' helpers, on top of the new store, so existing notebooks keep running.

`read_creds` gives the flat view the notebooks expect (client_id, client_secret,
redirect_uri, scope, state, code, token); `update_creds` takes flat keys and files them
where the structured file keeps them.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from oauthdance.base.errors import python_face
from oauthdance.store import open_store
from oauthdance.store.record import (
    FLAT_KEYS,
    add_pending,
    default_owner_of,
    pending_of,
    put_unverified,
    tokens_of,
    unverified_of,
    upgrade,
)


@python_face
def read_creds(provider: str, file: str = "creds.json") -> dict[str, Any]:
    """The provider's record in the notebooks' flat shape (plus every structured key)."""
    record = open_store(file).record(provider)
    flat = dict(record)
    pending = pending_of(record)
    if pending:
        state, entry = list(pending.items())[-1]  # the most recent authorization
        flat["state"] = state
        if entry.get("code"):
            flat["code"] = entry["code"]
    tokens, unverified = tokens_of(record), unverified_of(record)
    owner = default_owner_of(record) or next(iter(tokens), None)
    if owner in tokens:
        flat["token"] = tokens[owner]["access_token"]
    elif unverified:
        flat["token"] = list(unverified.values())[-1]["access_token"]
    return flat


@python_face
def update_creds(provider: str, values: dict[str, Any], file: str = "creds.json") -> None:
    """Merge the notebook's flat `values` into the provider's record, structured."""

    def merged_in(record: dict[str, Any]) -> None:
        plain = {k: v for k, v in values.items() if k not in ("state", "code", "token")}
        record.update(plain)
        states = list(pending_of(record))
        state = values.get("state") or (states[-1] if states else None)
        moving = {k: values[k] for k in ("code", "token") if values.get(k)}
        if values.get("state") or moving:
            flat = {
                **{k: record.get(k) for k in FLAT_KEYS if k in record},
                "state": state,
                **moving,
            }
            upgraded = upgrade(flat)
            for name, entry in pending_of(upgraded).items():
                add_pending(record, name, _merged(pending_of(record).get(name), entry))
            for name, token in unverified_of(upgraded).items():
                put_unverified(record, name, _merged(unverified_of(record).get(name), token))

    open_store(file).change(provider, merged_in)


def _merged(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> Any:
    """`new` over `old`, leaving out what the notebook set to None."""
    return {k: v for k, v in {**(old or {}), **new}.items() if v is not None}


def random_string(length: int = 32) -> str:
    """A URL-safe random string of `length` characters, from `secrets` (for `state`)."""
    return secrets.token_urlsafe(length)[:length]


def buildURL(resource: str, host: str = "https://api.github.com") -> str:
    """`host` + `/resource`, with exactly one slash between them."""
    return host.rstrip("/") + "/" + resource.lstrip("/")
