"""Provider records: each provider's facts as data, from config/providers.yaml.

A user adds or overrides providers in a YAML file of their own (`OAUTHDANCE_PROVIDERS`
or `--providers`); an entry may `extends:` another and change only what differs.
The set of allowed keys is closed, so a typo is an error that names the file, the
provider and the field instead of a silently ignored setting.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

BUILTIN_FILE = Path(__file__).with_name("config") / "providers.yaml"
REQUIRED = ("authorize_url", "token_url", "api_base")
CLIENT_AUTH_METHODS = ("client_secret_post", "client_secret_basic", "none")
REVOCATION_STYLES = ("github", "rfc7009")


@dataclass(frozen=True)
class Provider:
    """What the flow needs to know about one authorization server and its API."""

    name: str
    authorize_url: str
    token_url: str
    api_base: str
    title: str = ""
    host: str = ""
    device_url: str = ""
    user_path: str = "/user"
    login_field: str = "login"
    scopes_header: str = ""
    pkce: bool = True
    any_loopback_port: bool = False
    client_auth: str = "client_secret_post"
    default_scope: str = ""
    scope_separator: str = " "
    token_env: tuple[str, ...] = ()
    api_headers: dict[str, str] = field(default_factory=dict)
    extra_authorize_params: dict[str, str] = field(default_factory=dict)
    implied_scopes: dict[str, list[str]] = field(default_factory=dict)
    token_check_url: str = ""
    revocation_url: str = ""
    revocation_style: str = "github"  # or "rfc7009"

    @property
    def env_prefix(self) -> str:
        """`github-enterprise` → `GITHUB_ENTERPRISE`, for <PREFIX>_CLIENT_ID and friends."""
        return "".join(c if c.isalnum() else "_" for c in self.name).upper()

    def url(self, template: str) -> str:
        return template.replace("{host}", self.host)

    @property
    def authorize_endpoint(self) -> str:
        return self.url(self.authorize_url)

    @property
    def token_endpoint(self) -> str:
        return self.url(self.token_url)

    @property
    def api_root(self) -> str:
        return self.url(self.api_base).rstrip("/")

    def with_host(self, host: str | None) -> Provider:
        """The same provider served from another host (GitHub Enterprise, a sandbox port)."""
        if not host:
            return self
        return dataclasses.replace(self, host=host.strip().rstrip("/"))


_FIELDS = {f.name for f in dataclasses.fields(Provider)} - {"name"}


def load_providers(user_file: str | os.PathLike[str] | None = None) -> dict[str, Provider]:
    """Built-in presets, then the user's file (argument, else `OAUTHDANCE_PROVIDERS`)."""
    raw = _read_yaml(BUILTIN_FILE)
    user_file = user_file or os.environ.get("OAUTHDANCE_PROVIDERS")
    sources = {name: BUILTIN_FILE for name in raw}
    if user_file:
        path = Path(user_file).expanduser()
        for name, entry in _read_yaml(path).items():
            merged = {**raw.get(name, {}), **entry} if name in raw else entry
            raw[name] = merged
            sources[name] = path
    return {name: _build(name, raw, sources[name]) for name in raw}


def get_provider(name: str, user_file: str | os.PathLike[str] | None = None) -> Provider:
    providers = load_providers(user_file)
    try:
        return providers[name]
    except KeyError:
        known = ", ".join(sorted(providers))
        raise ConfigError(
            f"unknown provider {name!r}",
            f"use one of: {known}; or define it in your providers file (OAUTHDANCE_PROVIDERS)",
        ) from None


def _read_yaml(path: Path) -> dict[str, dict[str, Any]]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"providers file {path} does not exist", "check the path") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"providers file {path} is not valid YAML{where}", "fix it") from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ConfigError(
            f"providers file {path} must map provider names to records", "see README Providers"
        )
    return data


def _build(name: str, raw: dict[str, dict[str, Any]], source: Path) -> Provider:
    entry = _resolve_extends(name, raw, source, seen=())

    def bad(field_name: str, why: str) -> ConfigError:
        return ConfigError(
            f"{source}: provider {name!r}, field {field_name!r}: {why}",
            "fix that entry (see README Providers for the fields)",
        )

    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise bad(unknown[0], f"unknown field (allowed: {', '.join(sorted(_FIELDS))})")
    for key in REQUIRED:
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise bad(key, "required, a URL")
    if entry.get("client_auth", "client_secret_post") not in CLIENT_AUTH_METHODS:
        raise bad("client_auth", f"must be one of {', '.join(CLIENT_AUTH_METHODS)}")
    if entry.get("revocation_style", "github") not in REVOCATION_STYLES:
        raise bad("revocation_style", f"must be one of {', '.join(REVOCATION_STYLES)}")
    for key in ("pkce", "any_loopback_port"):
        if key in entry and not isinstance(entry[key], bool):
            raise bad(key, "must be true or false")
    for key in ("api_headers", "extra_authorize_params", "implied_scopes"):
        if key in entry and not isinstance(entry[key], dict):
            raise bad(key, "must be a mapping")
    values = dict(entry)
    values["token_env"] = tuple(entry.get("token_env") or ())
    for key in ("api_headers", "extra_authorize_params"):
        values[key] = {str(k): str(v) for k, v in (entry.get(key) or {}).items()}
    values["implied_scopes"] = {
        str(k): [str(s) for s in (v if isinstance(v, list) else [v])]
        for k, v in (entry.get("implied_scopes") or {}).items()
    }
    return Provider(name=name, **values)


def _resolve_extends(
    name: str, raw: dict[str, dict[str, Any]], source: Path, seen: tuple[str, ...]
) -> dict[str, Any]:
    entry = dict(raw[name])
    parent = entry.pop("extends", None)
    if parent is None:
        return entry
    if parent not in raw or parent in seen or parent == name:
        raise ConfigError(
            f"{source}: provider {name!r}, field 'extends': no provider {parent!r} to extend",
            "name a built-in or earlier provider",
        )
    return {**_resolve_extends(parent, raw, source, (*seen, name)), **entry}
