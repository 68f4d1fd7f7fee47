"""The notebooks' helpers, on top of the new store, so existing notebooks keep running.

`read_creds` gives the flat view the notebooks expect (client_id, client_secret,
redirect_uri, scope, state, code, token); `update_creds` takes flat keys and files them
where the structured file keeps them.
"""

from __future__ import annotations

import secrets
from typing import Any

from oauthdance.base.errors import python_face
from oauthdance.store import FLAT_KEYS, open_store, upgrade_record


@python_face
def read_creds(provider: str, file: str = "creds.json") -> dict[str, Any]:
    """The provider's record in the notebooks' flat shape (plus every structured key)."""
    record = open_store(file).record(provider)
    flat = dict(record)
    pending = record.get("pending") or {}
    if pending:
        state, entry = list(pending.items())[-1]  # the most recent authorization
        flat["state"] = state
        if entry.get("code"):
            flat["code"] = entry["code"]
    tokens = record.get("tokens") or {}
    owner = record.get("default_user") or next(iter(tokens), None)
    if owner in tokens:
        flat["token"] = tokens[owner]["access_token"]
    elif record.get("unverified"):
        flat["token"] = list(record["unverified"].values())[-1]["access_token"]
    return flat


@python_face
def update_creds(provider: str, values: dict[str, Any], file: str = "creds.json") -> None:
    """Merge the notebook's flat `values` into the provider's record, structured."""

    def merged_in(record: dict[str, Any]) -> None:
        plain = {k: v for k, v in values.items() if k not in ("state", "code", "token")}
        record.update(plain)
        state = values.get("state") or (list(record.get("pending") or {}) or [None])[-1]
        moving = {k: values[k] for k in ("code", "token") if values.get(k)}
        if values.get("state") or moving:
            flat = {
                **{k: record.get(k) for k in FLAT_KEYS if k in record},
                "state": state,
                **moving,
            }
            upgraded = upgrade_record(flat)
            for key in ("pending", "unverified"):
                for name, entry in (upgraded.get(key) or {}).items():
                    merged = {**(record.get(key, {}).get(name) or {}), **entry}
                    record.setdefault(key, {})[name] = {
                        k: v for k, v in merged.items() if v is not None
                    }

    open_store(file).change(provider, merged_in)


def random_string(length: int = 32) -> str:
    """A URL-safe random string of `length` characters, from `secrets` (for `state`)."""
    return secrets.token_urlsafe(length)[:length]


def buildURL(resource: str, host: str = "https://api.github.com") -> str:
    """`host` + `/resource`, with exactly one slash between them."""
    return host.rstrip("/") + "/" + resource.lstrip("/")
