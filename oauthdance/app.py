"""The OAuth app's settings for one provider, and where each one came from.

Precedence, in one place: the process environment, then `.env`, then the credentials
file. So a client secret can live only in the environment, never in the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .providers import Provider

DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/callback"


@dataclass(frozen=True)
class App:
    """A registered OAuth app as the flow needs it."""

    provider: Provider
    client_id: str
    client_secret: str | None
    secret_source: str  # "environment", ".env", "file" or "none"
    redirect_uri: str
    scope: str

    def require_client_id(self) -> App:
        """This app, if it can start a dance: a client_id, and an issuer where one is needed."""
        if self.provider.oidc and not self.provider.issuer:
            raise ConfigError(
                f"{self.provider.name!r} is an OpenID Connect provider with no issuer yet",
                f"run `invoke auth.configure -p {self.provider.name} --issuer URL`",
            )
        if not self.client_id:
            name = self.provider.name
            raise ConfigError(
                f"no client_id is configured for {name!r}",
                f"run `invoke auth.configure -p {name} --client-id ID --client-secret SECRET` "
                f"(or set {self.provider.env_prefix}_CLIENT_ID)",
            )
        return self


def dotenv_file() -> Path:
    """The `.env` read for settings: `OAUTHDANCE_DOTENV`, else `.env` in the working folder."""
    return Path(os.environ.get("OAUTHDANCE_DOTENV") or Path.cwd() / ".env")


def environment_value(name: str, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(value, source) of a setting from the environment, else `.env`; ("", "none") if unset."""
    environ = os.environ if environ is None else environ
    if environ.get(name):
        return environ[name], "environment"
    path = dotenv_file()
    if path.is_file():
        from dotenv import dotenv_values

        value = dotenv_values(path).get(name)
        if value:
            return value, ".env"
    return "", "none"


def effective_provider(provider: Provider, record: Mapping[str, Any]) -> Provider:
    """The provider as this credentials record sees it: its overrides, then its host."""
    overrides = record.get("provider")
    return provider.with_overrides(overrides, "the credentials file").with_host(record.get("host"))


def resolve_app(
    provider: Provider, record: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> App:
    """The app's settings for `provider`, from the environment, `.env` and its record."""
    prefix = provider.env_prefix
    client_id, _ = environment_value(f"{prefix}_CLIENT_ID", environ)
    secret, source = environment_value(f"{prefix}_CLIENT_SECRET", environ)
    if not secret and record.get("client_secret"):
        secret, source = str(record["client_secret"]), "file"
    return App(
        provider=effective_provider(provider, record),
        client_id=client_id or str(record.get("client_id") or ""),
        client_secret=secret or None,
        secret_source=source,
        redirect_uri=str(record.get("redirect_uri") or DEFAULT_REDIRECT_URI),
        scope=str(record.get("scope") or provider.default_scope),
    )
