"""Token records: their declared shape, the one place they are written, owners, and masking.

Times are stored as absolute UTC instants (`expires_at`, never only `expires_in`), so a
token read hours later still knows when it dies. Every key of a stored token is set here,
by `new_token_record`, `with_identity` or `marked_needs_login`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, TypedDict, cast

# What a validated id_token says of its owner, kept beside the token for quick reading.
ID_CLAIMS_KEPT = ("sub", "preferred_username", "email", "name", "iss")


class TokenAnswer(TypedDict):
    """A token answer (RFC 6749 §5.1) once checked: every field of the type it must have."""

    access_token: str
    token_type: str
    expires_in: int | None
    refresh_token: str | None
    refresh_token_expires_in: int | None
    scope: list[str]
    id_token: str | None


class TokenRecord(TypedDict, total=False):
    """One stored token, as it is kept under `tokens.<owner>` (or `unverified.<key>`)."""

    access_token: str
    token_type: str
    scope: list[str]  # granted, as the provider last said
    requested_scope: str
    refresh_token: str
    id_token: str
    id_token_claims: dict[str, Any]
    created_at: str
    expires_at: str
    refresh_token_expires_at: str
    refreshed_at: str
    login: str
    verified_at: str
    needs_login: bool  # the refresh token was refused: only a new login helps
    refresh_started_at: str  # a refresh is in flight (left behind if its process died)
    refresh_claim: dict[str, Any]  # who refreshes it now, for how long (shared stores)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def isoformat(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> datetime | None:
    """A stored instant; None when absent or unreadable (a hand-edited file)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def new_token_record(
    answer: TokenAnswer,
    requested_scope: str,
    now: datetime,
    *,
    previous: Mapping[str, Any] | None = None,
    id_claims: Mapping[str, Any] | None = None,
) -> TokenRecord:
    """The stored form of a checked token answer: absolute expiry times, scopes as a list.

    With `previous` (a refresh), what the answer leaves out is carried over: the refresh
    token (unless rotated), its expiry, the granted scopes, the owner's login, and when the
    owner was verified.
    """
    record = TokenRecord(
        access_token=answer["access_token"],
        token_type=answer["token_type"],
        scope=list(answer["scope"]),
        requested_scope=requested_scope,
        created_at=isoformat(now),
    )
    if answer["refresh_token"]:
        record["refresh_token"] = answer["refresh_token"]
    if answer["id_token"]:
        record["id_token"] = answer["id_token"]
    if id_claims:
        record["id_token_claims"] = {k: id_claims[k] for k in ID_CLAIMS_KEPT if k in id_claims}
    if answer["expires_in"] is not None:
        record["expires_at"] = isoformat(now + timedelta(seconds=answer["expires_in"]))
    if answer["refresh_token_expires_in"] is not None:
        record["refresh_token_expires_at"] = isoformat(
            now + timedelta(seconds=answer["refresh_token_expires_in"])
        )
    if previous is not None:  # (its `refresh_started_at`, if any, is not carried over)
        record["refreshed_at"] = isoformat(now)
        for kept in ("refresh_token", "refresh_token_expires_at", "login", "verified_at"):
            if previous.get(kept) and kept not in record:
                record[kept] = previous[kept]
        if not record["scope"]:
            record["scope"] = list(previous.get("scope") or [])
        if "id_token_claims" not in record and previous.get("id_token_claims"):
            record["id_token_claims"] = dict(previous["id_token_claims"])
    return record


def with_identity(
    token: Mapping[str, Any], login: str, scopes: list[str], now: datetime
) -> TokenRecord:
    """The token once the provider has said whose it is and which scopes it carries."""
    return cast(
        "TokenRecord", {**token, "login": login, "scope": scopes, "verified_at": isoformat(now)}
    )


def marked_needs_login(token: Mapping[str, Any]) -> TokenRecord:
    """The token once its refresh token was refused: every later use says so at once."""
    return cast("TokenRecord", {**token, "needs_login": True})


def marked_refreshing(token: Mapping[str, Any], now: datetime) -> TokenRecord:
    """The token while its refresh is in flight: should the process die before it writes
    the new pair, the next refusal can say what probably happened."""
    return cast("TokenRecord", {**token, "refresh_started_at": isoformat(now)})


def marked_claimed(
    token: Mapping[str, Any], now: datetime, claimant: str, seconds: float
) -> TokenRecord:
    """The token while `claimant` refreshes it, on a store many machines share: the others
    wait up to `seconds` for its write before they may refresh it themselves."""
    claim = {"by": claimant, "seconds": seconds}
    return cast("TokenRecord", {**marked_refreshing(token, now), "refresh_claim": claim})


def without_claim(token: Mapping[str, Any]) -> TokenRecord:
    """The token with no refresh claim on it (its `refresh_started_at` note stays)."""
    return cast("TokenRecord", {k: v for k, v in token.items() if k != "refresh_claim"})


def mask(secret: str | None) -> str:
    """`gho_****wxyz`: enough to tell tokens apart, never enough to use one."""
    if not secret:
        return ""
    secret = str(secret)
    prefix = secret.split("_", 1)[0] + "_" if "_" in secret[:5] else ""
    tail = secret[-4:] if len(secret) >= 20 else ""
    return f"{prefix}****{tail}"
