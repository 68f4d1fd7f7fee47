"""What a task or an API call is about: the credentials store, the provider and the owner,
resolved once from the settings; and the provider and client as a record makes them.

Precedence for the client's settings, in one place (`resolve_client`): what the caller
gives (flags), then the process environment, then `.env`, then the credentials record,
then the defaults. So a client secret can live only in the environment, never in the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from oauthdance.base.settings import Settings, app_variable, resolve
from oauthdance.protocol.client import DEFAULT_REDIRECT_URI, Client
from oauthdance.protocol.providers import Provider, get_provider
from oauthdance.store import Store, open_store
from oauthdance.store.record import Record, host_of, overrides_of, saved_client

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
        """The provider's preset (or, for a name only OIDC discovery defined, the one the
        record's discovered facts build)."""
        name = self.settings.provider
        record = self.store.record(name)
        return get_provider(name, self.settings.providers_file, overrides_of(record))

    @property
    def client(self) -> Client:
        """The client as configured right now, its provider as the record makes it."""
        return resolve_client(self.provider, self.store.record(self.provider.name))


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


def effective_provider(provider: Provider, record: Record) -> Provider:
    """The provider as this credentials record sees it: its overrides, then its host."""
    return provider.with_overrides(overrides_of(record), "the credentials file").with_host(
        host_of(record)
    )


def resolve_client(
    provider: Provider,
    record: Record,
    environ: Mapping[str, str] | None = None,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    redirect_uri: str | None = None,
    scope: str | None = None,
) -> Client:
    """The client's settings for `provider`: each the one given, else from the environment,
    `.env`, the record, or the default (see the module docstring)."""
    prefix = provider.env_prefix
    env_id, _ = app_variable(f"{prefix}_CLIENT_ID", environ)
    secret, source = (client_secret, "flag") if client_secret else (None, "none")
    if not secret:
        secret, source = app_variable(f"{prefix}_CLIENT_SECRET", environ)
    saved = saved_client(record)
    if not secret and saved.client_secret:
        secret, source = saved.client_secret, "file"
    return Client(
        provider=effective_provider(provider, record),
        client_id=client_id or env_id or saved.client_id or "",
        client_secret=secret or None,
        secret_source=source,
        redirect_uri=redirect_uri or saved.redirect_uri or DEFAULT_REDIRECT_URI,
        scope=scope if scope is not None else saved.scope or provider.default_scope,
    )
