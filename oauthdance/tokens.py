"""Token records: what is stored for each owner, whose token is meant, and masking.

Times are stored as absolute UTC instants (`expires_at`, never only `expires_in`), so a
token read hours later still knows when it dies.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from .errors import NotLoggedIn

KEEP_FROM_ANSWER = ("access_token", "token_type", "refresh_token", "id_token")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def isoformat(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def token_record(answer: dict[str, Any], requested_scope: str, now: datetime) -> dict[str, Any]:
    """The stored form of a token answer: absolute expiry times, scopes as a list."""
    record = {key: answer[key] for key in KEEP_FROM_ANSWER if answer.get(key)}
    record["token_type"] = str(answer.get("token_type") or "bearer").lower()
    record["scope"] = list(answer.get("scope") or [])
    record["requested_scope"] = requested_scope
    record["created_at"] = isoformat(now)
    for lifetime, stamp in (
        ("expires_in", "expires_at"),
        ("refresh_token_expires_in", "refresh_token_expires_at"),
    ):
        if answer.get(lifetime):
            record[stamp] = isoformat(now + timedelta(seconds=int(answer[lifetime])))
    return record


def mask(secret: str | None) -> str:
    """`gho_****wxyz`: enough to tell tokens apart, never enough to use one."""
    if not secret:
        return ""
    prefix = secret.split("_", 1)[0] + "_" if "_" in secret[:5] else ""
    tail = secret[-4:] if len(secret) >= 20 else ""
    return f"{prefix}****{tail}"


def pick_owner(record: dict[str, Any], user: str | None, provider: str) -> str:
    """Whose token is meant: --user, else OAUTHDANCE_USER, else the default, else the only one."""
    tokens = record.get("tokens") or {}
    owner = user or os.environ.get("OAUTHDANCE_USER") or record.get("default_user")
    if not owner and len(tokens) == 1:
        owner = next(iter(tokens))
    if owner and owner in tokens:
        return owner
    if record.get("unverified") and not tokens:
        raise NotLoggedIn(
            f"the {provider} token has not been verified yet, so it has no owner",
            f"run `invoke auth.verify -p {provider}`",
        )
    if owner:
        known = ", ".join(sorted(tokens)) or "none"
        raise NotLoggedIn(
            f"no {provider} token is stored for {owner!r} (stored owners: {known})",
            f"run `invoke auth.login -p {provider}` as {owner}, or pick another --user",
        )
    if tokens:
        raise NotLoggedIn(
            f"several {provider} owners are stored ({', '.join(sorted(tokens))}) and none is "
            "the default",
            "pass --user NAME, or set OAUTHDANCE_USER",
        )
    raise NotLoggedIn(
        f"no {provider} token is stored yet",
        f"run `invoke auth.login -p {provider}` (or auth.url → auth.code → auth.exchange)",
    )
