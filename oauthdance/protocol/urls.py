"""Where oauthdance may send secrets: https anywhere, plain http only to this machine.

Pure functions, imported by the provider records (checked when they are loaded) and by the
HTTP layer (checked again before anything is sent).
"""

from __future__ import annotations

from urllib.parse import urlsplit

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def is_loopback(host: str | None) -> bool:
    return (host or "").strip("[]").lower() in LOOPBACK_HOSTS


def is_secure(url: str) -> bool:
    """https with a host, or http on a loopback host (RFC 8252 §7.3, RFC 6749 §3.1)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme == "https":
        return bool(host)
    return parts.scheme == "http" and is_loopback(host)


def origin(url: str) -> tuple[str, str]:
    """(scheme, host:port): the unit a token is bound to. A URL that does not parse (a
    hostile `Link` header's `http://[::1`) has none, and matches no real one."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "", ""
    return parts.scheme, parts.netloc.lower()
