"""OpenID Connect signing for the sandbox: one RSA key, its JWKS, and signed id_tokens.

joserfc does the cryptography. It is imported where it is used, so a sandbox that never
meets `openid` (and the CLI's start-up) does not pay for loading it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from joserfc.jwk import RSAKey


class IdTokenSigner:
    """Signs id_tokens with one RSA key and publishes its public half as a JWKS."""

    def __init__(self) -> None:
        self._key: RSAKey | None = None
        self._lock = threading.Lock()

    def key(self) -> RSAKey:
        """The signing key, made on first use: generating one takes a noticeable moment."""
        from joserfc.jwk import RSAKey

        with self._lock:
            if self._key is None:
                self._key = RSAKey.generate_key(2048, auto_kid=True)
            return self._key

    def jwks(self) -> dict[str, Any]:
        """The key set `/oauth/jwks` serves, so clients can check the signatures."""
        from joserfc.jwk import KeySet

        return dict(KeySet([self.key()]).as_dict(private=False))

    def sign(self, claims: dict[str, Any], fault: str | None = None) -> str:
        """The claims as an RS256 id_token; `fault` spoils one part of it, so tests see a
        client refuse it: "signature", "audience", "expired" or "nonce"."""
        from joserfc import jwt
        from joserfc.jwk import RSAKey

        ours = key = self.key()
        claims = dict(claims)
        if fault == "audience":
            claims["aud"] = "someone-else"
        elif fault == "expired":
            claims["exp"] = claims["iat"] - 3600
        elif fault == "nonce":
            claims["nonce"] = "not-the-nonce-that-was-sent"
        elif fault == "signature":
            key = RSAKey.generate_key(2048, auto_kid=False)  # the header still names ours
        return jwt.encode({"alg": "RS256", "kid": ours.kid}, claims, key)
