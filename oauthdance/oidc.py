"""OpenID Connect: discovery of an issuer's endpoints, and id_token validation.

Validation uses joserfc (signature against the issuer's JWKS, then `iss`, `aud`, `exp`
and the `nonce` that `auth.url` sent); nothing here touches the cryptography itself.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .errors import AuthorizationError, ConfigError, NetworkError
from .http import send
from .oauth import is_loopback
from .providers import Provider

DEFAULT_SCOPE = "openid profile email"
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")


class IdTokenInvalid(AuthorizationError):
    """The id_token that came with the token failed validation."""


def discover(issuer: str) -> dict[str, Any]:
    """Provider facts from `{issuer}/.well-known/openid-configuration`, as overrides."""
    issuer = issuer.rstrip("/")
    parts = urlsplit(issuer)
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(parts.hostname)):
        raise ConfigError(
            f"issuer {issuer!r} must be an https:// URL",
            "pass the issuer exactly as the provider documents it",
        )
    response = send(
        "GET", issuer + "/.well-known/openid-configuration", headers={"Accept": "application/json"}
    )
    try:
        meta = response.json()
        if response.status_code != 200 or not isinstance(meta, dict):
            raise ValueError
    except ValueError as exc:
        raise NetworkError(
            f"{issuer} has no OpenID Connect discovery document (HTTP {response.status_code})",
            "check the issuer URL",
        ) from exc
    if meta.get("issuer", "").rstrip("/") != issuer:
        raise ConfigError(
            f"the discovery document names issuer {meta.get('issuer')!r}, not {issuer!r}",
            "pass the issuer the document names",
        )
    missing = [
        k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not meta.get(k)
    ]
    if missing:
        raise NetworkError(
            f"the discovery document lacks {', '.join(missing)}",
            "this issuer cannot be used for the authorization code flow",
        )
    overrides: dict[str, Any] = {
        "oidc": True,
        "issuer": issuer,
        "authorize_url": meta["authorization_endpoint"],
        "token_url": meta["token_endpoint"],
        "jwks_uri": meta["jwks_uri"],
        "api_base": issuer,
        "pkce": "S256" in (meta.get("code_challenge_methods_supported") or ["S256"]),
    }
    optional = {
        "userinfo_endpoint": "user_url",
        "device_authorization_endpoint": "device_url",
        "revocation_endpoint": "revocation_url",
    }
    for key, field in optional.items():
        if meta.get(key):
            overrides[field] = meta[key]
    if "revocation_url" in overrides:
        overrides["revocation_style"] = "rfc7009"
    methods = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    if "client_secret_basic" in methods:
        overrides["client_auth"] = "client_secret_basic"
    elif "client_secret_post" in methods:
        overrides["client_auth"] = "client_secret_post"
    return overrides


def validate_id_token(
    id_token: str, provider: Provider, client_id: str, nonce: str | None
) -> dict[str, Any]:
    """The id_token's claims, once its signature, issuer, audience, expiry and nonce hold."""
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    if not provider.jwks_uri or not provider.issuer:
        raise ConfigError(
            f"{provider.name} has no issuer/jwks_uri to check id_tokens against",
            f"run `invoke auth.configure -p {provider.name} --issuer URL`",
        )
    response = send("GET", provider.url(provider.jwks_uri), headers={"Accept": "application/json"})
    try:
        keys = KeySet.import_key_set(response.json())
    except (ValueError, JoseError) as exc:
        raise NetworkError(f"unreadable JWKS at {provider.jwks_uri}", "check jwks_uri") from exc
    try:
        token = jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
    except JoseError as exc:
        raise _invalid(f"its signature does not verify ({exc.error})") from exc
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
