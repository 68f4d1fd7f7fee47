"""Settings and where each comes from, resolved in one place for tasks and the Python API.

For each setting, the first that is set wins: the flag, then invoke's configuration
(`invoke.yaml`, `-f FILE`, `INVOKE_OAUTHDANCE_*`), then the `OAUTHDANCE_*` environment
variable, then the same variable in `.env`, then the default. `.env` is read once per
process (per file and modification time).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One setting: its name (the flag and the invoke config key), variable and default."""

    name: str
    flag: str
    variable: str
    default: str | None
    shown_default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "provider",
        "-p",
        "OAUTHDANCE_PROVIDER",
        "github",
        "`github`",
        "provider name (built in, or from your providers file)",
    ),
    Setting(
        "creds",
        "--creds",
        "OAUTHDANCE_CREDS",
        "creds.json",
        "`creds.json`",
        "credentials store: a .json or .yaml file, vault://HOST/MOUNT/PREFIX, or keyring:FILE",
    ),
    Setting(
        "user",
        "-u",
        "OAUTHDANCE_USER",
        None,
        "the provider's `default_user`",
        "resource owner (login) whose token is meant",
    ),
    Setting(
        "providers_file",
        "—",
        "OAUTHDANCE_PROVIDERS",
        None,
        "none",
        "a YAML file of your own providers",
    ),
)
BY_NAME = {s.name: s for s in SETTINGS}
DOTENV_VARIABLE = "OAUTHDANCE_DOTENV"


@dataclass(frozen=True)
class Settings:
    """The settings in effect, and where each came from (`sources`)."""

    provider: str
    creds: str  # a file's path, or a store's address (vault://..., keyring:...)
    user: str | None
    providers_file: Path | None
    sources: Mapping[str, str]


def resolve(
    flags: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every setting: flag → invoke config → environment → `.env` → default."""
    flags, config = flags or {}, config or {}
    environ = os.environ if environ is None else environ
    values: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        candidates = (
            (flags.get(setting.name), "flag"),
            (config.get(setting.name), "invoke config"),
            (environ.get(setting.variable), "environment"),
            (dotenv_value(setting.variable, environ), ".env"),
            (setting.default, "default"),
        )
        value, source = next(((v, s) for v, s in candidates if v), (None, "default"))
        values[setting.name], sources[setting.name] = (str(value) if value else None), source
    return Settings(
        provider=str(values["provider"]),
        creds=str(values["creds"]),
        user=values["user"],
        providers_file=Path(values["providers_file"]).expanduser()
        if values["providers_file"]
        else None,
        sources=sources,
    )


def app_variable(name: str, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(value, source) of an app variable (`GITHUB_CLIENT_ID`, `GITHUB_CLIENT_SECRET`): the
    environment, else `.env`.

    ("", "none") when neither has it.
    """
    environ = os.environ if environ is None else environ
    if environ.get(name):
        return environ[name], "environment"
    value = dotenv_value(name, environ)
    return (value, ".env") if value else ("", "none")


def token_from_environment(
    variables: tuple[str, ...], environ: Mapping[str, str] | None = None
) -> tuple[str, str] | None:
    """(token, variable) from the first of a provider's token variables that is set
    (GITHUB_TOKEN, GH_TOKEN, ...): the process environment only, as gh and CI set them."""
    environ = os.environ if environ is None else environ
    for name in variables:
        if environ.get(name):
            return environ[name], name
    return None


def dotenv_file(environ: Mapping[str, str] | None = None) -> Path:
    """The `.env` read for settings: `OAUTHDANCE_DOTENV`, else `.env` in the working folder."""
    environ = os.environ if environ is None else environ
    return Path(environ.get(DOTENV_VARIABLE) or Path.cwd() / ".env")


_dotenv_cache: dict[tuple[str, int], dict[str, str | None]] = {}


def dotenv_value(name: str, environ: Mapping[str, str] | None = None) -> str:
    """`name` from the `.env` file ("" if it is not there), parsed once per file version."""
    path = dotenv_file(environ)
    try:
        key = (str(path.resolve()), path.stat().st_mtime_ns)
    except OSError:
        return ""
    if key not in _dotenv_cache:
        from dotenv import dotenv_values

        _dotenv_cache.clear()
        _dotenv_cache[key] = dict(dotenv_values(path))
    return _dotenv_cache[key].get(name) or ""


def precedence_table() -> str:
    """The README's precedence table, made from `SETTINGS` so the two cannot drift."""
    lines = [
        "| setting | flag | invoke config | environment or `.env` | default |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in SETTINGS:
        flag = f"`{s.flag}`" if s.flag != "—" else "—"
        lines.append(
            f"| `{s.name}`: {s.help} | {flag} | `oauthdance.{s.name}` | `{s.variable}` | "
            f"{s.shown_default} |"
        )
    return "\n".join(lines)
