"""OpenID Connect, pure: what a discovery document says, and id_token validation.

Validation uses joserfc (signature against the issuer's JWKS, then `iss`, `aud`, `exp`
and the `nonce` that `auth.url` sent); nothing here touches the cryptography itself.
"""

from __future__ import annotations

from typing import Any

from .errors import ConfigError, IdTokenInvalid, NetworkError, printable
from .providers import Provider
from .urls import is_secure

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")


def discovery_url(issuer: str) -> str:
    """Where an issuer's discovery document lives (OpenID Connect Discovery §4)."""
    issuer = issuer.rstrip("/")
    if not is_secure(issuer):
        raise ConfigError(
            f"issuer {issuer!r} must be an https:// URL",
            "pass the issuer exactly as the provider documents it",
        )
    return issuer + "/.well-known/openid-configuration"


def overrides_from_metadata(meta: Any, issuer: str) -> dict[str, Any]:
    """Provider facts from an issuer's discovery document, as provider overrides."""
    issuer = issuer.rstrip("/")
    if not isinstance(meta, dict):
        raise NetworkError(
            f"{issuer} has no OpenID Connect discovery document (the answer is not a JSON object)",
            "check the issuer URL",
        )
    named = meta.get("issuer")
    if not isinstance(named, str) or named.rstrip("/") != issuer:
        raise ConfigError(
            f"the discovery document names issuer {printable(named, 200)!r}, not {issuer!r}",
            "pass the issuer the document names",
        )
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(meta.get(key), str) or not meta[key]:
            raise NetworkError(
                f"the discovery document lacks {key}",
                "this issuer cannot be used for the authorization code flow",
            )
    methods = meta.get("code_challenge_methods_supported")
    overrides: dict[str, Any] = {
        "oidc": True,
        "issuer": issuer,
        "authorize_url": meta["authorization_endpoint"],
        "token_url": meta["token_endpoint"],
        "jwks_uri": meta["jwks_uri"],
        "api_base": issuer,
        "pkce": not isinstance(methods, list) or "S256" in methods,
    }
    optional = {
        "userinfo_endpoint": "user_url",
        "device_authorization_endpoint": "device_url",
        "revocation_endpoint": "revocation_url",
    }
    for key, field in optional.items():
        if isinstance(meta.get(key), str) and meta[key]:
            overrides[field] = meta[key]
    if "revocation_url" in overrides:
        overrides["revocation_style"] = "rfc7009"
    methods = meta.get("token_endpoint_auth_methods_supported")
    if not isinstance(methods, list):
        methods = ["client_secret_basic"]
    if "client_secret_basic" in methods:
        overrides["client_auth"] = "client_secret_basic"
    elif "client_secret_post" in methods:
        overrides["client_auth"] = "client_secret_post"
    for key in URL_KEYS:
        if key in overrides and not is_secure(overrides[key]):
            raise ConfigError(
                f"the discovery document's {key} {printable(overrides[key], 200)!r} is neither "
                "https nor http on a loopback host",
                "this issuer cannot be used safely; check the issuer URL",
            )
    return overrides


URL_KEYS = ("authorize_url", "token_url", "jwks_uri", "user_url", "device_url", "revocation_url")


def validate_id_token(
    id_token: str, jwks: Any, provider: Provider, client_id: str, nonce: str | None
) -> dict[str, Any]:
    """The id_token's claims, once its signature (against the issuer's `jwks`), issuer,
    audience, expiry and nonce hold."""
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    try:
        keys = KeySet.import_key_set(jwks)
    except (ValueError, TypeError, KeyError, AttributeError, JoseError) as exc:
        raise NetworkError(
            f"unreadable JWKS at {provider.jwks_uri}", "check the provider's jwks_uri"
        ) from exc
    try:
        token = jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
    except (JoseError, ValueError) as exc:
        raise _invalid(f"its signature does not verify ({getattr(exc, 'error', exc)})") from exc
    expected: dict[str, Any] = {
        "iss": {"essential": True, "value": provider.issuer},
        "aud": {"essential": True, "value": client_id},
        "exp": {"essential": True},
    }
    if nonce:
        expected["nonce"] = {"essential": True, "value": nonce}
    try:
        jwt.JWTClaimsRegistry(leeway=60, **expected).validate(token.claims)
    except JoseError as exc:
        claim = getattr(exc, "claim", "") or str(exc)
        raise _invalid(f"claim {claim} is wrong ({exc.error})") from exc
    return dict(token.claims)


def _invalid(why: str) -> IdTokenInvalid:
    return IdTokenInvalid(
        f"the id_token is not valid: {why}; nothing was stored",
        "start the login again; if it keeps failing, check the issuer and "
        "client_id (`invoke auth.status`)",
    )
