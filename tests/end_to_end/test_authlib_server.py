"""Self-test of the Authlib-based authorization server (tests/support/authlib_server.py).

The server is only worth something as an independent reference if it works, so this proves
it with plain `requests` (never oauthdance): every flow for every client, both metadata
documents, the pure-OAuth mode, RFC 9207's `iss`, and each fault doing what it says. The
helpers here (PKCE, HTTP Basic encoding, id_token checks with joserfc) are written from the
RFCs, independently of both the server module and oauthdance.

The last section pins what Authlib does differently from the RFCs, so that a change in
Authlib shows up here first.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest
import requests
import yaml
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.authlib_server import (
    BASIC,
    CLIENTS,
    DEFAULT_SCOPE,
    POST,
    PUBLIC,
    USERS,
    WRONG_ISSUER,
    AuthlibServer,
    ClientSpec,
)

TIMEOUT = 5
CALLBACK = "http://127.0.0.1:53682/callback"  # registered without a port (RFC 8252 §7.3)
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
NONCE = "n-0S6_WzA2Mj"
EXPECTED_AUTH = {"client_secret_basic": "basic", "client_secret_post": "post", "none": "none"}


@pytest.fixture
def server() -> Iterator[AuthlibServer]:
    with AuthlibServer() as running:
        yield running
        assert running.errors == []


# -- a client written from the RFCs ------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge), RFC 7636 §4.1-4.2."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def basic_header(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: each part form-urlencoded, joined by a colon, then base64."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def authenticate(client: ClientSpec) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, form fields) that authenticate `client` by its registered method."""
    if client.auth_method == "client_secret_basic":
        return {"Authorization": basic_header(client.client_id, client.client_secret or "")}, {}
    if client.auth_method == "client_secret_post":
        return {}, {"client_id": client.client_id, "client_secret": client.client_secret or ""}
    return {}, {"client_id": client.client_id}


def post_as(server: AuthlibServer, path: str, client: ClientSpec, **form: str) -> requests.Response:
    headers, auth_form = authenticate(client)
    return requests.post(
        server.url + path, data={**form, **auth_form}, headers=headers, timeout=TIMEOUT
    )


def redirect_params(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(CALLBACK + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def authorize(
    server: AuthlibServer,
    client: ClientSpec,
    *,
    scope: str = DEFAULT_SCOPE,
    challenge: str | None = None,
    nonce: str | None = None,
    state: str = "af0ifjsldkj",
    redirect_uri: str = CALLBACK,
) -> requests.Response:
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
    }
    # A fresh nonce by default: Authlib refuses one that a pending code already carries.
    params["nonce"] = nonce or secrets.token_urlsafe(12)
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return requests.get(
        server.url + "/authorize", params=params, allow_redirects=False, timeout=TIMEOUT
    )


def code_flow(
    server: AuthlibServer, client: ClientSpec, *, scope: str = DEFAULT_SCOPE, pkce: bool = True
) -> dict[str, Any]:
    """The authorization code flow up to the token response (checked to be a success)."""
    verifier, challenge = pkce_pair() if pkce else (None, None)
    answer = authorize(server, client, scope=scope, challenge=challenge, nonce=NONCE)
    params = redirect_params(answer)
    assert params["state"] == "af0ifjsldkj"
    form = {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": CALLBACK}
    if verifier:
        form["code_verifier"] = verifier
    response = post_as(server, "/token", client, **form)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    return response.json()


def refresh(server: AuthlibServer, client: ClientSpec, refresh_token: str) -> requests.Response:
    return post_as(
        server, "/token", client, grant_type="refresh_token", refresh_token=refresh_token
    )


def introspect(server: AuthlibServer, client: ClientSpec, token: str) -> dict[str, Any]:
    response = post_as(server, "/introspect", client, token=token)
    assert response.status_code == 200, response.text
    return response.json()


def userinfo(server: AuthlibServer, access_token: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {access_token}"}
    return requests.get(server.url + "/userinfo", headers=headers, timeout=TIMEOUT)


def id_token_claims(server: AuthlibServer, id_token: str) -> dict[str, Any]:
    """The claims of `id_token` once its RS256 signature checks out against /jwks."""
    jwks = requests.get(server.url + "/jwks", timeout=TIMEOUT).json()
    decoded = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert decoded.header["alg"] == "RS256"
    assert decoded.header["kid"] in {key["kid"] for key in jwks["keys"]}
    return dict(decoded.claims)


def check_id_token(
    server: AuthlibServer, id_token: str, client: ClientSpec, user: str, nonce: str | None
) -> dict[str, Any]:
    claims = id_token_claims(server, id_token)
    now = time.time()
    assert claims["iss"] == server.url
    assert claims["aud"] == client.client_id
    assert claims["exp"] > now >= claims["iat"] - 5
    assert claims.get("nonce") == nonce
    assert claims["sub"] == USERS[user].sub
    assert claims["preferred_username"] == user
    assert claims["email"] == USERS[user].email
    return claims


def device_start(
    server: AuthlibServer, client: ClientSpec, scope: str = DEFAULT_SCOPE
) -> dict[str, Any]:
    response = post_as(server, "/device_authorization", client, scope=scope)
    assert response.status_code == 200, response.text
    return response.json()


def device_poll(server: AuthlibServer, client: ClientSpec, device_code: str) -> requests.Response:
    return post_as(server, "/token", client, grant_type=DEVICE_GRANT, device_code=device_code)


# -- the flows, for every client ---------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS, ids=lambda c: c.auth_method)
def test_code_flow_then_the_whole_token_lifecycle(
    server: AuthlibServer, client: ClientSpec
) -> None:
    # PKCE for the public client (required) and for BASIC; POST shows it is optional.
    token = code_flow(server, client, pkce=client is not POST)
    assert server.last_client_auth() == EXPECTED_AUTH[client.auth_method]
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    assert token["scope"] == DEFAULT_SCOPE
    first = check_id_token(server, token["id_token"], client, "alice", NONCE)

    me = userinfo(server, token["access_token"])
    assert me.status_code == 200
    assert me.json() == {
        "sub": "1001",
        "preferred_username": "alice",
        "email": "alice@example.test",
    }

    # Refresh rotates: a new pair, and the old refresh token is then refused.
    renewed = refresh(server, client, token["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    new = renewed.json()
    assert new["access_token"] != token["access_token"]
    assert new["refresh_token"] != token["refresh_token"]
    again = refresh(server, client, token["refresh_token"])
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    # A new id_token too (Authlib's OpenIDToken on the refresh grant): same subject and
    # authentication time, no nonce (OIDC Core §12.2).
    renewed_claims = check_id_token(server, new["id_token"], client, "alice", None)
    assert renewed_claims["auth_time"] == first["auth_time"]

    facts = introspect(server, client, new["access_token"])
    assert facts["active"] is True
    assert facts["scope"] == DEFAULT_SCOPE
    assert facts["client_id"] == client.client_id
    assert (facts["username"], facts["sub"], facts["token_type"]) == ("alice", "1001", "Bearer")
    assert facts["exp"] > time.time()
    assert server.last_client_auth("introspection") == EXPECTED_AUTH[client.auth_method]

    # Revoking the access token leaves the refresh token; revoking that ends both.
    assert post_as(server, "/revoke", client, token=new["access_token"]).status_code == 200
    assert server.last_client_auth("revocation") == EXPECTED_AUTH[client.auth_method]
    assert introspect(server, client, new["access_token"]) == {"active": False}
    assert userinfo(server, new["access_token"]).status_code == 401
    assert introspect(server, client, new["refresh_token"])["active"] is True
    revoked = post_as(
        server, "/revoke", client, token=new["refresh_token"], token_type_hint="refresh_token"
    )
    assert revoked.status_code == 200
    assert introspect(server, client, new["refresh_token"]) == {"active": False}
    assert refresh(server, client, new["refresh_token"]).json()["error"] == "invalid_grant"
    assert server.errors == []


def test_basic_credentials_are_recorded_as_sent(server: AuthlibServer) -> None:
    code_flow(server, BASIC)
    sent = server.requests_to("/token")[-1]
    assert sent.method == "POST"
    assert sent.form["grant_type"] == "authorization_code"
    assert sent.basic_credentials == (BASIC.client_id, "p%40ss%3Aword%2B%2F%3D%26%25%3Fx")
    assert [r.path for r in server.requests][:2] == ["/authorize", "/token"]


@pytest.mark.parametrize("client", [BASIC, POST], ids=lambda c: c.auth_method)
def test_a_confidential_client_must_use_its_registered_method(
    server: AuthlibServer, client: ClientSpec
) -> None:
    other = POST if client is BASIC else BASIC
    wrong_method = ClientSpec(client.client_id, client.client_secret, other.auth_method)
    params = redirect_params(authorize(server, client))
    form = {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": CALLBACK}
    for impostor in (
        wrong_method,
        ClientSpec(client.client_id, "not-the-secret", client.auth_method),
        ClientSpec(client.client_id, None, "none"),
    ):
        answer = post_as(server, "/token", impostor, **form)
        assert answer.json()["error"] == "invalid_client", impostor
        assert server.last_client_auth() is None
    assert post_as(server, "/token", client, **form).status_code == 200  # the code survived


def test_pkce_is_checked(server: AuthlibServer) -> None:
    _, challenge = pkce_pair()
    params = redirect_params(authorize(server, PUBLIC, challenge=challenge))
    form = {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": CALLBACK}
    wrong = post_as(server, "/token", PUBLIC, **form, code_verifier=pkce_pair()[0])
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    missing = post_as(server, "/token", PUBLIC, **form)
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    plain = requests.get(
        server.url + "/authorize",
        params={
            "response_type": "code",
            "client_id": PUBLIC.client_id,
            "redirect_uri": CALLBACK,
            "code_challenge": "x" * 43,
            "code_challenge_method": "plain",
        },
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert redirect_params(plain)["error"] == "invalid_request"


def test_a_code_is_good_once_and_bound_to_its_redirect_uri(server: AuthlibServer) -> None:
    params = redirect_params(authorize(server, POST))
    form = {"grant_type": "authorization_code", "code": params["code"]}
    elsewhere = post_as(server, "/token", POST, **form, redirect_uri=CALLBACK + "/x")
    assert elsewhere.json()["error"] == "invalid_grant"
    assert post_as(server, "/token", POST, **form, redirect_uri=CALLBACK).status_code == 200
    replay = post_as(server, "/token", POST, **form, redirect_uri=CALLBACK)
    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")


def test_any_loopback_port_but_nothing_else(server: AuthlibServer) -> None:
    for port in (1024, 49152, 65535):
        uri = f"http://127.0.0.1:{port}/callback"
        answer = authorize(server, BASIC, redirect_uri=uri)
        assert answer.headers["Location"].startswith(uri + "?code="), answer.text
    for uri in (
        "http://127.0.0.1:53682/elsewhere",
        "http://localhost:53682/callback",
        "https://127.0.0.1:53682/callback",
        "http://127.0.0.2:53682/callback",
        "http://127.0.0.1:53682/callback?extra=1",
        "http://evil@127.0.0.1:53682/callback",
    ):
        answer = authorize(server, BASIC, redirect_uri=uri)
        assert answer.status_code == 400, uri  # never redirected to an unregistered URI
        assert answer.json()["error"] == "invalid_request"


def test_the_approving_user_and_a_denial(server: AuthlibServer) -> None:
    server.approving_user = "bob"
    token = code_flow(server, POST)
    check_id_token(server, token["id_token"], POST, "bob", NONCE)
    assert userinfo(server, token["access_token"]).json()["preferred_username"] == "bob"
    server.deny = True
    params = redirect_params(authorize(server, POST))
    assert params["error"] == "access_denied"
    assert params["state"] == "af0ifjsldkj"
    assert "code" not in params


# -- the device flow ---------------------------------------------------------------------------


@pytest.mark.parametrize("client", [BASIC, PUBLIC], ids=lambda c: c.auth_method)
def test_device_flow(server: AuthlibServer, client: ClientSpec) -> None:
    start = device_start(server, client)
    assert server.last_client_auth("device_authorization") == EXPECTED_AUTH[client.auth_method]
    assert start["verification_uri"] == server.url + "/device"
    assert start["interval"] == 5
    assert start["expires_in"] > 0
    assert requests.get(start["verification_uri"], timeout=TIMEOUT).status_code == 200

    pending = device_poll(server, client, start["device_code"])
    assert (pending.status_code, pending.json()["error"]) == (400, "authorization_pending")
    too_fast = device_poll(server, client, start["device_code"])
    assert too_fast.json()["error"] == "slow_down"  # polled again at once, interval 5

    server.approve_device(start["user_code"], user="bob")
    granted = device_poll(server, client, start["device_code"])
    assert granted.status_code == 200, granted.text
    token = granted.json()
    assert server.last_client_auth() == EXPECTED_AUTH[client.auth_method]
    assert token["token_type"] == "Bearer"
    assert token["refresh_token"]
    check_id_token(server, token["id_token"], client, "bob", None)
    assert userinfo(server, token["access_token"]).json()["preferred_username"] == "bob"
    assert refresh(server, client, token["refresh_token"]).status_code == 200
    # A device code is redeemed once.
    assert device_poll(server, client, start["device_code"]).status_code == 400


def test_device_flow_without_interval_denial_and_expiry(server: AuthlibServer) -> None:
    server.device_interval = 0
    start = device_start(server, PUBLIC, scope="read")
    assert start["interval"] == 0
    for _ in range(3):
        assert device_poll(server, PUBLIC, start["device_code"]).json()["error"] == (
            "authorization_pending"
        )
    server.deny_device(start["user_code"])
    assert device_poll(server, PUBLIC, start["device_code"]).json()["error"] == "access_denied"

    late = device_start(server, PUBLIC, scope="read")
    server.expire_device(late["user_code"])
    assert device_poll(server, PUBLIC, late["device_code"]).json()["error"] == "expired_token"

    plain = device_start(server, PUBLIC, scope="read")  # no openid: no id_token
    server.approve_device(plain["user_code"])
    token = device_poll(server, PUBLIC, plain["device_code"]).json()
    assert token["scope"] == "read"
    assert "id_token" not in token


def test_device_authorization_authenticates_confidential_clients(server: AuthlibServer) -> None:
    for impostor in (
        ClientSpec(BASIC.client_id, None, "none"),
        ClientSpec(BASIC.client_id, "not-the-secret", "client_secret_basic"),
        ClientSpec(POST.client_id, None, "none"),
    ):
        answer = post_as(server, "/device_authorization", impostor, scope="read")
        assert answer.json()["error"] == "invalid_client", impostor
    assert device_start(server, POST)["device_code"]
    assert server.last_client_auth("device_authorization") == "post"
    # And the poll needs the secret too.
    start = device_start(server, BASIC)
    server.approve_device(start["user_code"])
    as_public = ClientSpec(BASIC.client_id, None, "none")
    assert device_poll(server, as_public, start["device_code"]).json()["error"] == "invalid_client"
    assert device_poll(server, BASIC, start["device_code"]).status_code == 200


# -- metadata, modes, switches -----------------------------------------------------------------


def test_both_metadata_documents(server: AuthlibServer) -> None:
    url = server.url
    oidc = requests.get(url + "/.well-known/openid-configuration", timeout=TIMEOUT).json()
    oauth = requests.get(url + "/.well-known/oauth-authorization-server", timeout=TIMEOUT).json()
    assert oidc == oauth
    assert oauth["issuer"] == url
    endpoints = {
        "authorization_endpoint": "/authorize",
        "token_endpoint": "/token",
        "userinfo_endpoint": "/userinfo",
        "jwks_uri": "/jwks",
        "device_authorization_endpoint": "/device_authorization",
        "revocation_endpoint": "/revoke",
        "introspection_endpoint": "/introspect",
    }
    assert {name: oauth[name] for name in endpoints} == {
        name: url + path for name, path in endpoints.items()
    }
    methods = ["client_secret_basic", "client_secret_post", "none"]
    assert oauth["code_challenge_methods_supported"] == ["S256"]
    assert oauth["token_endpoint_auth_methods_supported"] == methods
    assert oauth["revocation_endpoint_auth_methods_supported"] == methods
    assert oauth["introspection_endpoint_auth_methods_supported"] == methods
    assert oauth["authorization_response_iss_parameter_supported"] is False
    assert set(oauth["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        DEVICE_GRANT,
    }
    assert oauth["response_types_supported"] == ["code"]
    assert {"openid", "profile", "email", "offline_access"} <= set(oauth["scopes_supported"])
    assert oauth["id_token_signing_alg_values_supported"] == ["RS256"]
    assert oauth["subject_types_supported"] == ["public"]
    jwks = requests.get(oauth["jwks_uri"], timeout=TIMEOUT).json()
    assert [key["kty"] for key in jwks["keys"]] == ["RSA"]
    assert "d" not in jwks["keys"][0]  # public only


def test_pure_oauth_mode() -> None:
    with AuthlibServer(oidc=False) as server:
        url = server.url
        for absent in ("/.well-known/openid-configuration", "/jwks"):
            assert requests.get(url + absent, timeout=TIMEOUT).status_code == 404
        meta = requests.get(url + "/.well-known/oauth-authorization-server", timeout=TIMEOUT).json()
        assert meta["issuer"] == url
        assert "openid" not in meta["scopes_supported"]
        assert not {"jwks_uri", "userinfo_endpoint", "id_token_signing_alg_values_supported"} & set(
            meta
        )
        refused = redirect_params(authorize(server, BASIC, scope="openid profile"))
        assert refused["error"] == "invalid_scope"

        token = code_flow(server, BASIC, scope="profile email offline_access read")
        assert "id_token" not in token
        assert token["scope"] == "profile email offline_access read"
        assert userinfo(server, token["access_token"]).json()["preferred_username"] == "alice"
        renewed = refresh(server, BASIC, token["refresh_token"]).json()
        assert "id_token" not in renewed
        assert yaml.safe_load(server.providers_yaml())["authlib"]["oidc"] is False
        assert server.errors == []


def test_iss_in_the_authorization_response(server: AuthlibServer) -> None:
    assert "iss" not in redirect_params(authorize(server, BASIC))
    server.send_iss = True
    assert redirect_params(authorize(server, BASIC))["iss"] == server.url
    meta = requests.get(server.url + "/.well-known/oauth-authorization-server", timeout=TIMEOUT)
    assert meta.json()["authorization_response_iss_parameter_supported"] is True
    server.deny = True  # RFC 9207 §2: error responses carry it too
    denied = redirect_params(authorize(server, BASIC))
    assert (denied["error"], denied["iss"]) == ("access_denied", server.url)
    unknown_scope = redirect_params(authorize(server, BASIC, scope="openid admin"))
    assert (unknown_scope["error"], unknown_scope["iss"]) == ("invalid_scope", server.url)
    server.deny = False
    server.wrong_iss = True
    assert redirect_params(authorize(server, BASIC))["iss"] == WRONG_ISSUER


@pytest.mark.parametrize("fault", ["no_sub", "several_aud_no_azp", "wrong_aud", "missing", None])
def test_id_token_faults(server: AuthlibServer, fault: str | None) -> None:
    server.id_token_fault = fault  # type: ignore[assignment]
    token = code_flow(server, BASIC)
    if fault == "missing":
        assert "id_token" not in token
        assert token["scope"] == DEFAULT_SCOPE  # openid was asked and granted
        return
    claims = id_token_claims(server, token["id_token"])  # still signed correctly
    assert claims["iss"] == server.url
    assert ("sub" in claims) == (fault != "no_sub")
    assert "azp" not in claims
    if fault == "several_aud_no_azp":
        assert isinstance(claims["aud"], list)
        assert BASIC.client_id in claims["aud"]
        assert len(claims["aud"]) == 2
    elif fault == "wrong_aud":
        assert claims["aud"] != BASIC.client_id
        assert BASIC.client_id not in claims["aud"]
    else:
        assert claims["aud"] == BASIC.client_id


@pytest.mark.parametrize("fault", ["mac", "missing"])
def test_token_type_fault(server: AuthlibServer, fault: str) -> None:
    server.token_type_fault = fault
    token = code_flow(server, POST)
    assert token.get("token_type") == (None if fault == "missing" else "mac")
    assert userinfo(server, token["access_token"]).status_code == 200  # still a bearer token


def test_userinfo_switches(server: AuthlibServer) -> None:
    token = code_flow(server, PUBLIC)
    assert userinfo(server, "no-such-token").status_code == 401
    server.userinfo = "forbidden"
    forbidden = userinfo(server, token["access_token"])
    assert forbidden.status_code == 403
    assert forbidden.json()["error"] == "insufficient_scope"
    server.userinfo = "absent"
    assert userinfo(server, token["access_token"]).status_code == 404
    meta = requests.get(server.url + "/.well-known/openid-configuration", timeout=TIMEOUT).json()
    assert "userinfo_endpoint" not in meta
    assert "user_url" not in yaml.safe_load(server.providers_yaml())["authlib"]


def test_providers_yaml(server: AuthlibServer) -> None:
    entry = yaml.safe_load(server.providers_yaml(name="ref", client_auth="client_secret_post"))
    url = server.url
    assert entry["ref"] == entry["ref"] | {
        "authorize_url": f"{url}/authorize",
        "token_url": f"{url}/token",
        "device_url": f"{url}/device_authorization",
        "api_base": url,
        "user_url": f"{url}/userinfo",
        "login_field": ["preferred_username", "email", "sub"],
        "client_auth": "client_secret_post",
        "revocation_url": f"{url}/revoke",
        "revocation_style": "rfc7009",
        "any_loopback_port": True,
        "default_scope": "openid profile email offline_access",
        "oidc": True,
        "issuer": url,
        "jwks_uri": f"{url}/jwks",
    }
    with pytest.raises(ValueError):
        server.providers_yaml(client_auth="private_key_jwt")


# -- where Authlib (1.9) departs from the RFCs: pinned, so a change shows up here ---------------


def test_authlib_defers_required_pkce_to_the_token_endpoint(server: AuthlibServer) -> None:
    # RFC 7636 §4.4.1 wants invalid_request at the authorization endpoint when a client that
    # must use PKCE sends no code_challenge; Authlib issues the code and refuses it later.
    params = redirect_params(authorize(server, PUBLIC))
    assert "code" in params
    form = {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": CALLBACK}
    assert post_as(server, "/token", PUBLIC, **form).json()["error"] == "invalid_request"


def test_authlib_reads_an_omitted_challenge_method_as_plain(server: AuthlibServer) -> None:
    # Only S256 is advertised, but a code_challenge without code_challenge_method takes
    # RFC 7636's default, "plain", and Authlib's SUPPORTED list does not cover that default.
    verifier = secrets.token_urlsafe(48)
    answer = requests.get(
        server.url + "/authorize",
        params={
            "response_type": "code",
            "client_id": PUBLIC.client_id,
            "redirect_uri": CALLBACK,
            "code_challenge": verifier,
        },
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    form = {"grant_type": "authorization_code", "redirect_uri": CALLBACK}
    form |= {"code": redirect_params(answer)["code"], "code_verifier": verifier}
    assert post_as(server, "/token", PUBLIC, **form).status_code == 200


def test_authlib_also_accepts_basic_credentials_not_form_urlencoded(server: AuthlibServer) -> None:
    # Authlib percent-decodes Basic credentials with unquote (not unquote_plus), so this
    # secret passes raw as well as encoded: the server cannot tell a client that skips
    # RFC 6749 §2.3.1's encoding. RecordedRequest.basic_credentials can.
    params = redirect_params(authorize(server, BASIC))
    form = {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": CALLBACK}
    raw = (BASIC.client_id, BASIC.client_secret or "")
    answer = requests.post(server.url + "/token", data=form, auth=raw, timeout=TIMEOUT)
    assert answer.status_code == 200
    assert server.requests_to("/token")[-1].basic_credentials == raw


def test_authlib_refuses_an_unknown_token_type_hint(server: AuthlibServer) -> None:
    # RFC 7009 §2.1 and RFC 7662 §2.1: the server may ignore the hint and must search
    # further; Authlib answers 401 unsupported_token_type for a hint it does not know.
    token = code_flow(server, POST)
    for path in ("/revoke", "/introspect"):
        answer = post_as(server, path, POST, token=token["access_token"], token_type_hint="jwt")
        assert (answer.status_code, answer.json()["error"]) == (401, "unsupported_token_type")


def test_the_server_stops_cleanly_and_needs_no_insecure_transport_switch() -> None:
    with AuthlibServer() as server:
        url = server.url
        assert "AUTHLIB_INSECURE_TRANSPORT" not in os.environ  # loopback http is secure enough
        assert requests.get(url + "/device", timeout=TIMEOUT).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/device", timeout=TIMEOUT)
