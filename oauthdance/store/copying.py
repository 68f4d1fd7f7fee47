"""Copying records from one store to another (`invoke store.copy`): the same records,
whatever the backends; the source is left as it is."""

from __future__ import annotations

import copy
from typing import Any

from oauthdance.protocol.tokens import without_claim
from oauthdance.store.base import Store
from oauthdance.store.record import put_token, tokens_of


def copy_records(
    source: Store, destination: Store, provider: str | None = None
) -> dict[str, list[str]]:
    """Replace each provider's record in `destination` by the source's (all providers, or
    one); others are untouched. Returns each copied provider's owners."""
    records = source.read()
    if provider is not None:
        records = {provider: records[provider]} if provider in records else {}
    copied = {}
    for name, record in records.items():
        wanted = _without_claims(record)

        def replaced(rec: dict[str, Any], wanted: dict[str, Any] = wanted) -> None:
            rec.clear()
            rec.update(copy.deepcopy(wanted))

        destination.change(name, replaced)
        copied[name] = list(tokens_of(wanted))
    return copied


def _without_claims(record: dict[str, Any]) -> dict[str, Any]:
    """A refresh claim belongs to the store it was made on: it does not travel."""
    travelling = copy.deepcopy(record)  # the source's record stays as it is
    for owner, token in tokens_of(record).items():
        put_token(travelling, owner, without_claim(token))
    return travelling
