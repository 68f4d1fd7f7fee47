"""Provider records: each provider's facts as data, from presets.yaml.

A user adds or overrides providers in a YAML file of their own (`OAUTHDANCE_PROVIDERS`,
or `oauthdance.providers_file` in invoke's configuration); an entry may `extends:`
another and change only what differs. The set of fields is closed, so a typo is an
error that names the file, the provider and the field instead of a silently ignored
setting. A credentials record may carry `provider:` overrides too (what OIDC discovery
found), checked by the same rules.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oauthdance.base.advice import Command, Hint, setting
from oauthdance.base.errors import ConfigError
from oauthdance.protocol.urls import is_secure

BUILTIN_FILE = Path(__file__).with_name("presets.yaml")
REQUIRED = ("authorize_url", "token_url", "api_base")
URL_FIELDS = (
    "authorize_url",
    "token_url",
    "api_base",
    "device_url",
    "user_url",
    "token_check_url",
    "revocation_url",
    "introspection_url",
    "end_session_url",
    "jwks_uri",
    "issuer",
)
SECURE_URL_RULE = "must be https://, or http:// on 127.0.0.1, [::1] or localhost"
CHOICES = {
    "client_auth": ("client_secret_post", "client_secret_basic", "none"),
    "device_client_auth": ("none", "token", "both"),
    "revocation_style": ("github", "rfc7009"),
}


@dataclass(frozen=True)
class Provider:
    """What the flow needs to know about one authorization server and its API.

    URLs may hold `{host}` (the provider's host, or the one given with `--host`); in
    `token_check_url` and `revocation_url`, `{api}` and `{client_id}` too.
    """

    name: str
    authorize_url: str
    token_url: str
    api_base: str
    title: str = ""
    host: str = ""
    device_url: str = ""
    # which device-flow requests authenticate a confidential client (RFC 8628 §3.1, §3.4):
    # "both" as the RFC says; "token" only the polling (Google); "none" neither (GitHub)
    device_client_auth: str = "both"
    user_url: str = ""  # the user endpoint as a full URL; else api_base + user_path
    user_path: str = "/user"
    login_field: tuple[str, ...] = ("login",)  # the first present names the owner
    scopes_header: str = ""
    pkce: bool = True
    any_loopback_port: bool = False
    client_auth: str = ""  # "" chooses by the secret and `auth_methods_supported`
    auth_methods_supported: tuple[str, ...] = ()  # what discovery said the server takes
    default_scope: str = ""
    scope_separator: str = " "
    token_env: tuple[str, ...] = ()
    api_headers: dict[str, str] = field(default_factory=dict)
    extra_authorize_params: dict[str, str] = field(default_factory=dict)
    implied_scopes: dict[str, list[str]] = field(default_factory=dict)
    token_check_url: str = ""
    revocation_url: str = ""
    revocation_style: str = "github"
    introspection_url: str = ""  # RFC 7662: `auth.check` asks it whether a token is active
    end_session_url: str = ""  # OpenID Connect RP-initiated logout, as discovered
    iss_parameter: bool = False  # the server sends `iss` with every redirect (RFC 9207)
    code_lifetime: int = 600  # seconds an authorization code lives
    quirks: tuple[str, ...] = ()  # names of hooks in oauthdance.protocol.quirks
    oidc: bool = False  # send a nonce; validate the id_token that comes back
    issuer: str = ""
    jwks_uri: str = ""

    @property
    def env_prefix(self) -> str:
        """`github-enterprise` → `GITHUB_ENTERPRISE`, for <PREFIX>_CLIENT_ID and friends."""
        return "".join(c if c.isalnum() else "_" for c in self.name).upper()

    def endpoint(self, field_name: str, **values: str) -> str:
        """The URL in `field_name` with `{host}` (and `values`) filled in, checked to be
        https or loopback http: every endpoint may receive a secret."""
        template = getattr(self, field_name)
        if "{host}" in template and not self.host:
            raise ConfigError(
                f"provider {self.name!r} needs a host (its {field_name} is {template})",
                Hint(
                    "run {configure}",
                    configure=Command("auth.configure", self.name).with_flags(host="HOST"),
                ),
            )
        url = template.replace("{host}", self.host)
        for key, value in values.items():
            url = url.replace("{" + key + "}", value)
        if not is_secure(url):
            raise ConfigError(
                f"provider {self.name!r}, field {field_name!r}: {url!r} {SECURE_URL_RULE}",
                f"fix the provider's entry (or the {setting('host')} it was configured with)",
            )
        return url

    def check_endpoints(self) -> Provider:
        """This provider, once every endpoint it has is known to be https or loopback http."""
        for name in URL_FIELDS:
            template = getattr(self, name)
            if template and not ("{host}" in template and not self.host):
                self.endpoint(name, api="https://api.invalid", client_id="x")
        return self

    @property
    def authorize_endpoint(self) -> str:
        return self.endpoint("authorize_url")

    @property
    def token_endpoint(self) -> str:
        return self.endpoint("token_url")

    @property
    def api_root(self) -> str:
        return self.endpoint("api_base").rstrip("/")

    @property
    def user_endpoint(self) -> str:
        """The user endpoint, or "" where the provider has none (an OAuth server without
        OpenID Connect userinfo): then the id_token or `--user` names the owner."""
        if self.user_url:
            return self.endpoint("user_url")
        return self.api_root + self.user_path if self.user_path else ""

    def app_token_endpoint(self, field_name: str, client_id: str) -> str:
        """`token_check_url` or `revocation_url`, with `{api}` and `{client_id}` filled in."""
        return self.endpoint(field_name, api=self.api_root, client_id=client_id)

    def with_host(self, host: str | None) -> Provider:
        """The same provider served from another host (GitHub Enterprise, a sandbox port)."""
        if not host:
            return self
        return dataclasses.replace(self, host=host.strip().rstrip("/")).check_endpoints()

    def with_overrides(self, overrides: dict[str, Any] | None, source: str) -> Provider:
        """The same provider with some facts replaced (checked like a providers file)."""
        if not overrides:
            return self
        return dataclasses.replace(self, **_values(self.name, overrides, source, partial=True))


FIELDS = {f.name for f in dataclasses.fields(Provider)} - {"name"}


def load_providers(user_file: str | os.PathLike[str] | None = None) -> dict[str, Provider]:
    """Built-in presets, then the user's file (the `providers_file` setting)."""
    raw = _read_yaml(BUILTIN_FILE)
    sources = dict.fromkeys(raw, BUILTIN_FILE)
    if user_file:
        path = Path(user_file).expanduser()
        for name, entry in _read_yaml(path).items():
            raw[name] = {**raw.get(name, {}), **entry}
            sources[name] = path
    return {
        name: Provider(
            name=name,
            **_values(name, _resolve_extends(name, raw, sources[name], ()), str(sources[name])),
        )
        for name in raw
    }


def get_provider(
    name: str,
    user_file: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Provider:
    """The named provider; a name defined only by OIDC discovery (the `overrides` kept with
    its credentials record hold an issuer) is built on the `oidc` preset."""
    providers = load_providers(user_file)
    if name in providers:
        return providers[name]
    if (overrides or {}).get("issuer") and "oidc" in providers:
        return dataclasses.replace(providers["oidc"], name=name)
    known = ", ".join(sorted(providers))
    raise ConfigError(
        f"unknown provider {name!r}",
        Hint(
            "use one of: {known}; define it in your providers file (OAUTHDANCE_PROVIDERS); "
            "or discover an OIDC issuer: {configure}",
            known=known,
            configure=Command("auth.configure", name).with_flags(issuer="URL"),
        ),
    )


def _read_yaml(path: Path) -> dict[str, dict[str, Any]]:
    from oauthdance.base import yamlio

    try:
        data = yamlio.load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"providers file {path} does not exist", "check the path") from None
    except yamlio.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"providers file {path} is not valid YAML{where}", "fix it") from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ConfigError(
            f"providers file {path} must map provider names to records", "see README Providers"
        )
    return data


def _values(name: str, entry: dict[str, Any], source: str, partial: bool = False) -> dict:
    """Check one entry's fields and convert them to the dataclass's types."""

    def bad(field_name: str, why: str) -> ConfigError:
        return ConfigError(
            f"{source}: provider {name!r}, field {field_name!r}: {why}",
            "fix that entry (see README Providers for the fields)",
        )

    unknown = sorted(set(entry) - FIELDS)
    if unknown:
        raise bad(unknown[0], f"unknown field (allowed: {', '.join(sorted(FIELDS))})")
    for key in () if partial else REQUIRED:
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise bad(key, "required, a URL")
    for key in URL_FIELDS:
        value = entry.get(key)
        if key in entry and not isinstance(value, str):
            raise bad(key, "must be a URL")
        if value and "{" not in value and not is_secure(value):
            raise bad(key, f"{value!r} {SECURE_URL_RULE}")
    for key, allowed in CHOICES.items():
        if key in entry and entry[key] not in allowed and not isinstance(entry[key], bool):
            raise bad(key, f"must be one of {', '.join(allowed)}")
    values = dict(entry)
    if isinstance(entry.get("device_client_auth"), bool):  # the first wave's true/false
        values["device_client_auth"] = "token" if entry["device_client_auth"] else "none"
    for key, kind in ((f.name, f.type) for f in dataclasses.fields(Provider)):
        if key not in entry:
            continue
        value = entry[key]
        if kind == "bool" and not isinstance(value, bool):
            raise bad(key, "must be true or false")
        if kind == "int" and (not isinstance(value, int) or isinstance(value, bool)):
            raise bad(key, "must be a whole number")
        if kind.startswith("tuple"):
            values[key] = tuple(str(v) for v in (value if isinstance(value, list) else [value]))
        if kind.startswith("dict") and not isinstance(value, dict):
            raise bad(key, "must be a mapping")
    for key in ("api_headers", "extra_authorize_params"):
        if key in values:
            values[key] = {str(k): str(v) for k, v in values[key].items()}
    if "implied_scopes" in values:
        values["implied_scopes"] = {
            str(k): [str(s) for s in (v if isinstance(v, list) else [v])]
            for k, v in values["implied_scopes"].items()
        }
    from oauthdance.protocol.quirks import QUIRKS

    for quirk in values.get("quirks", ()):
        if quirk not in QUIRKS:
            raise bad("quirks", f"no quirk {quirk!r} (known: {', '.join(sorted(QUIRKS))})")
    return values


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
