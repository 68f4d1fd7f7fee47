"""The registered OAuth client (the app) for one provider, and where each setting came from.

Precedence, in one place: the process environment, then `.env`, then the credentials
file. So a client secret can live only in the environment, never in the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from oauthdance.base.advice import PLACEHOLDER, Command, Hint
from oauthdance.base.errors import ConfigError
from oauthdance.base.settings import app_variable
from oauthdance.protocol.providers import Provider

DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/callback"


@dataclass(frozen=True)
class Client:
    """A registered OAuth client as the flow needs it (RFC 6749 §2)."""

    provider: Provider
    client_id: str
    client_secret: str | None = field(repr=False)
    secret_source: str  # "environment", ".env", "file" or "none"
    redirect_uri: str
    scope: str

    def require_client_id(self) -> Client:
        """This client, if it can start a dance: a client_id, and an issuer where one is needed."""
        name = self.provider.name
        if self.provider.oidc and not self.provider.issuer:
            raise ConfigError(
                f"{name!r} is an OpenID Connect provider with no issuer yet",
                Hint(
                    "run {configure}",
                    configure=Command("auth.configure", name).with_flags(issuer="URL"),
                ),
            )
        if not self.client_id:
            raise ConfigError(
                f"no client_id is configured for {name!r}",
                Hint(
                    "run {configure} (or set {variable})",
                    configure=Command("auth.configure", name).with_flags(
                        client_id="ID", client_secret="SECRET"
                    ),
                    variable=f"{self.provider.env_prefix}_CLIENT_ID",
                ),
            )
        return self

    @property
    def auth_method(self) -> str:
        """How this client authenticates (RFC 6749 §2.3): the provider's explicit choice;
        else none for a client without a secret (a public client, §2.1), and for one with
        a secret Basic where the server takes it (the RFC's default), else the form body."""
        if self.provider.client_auth:
            return self.provider.client_auth
        if not self.client_secret:
            return "none"
        supported = self.provider.auth_methods_supported or ("client_secret_basic",)
        for method in ("client_secret_basic", "client_secret_post"):
            if method in supported:
                return method
        return "client_secret_basic"

    def require_secret(self) -> str:
        """The client secret, for a provider whose client authentication needs one."""
        if not self.client_secret:
            name = self.provider.name
            raise ConfigError(
                f"no client_secret for {name!r}",
                Hint(
                    "set {variable} (environment or .env), or run {configure}",
                    variable=f"{self.provider.env_prefix}_CLIENT_SECRET",
                    configure=Command("auth.configure", name).with_flags(client_secret=PLACEHOLDER),
                ),
            )
        return self.client_secret


def effective_provider(provider: Provider, record: Mapping[str, Any]) -> Provider:
    """The provider as this credentials record sees it: its overrides, then its host."""
    overrides = record.get("provider")
    return provider.with_overrides(overrides, "the credentials file").with_host(record.get("host"))


def resolve_client(
    provider: Provider, record: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> Client:
    """The client's settings for `provider`, from the environment, `.env` and its record."""
    prefix = provider.env_prefix
    client_id, _ = app_variable(f"{prefix}_CLIENT_ID", environ)
    secret, source = app_variable(f"{prefix}_CLIENT_SECRET", environ)
    if not secret and record.get("client_secret"):
        secret, source = str(record["client_secret"]), "file"
    return Client(
        provider=effective_provider(provider, record),
        client_id=client_id or str(record.get("client_id") or ""),
        client_secret=secret or None,
        secret_source=source,
        redirect_uri=str(record.get("redirect_uri") or DEFAULT_REDIRECT_URI),
        scope=str(record.get("scope") or provider.default_scope),
    )
