"""OpenID Connect, pure: what a discovery document says, and id_token validation.

Validation uses joserfc (signature against the issuer's JWKS, then `iss`, `aud`, `exp`
and the `nonce` that `auth.url` sent); nothing here touches the cryptography itself.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from oauthdance.base.advice import Command, Hint
from oauthdance.base.errors import ConfigError, IdTokenInvalid, NetworkError, printable
from oauthdance.protocol.providers import Provider
from oauthdance.protocol.urls import is_secure

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")


def metadata_urls(issuer: str) -> list[tuple[str, bool]]:
    """Where an issuer's metadata may live, in the order to try: (URL, is OpenID Connect).

    OpenID Connect Discovery §4 appends to the issuer; RFC 8414 §3 inserts its well-known
    name between the host and the issuer's path.
    """
    issuer = issuer.rstrip("/")
    if not is_secure(issuer):
        raise ConfigError(
            f"issuer {issuer!r} must be an https:// URL",
            "pass the issuer exactly as the provider documents it",
        )
    parts = urlsplit(issuer)
    rfc8414 = f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server"
    return [
        (issuer + "/.well-known/openid-configuration", True),
        (rfc8414 + parts.path, False),
    ]


# Metadata name → provider field, for the endpoints that are used when present.
OPTIONAL_ENDPOINTS = {
    "userinfo_endpoint": "user_url",
    "device_authorization_endpoint": "device_url",
    "revocation_endpoint": "revocation_url",
    "introspection_endpoint": "introspection_url",
    "end_session_endpoint": "end_session_url",
    "jwks_uri": "jwks_uri",
}


def overrides_from_metadata(meta: Any, issuer: str, *, openid: bool = True) -> dict[str, Any]:
    """Provider facts from an issuer's metadata, as provider overrides.

    `openid`: the document was OpenID Connect's, so id_tokens are expected (and a JWKS is
    required); RFC 8414 metadata describes a plain OAuth 2.0 server. Client authentication
    is not chosen here: the methods the server takes are kept, and the client chooses by
    whether it has a secret (an explicit `client_auth` in a providers file still wins).
    """
    issuer = issuer.rstrip("/")
    if not isinstance(meta, dict):
        raise NetworkError(f"{issuer}'s metadata is not a JSON object", "check the issuer URL")
    named = meta.get("issuer")
    if not isinstance(named, str) or named.rstrip("/") != issuer:
        raise ConfigError(
            f"the discovery document names issuer {printable(named, 200)!r}, not {issuer!r}",
            "pass the issuer the document names",
        )
    required = ("authorization_endpoint", "token_endpoint") + (("jwks_uri",) if openid else ())
    for key in required:
        if not isinstance(meta.get(key), str) or not meta[key]:
            raise NetworkError(
                f"the discovery document lacks {key}",
                "this issuer cannot be used for the authorization code flow",
            )
    pkce_methods = meta.get("code_challenge_methods_supported")
    auth_methods = meta.get("token_endpoint_auth_methods_supported")
    overrides: dict[str, Any] = {
        "oidc": openid,
        "issuer": issuer,
        "authorize_url": meta["authorization_endpoint"],
        "token_url": meta["token_endpoint"],
        "api_base": issuer,
        "user_path": "",  # no user endpoint unless the metadata names one
        "pkce": not isinstance(pkce_methods, list) or "S256" in pkce_methods,
        "auth_methods_supported": [m for m in auth_methods if isinstance(m, str)]
        if isinstance(auth_methods, list)
        else ["client_secret_basic"],  # RFC 8414 §2: the default when omitted
        "iss_parameter": meta.get("authorization_response_iss_parameter_supported") is True,
    }
    if not openid:
        overrides["default_scope"] = ""
    for key, field in OPTIONAL_ENDPOINTS.items():
        if isinstance(meta.get(key), str) and meta[key]:
            overrides[field] = meta[key]
    if "revocation_url" in overrides:
        overrides["revocation_style"] = "rfc7009"
    for key in URL_KEYS:
        if key in overrides and not is_secure(overrides[key]):
            raise ConfigError(
                f"the discovery document's {key} {printable(overrides[key], 200)!r} is neither "
                "https nor http on a loopback host",
                "this issuer cannot be used safely; check the issuer URL",
            )
    return overrides


URL_KEYS = ("authorize_url", "token_url", *OPTIONAL_ENDPOINTS.values())


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
        "sub": {"essential": True},
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
    claims = dict(token.claims)
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != client_id:
        # OIDC Core §3.1.3.7: with several audiences, azp must name this client
        raise _invalid("claim azp does not name this client although there are several audiences")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise _invalid("claim sub is missing")
    return claims


def _invalid(why: str) -> IdTokenInvalid:
    return IdTokenInvalid(
        f"the id_token is not valid: {why}; nothing was stored",
        Hint(
            "start the login again; if it keeps failing, check the issuer and client_id ({status})",
            status=Command("auth.status"),
        ),
    )
