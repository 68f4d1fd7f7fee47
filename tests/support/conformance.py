"""Comparing what two faces stored, and the browser's part against a server that approves
at once: shared by the tests that run the same dance as Python calls and as tasks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

# What differs between two runs of the same dance: secrets, random values, and times (these
# besides every `*_at`, which is a time: `created_at`, `code_received_at`, ...).
# Everything else (keys, owners, scopes, the default owner, the client) must be the same.
VARYING = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "code",
        "code_verifier",
        "nonce",
        "state",
        # an id_token's own times and hashes
        "iat",
        "exp",
        "auth_time",
        "at_hash",
        "c_hash",
        "jti",
    }
)
SECRET = frozenset(
    {"access_token", "refresh_token", "id_token", "client_secret", "code", "code_verifier"}
)
BY_STATE = frozenset({"pending", "unverified"})  # parts of a record keyed by a random state


def masked(data: Any) -> Any:
    """`data` with every varying value replaced by what kind of value it was (so a missing
    token still differs from a present one), a masked token by its kind (`ghu_****`), and
    states, as keys, by their order."""
    if isinstance(data, dict):
        shown: dict[str, Any] = {}
        for key, value in data.items():
            if key in BY_STATE and isinstance(value, dict):
                shown[key] = {f"<state {i}>": masked(v) for i, v in enumerate(value.values())}
            elif key == "token" and isinstance(value, str) and "****" in value:
                shown[key] = value.partition("****")[0] + "****"  # a result's: kind kept
            elif (key in VARYING or key.endswith("_at")) and value not in (None, ""):
                shown[key] = f"<{type(value).__name__}>"
            else:
                shown[key] = masked(value)
        return shown
    if isinstance(data, list):
        return [masked(item) for item in data]
    return data


def stored(path: Path) -> dict[str, Any]:
    """The credentials file as JSON, exactly as written (no store's reading in between)."""
    return json.loads(path.read_text())


def secrets_of(data: Any) -> set[str]:
    """Every secret value in a stored file: what no result may show."""
    found: set[str] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            if key in SECRET:
                if isinstance(value, str) and value:
                    found.add(value)
            else:
                found |= secrets_of(value)
    elif isinstance(data, list):
        for item in data:
            found |= secrets_of(item)
    return found


def redirect_for(url: str) -> str:
    """The browser's part where the authorize endpoint approves at once (Authlib's test
    server): open the URL, and where it redirects is the address the user would paste."""
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]
