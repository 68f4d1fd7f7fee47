"""What every credentials store offers, whatever keeps the records: a file, Vault, a keyring.

The records are the same everywhere (`{provider: record}`); so are the rules. `change` is
the one way to modify them: the store reads the provider's record, runs the change on it,
and writes what it changed, re-running the change on fresh data when another writer got
there first (Vault's check-and-set). A change that raises writes nothing. `refresh_turn`
says whose turn it is to refresh a token: on one machine a lock, across machines a claim.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from oauthdance.protocol.tokens import TokenRecord, marked_refreshing

T = TypeVar("T")
Change = Callable[[dict[str, Any]], T]


class RefreshTurn:
    """A turn to refresh one token, taken under a lock that makes it the only one: no
    other refresh can be in flight, so the token is never busy and never waited for."""

    def busy(self, token: Mapping[str, Any]) -> bool:
        """Is another process, on any machine, refreshing this token right now?"""
        return False

    def claimed(self, token: Mapping[str, Any], now: datetime) -> TokenRecord:
        """The token as written while our refresh is in flight."""
        return marked_refreshing(token, now)

    def wait(self) -> None:
        """Let the busy claimant get on (never called on a lock's turn)."""


class Store(ABC):
    """A place for provider records; `location` names it in messages (never a secret)."""

    kind = "store"

    @property
    @abstractmethod
    def location(self) -> str: ...

    @property
    @abstractmethod
    def local_folder(self) -> Path:
        """A folder on this machine for what is cached beside the records (ETags)."""

    @abstractmethod
    def read(self) -> dict[str, Any]:
        """Every provider's record (a snapshot; empty if nothing is stored yet)."""

    def record(self, provider: str) -> dict[str, Any]:
        """One provider's record (a copy; empty if there is none)."""
        return self.read().get(provider) or {}

    @abstractmethod
    def change(self, provider: str, change: Change[T]) -> T:
        """Run `change` on the provider's record (a mutable dict, empty if none) and store
        what it changed; return what `change` returns. `change` may run more than once
        (each time on fresh data) so it must only compute from the record it is given."""

    @contextmanager
    def refresh_turn(self, provider: str, owner: str) -> Iterator[RefreshTurn]:
        """Our turn to refresh `owner`'s token (see `RefreshTurn`)."""
        yield RefreshTurn()

    def describe(self) -> dict[str, Any]:
        """What `store.status` shows: the backend, where it is, who may read it."""
        return {"backend": self.kind, "location": self.location}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"


def apply_change(data: dict[str, Any], provider: str, change: Change[T]) -> tuple[T, bool]:
    """Run `change` on `data[provider]` in place: (its result, whether `data` changed).

    A provider that was absent and whose record stays empty is not added.
    """
    existed = provider in data
    record = data.get(provider) or {}
    before = copy.deepcopy(record)
    result = change(record)
    if record == before and (existed or not record):
        return result, False
    data[provider] = record
    return result, True
