"""What a task or an API call is about: the credentials file, the provider and the owner,
resolved once from the settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from oauthdance.base.settings import Settings, resolve
from oauthdance.protocol.providers import Provider, get_provider
from oauthdance.store import Store, open_store

CredsArgument = str | os.PathLike[str] | Store | None


class Target:
    """The settings in effect, the credentials store they name, and (when first asked for)
    the provider as that store knows it (OIDC providers live in the store)."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings, self.store = settings, store

    @property
    def user(self) -> str | None:
        return self.settings.user

    @cached_property
    def provider(self) -> Provider:
        name = self.settings.provider
        return get_provider(name, self.settings.providers_file, self.store.record(name))


def resolve_target(
    provider: str | None = None,
    user: str | None = None,
    creds: CredsArgument = None,
    config: Mapping[str, Any] | None = None,
) -> Target:
    """Settings from these arguments (the flags), invoke's `config`, the environment and
    `.env`, and the credentials store they name (a file, vault://..., keyring:...)."""
    named = creds.location if isinstance(creds, Store) else creds
    settings = resolve({"provider": provider, "user": user, "creds": named}, config)
    store = creds if isinstance(creds, Store) else open_store(settings.creds)
    return Target(settings, store)
