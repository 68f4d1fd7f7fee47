"""What each step hands back: small typed results, the same to a task (which prints them)
and to a Python caller (which keeps them).

Nothing secret is in a result: tokens and client secrets are masked before they get here.
Each has `to_dict()` (what `--json` prints); the identity and status results show as a small
table in a notebook (`_repr_html_`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any


class Result:
    """A step's answer: a frozen dataclass with `to_dict()`. `warnings` are what a task
    prints as `warning:` and a Python call warns, spelt for the face that ran the step."""

    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]  # every subclass is a dataclass


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Result):
        return value.to_dict()
    return value


@dataclass(frozen=True)
class Configured(Result):
    """The client as `configure` left it (the secret masked, and where it is read from)."""

    provider: str
    client_id: str
    client_secret: str  # masked; "" when there is none
    secret_source: str
    redirect_uri: str
    scope: str
    creds: str
    auth_method: str  # how the client authenticates (none: a public client)
    secret_variable: str  # where the environment may hold the secret instead of the file
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class CodeStored(Result):
    """The authorization the code was kept on, named by its state."""

    provider: str
    state: str


@dataclass(frozen=True)
class Exchanged(Result):
    """A fresh token (masked), waiting for `verify` to name its owner unless one was given."""

    provider: str
    state: str
    owner: str | None
    token: str  # masked; "" when there is none
    scope: tuple[str, ...]
    expires_at: str | None


@dataclass(frozen=True)
class Identity(Result):
    """Whose token it is, what it may do, and where it is kept."""

    provider: str
    owner: str
    scopes: tuple[str, ...]
    missing_scopes: tuple[str, ...]
    token: str  # masked; "" when there is none
    expires_at: str | None
    source: str
    creds: str
    warnings: tuple[str, ...] = ()

    def _repr_html_(self) -> str:
        return _table(
            ("provider", "owner", "scopes", "expires", "token", "from"),
            [
                (
                    self.provider,
                    self.owner,
                    ", ".join(self.scopes) or "none",
                    self.expires_at or "never",
                    self.token or "-",
                    f"{self.source} ({self.creds})",
                )
            ],
        )


@dataclass(frozen=True)
class Refreshed(Result):
    provider: str
    owner: str
    token: str  # masked; "" when there is none
    expires_at: str | None


@dataclass(frozen=True)
class Checked(Result):
    """The provider's word on the stored token; true when it still works."""

    provider: str
    owner: str
    valid: bool
    scopes: tuple[str, ...] | None
    login: str | None
    expires_at: str | None

    def __bool__(self) -> bool:
        return self.valid


@dataclass(frozen=True)
class Revoked(Result):
    provider: str
    owner: str
    already_invalid: bool


@dataclass(frozen=True)
class LoggedOut(Result):
    """The token is gone from the store; it works at the provider until revoked there."""

    provider: str
    owner: str
    creds: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class StatusRow(Result):
    """One token (stored, unverified, or from the environment), or a configured app."""

    provider: str
    client_id: str
    client_secret: str  # masked; "" when there is none
    secret_source: str
    pending: int  # how many authorizations wait for a code or an exchange
    owner: str | None
    token: str  # masked; "" when there is none
    source: str
    scopes: tuple[str, ...]
    expires_at: str | None
    expired: bool
    refreshable: bool
    needs_login: bool
    verified_at: str | None
    default: bool
    shadowed_by: str | None

    @property
    def expiry(self) -> str:
        """The expiry as a person reads it: a time, "never", or what is wrong."""
        if self.needs_login:
            return "needs login"
        if not self.expires_at:
            return "never" if self.token else "-"
        note = " (expired" + (", refreshable)" if self.refreshable else ")")
        return self.expires_at + (note if self.expired else "")


@dataclass(frozen=True)
class Status(Result):
    """What the store holds and what is in effect, every secret masked."""

    creds: str
    rows: tuple[StatusRow, ...]
    warnings: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[StatusRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def _repr_html_(self) -> str:
        if not self.rows:
            import html

            return f"<p>nothing stored in {html.escape(self.creds)} yet</p>"
        return _table(
            ("provider", "owner", "scopes", "expires", "token", "from"),
            [
                (
                    r.provider,
                    (r.owner or "-") + (" (default)" if r.default else ""),
                    ", ".join(r.scopes) or "-",
                    r.expiry,
                    r.token or "-",
                    r.source or "-",
                )
                for r in self.rows
            ],
            caption=self.creds,
        )


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], caption: str = "") -> str:
    """A small HTML table, every cell escaped (owners and scopes come from the provider)."""
    import html  # only a notebook shows a result so

    def cells(tag: str, row: Sequence[str]) -> str:
        return "".join(f"<{tag}>{html.escape(str(cell))}</{tag}>" for cell in row)

    head = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return f"<table>{head}<tr>{cells('th', header)}</tr>{body}</table>"
