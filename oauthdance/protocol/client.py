"""The registered OAuth client (the app) for one provider, and where each setting came from.

The settings are resolved from the environment, `.env` and the credentials record in one
place, `oauthdance.keep.target.resolve_client`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from oauthdance.base.advice import PLACEHOLDER, Command, Hint
from oauthdance.base.errors import ConfigError
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
