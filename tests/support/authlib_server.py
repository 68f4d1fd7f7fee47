"""An independent OAuth 2.0 / OpenID Connect authorization server for tests, built on Authlib.

Why it exists: oauthdance's bundled sandbox agrees with our own reading of the RFCs, so a
misreading shared by the client and the sandbox passes unseen. Here the protocol logic is
Authlib's — its Flask `AuthorizationServer`, the authorization code (`AuthorizationCodeGrant`
with `CodeChallenge` and `OpenIDCode`), refresh token and device code grants, the device
authorization, revocation, introspection and UserInfo endpoints, `ResourceProtector` with
`BearerTokenValidator`, `IssuerParameter` (RFC 9207) and the metadata classes. This module
only wires them to in-memory storage, two users and three clients, and adds test switches.

Beyond that wiring our code shapes protocol behaviour only where Authlib asks the
application to, or on purpose: the faults (`id_token_fault` through Authlib's own id_token
hooks, `token_type_fault` by rewriting the token endpoint's JSON answer), RFC 8252's
any-port loopback match in `check_redirect_uri`, and duties Authlib leaves to storage: a
device code is forgotten once redeemed, `auth_time` survives a refresh (OIDC Core §12.2), a
token introspects only for the client it was issued to. Errors raised at the consent step
get RFC 9207's `iss` by running Authlib's own hook (see `authorize`).

Transport: Authlib 1.9 counts plain http on a loopback address as secure
(`authlib.common.security.is_secure_transport`, RFC 8252 §7.3), so `AUTHLIB_INSECURE_TRANSPORT`
is neither needed nor set: nothing here leaks into other tests' environment.

    with AuthlibServer() as server:
        server.url                     # http://127.0.0.1:PORT, also the issuer
        server.approve_device(user_code, user="bob")
        server.providers_yaml()        # an oauthdance providers-file entry for this server
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
import traceback
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import yaml
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error, rfc8414, rfc9207
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc8628 import (
    DEVICE_CODE_GRANT_TYPE,
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    DeviceCredentialMixin,
)
from authlib.oidc.core import (
    AuthorizationCodeMixin,
    OpenIDCode,
    OpenIDToken,
    UserInfo,
    UserInfoEndpoint,
)
from authlib.oidc.discovery import OpenIDProviderMetadata
from flask import Flask, Response, jsonify
from flask import request as flask_request
from joserfc.jwk import RSAKey
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

AuthMethod = Literal["client_secret_basic", "client_secret_post", "none"]
AUTH_METHODS: tuple[AuthMethod, ...] = ("client_secret_basic", "client_secret_post", "none")
GRANT_TYPES = ("authorization_code", "refresh_token", DEVICE_CODE_GRANT_TYPE)
SCOPES = ("openid", "profile", "email", "offline_access", "read", "write")
DEFAULT_SCOPE = "openid profile email offline_access"
REDIRECT_URI = "http://127.0.0.1/callback"  # any port is accepted (RFC 8252 §7.3)
WRONG_ISSUER = "https://other-issuer.invalid"  # what `wrong_iss` puts in the redirect
ACCESS_TOKEN_LIFETIME = 3600
REFRESH_TOKEN_LIFETIME = 30 * 24 * 3600
CODE_LIFETIME = 600
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1"})

IdTokenFault = Literal["no_sub", "several_aud_no_azp", "wrong_aud", "missing"]
UserinfoMode = Literal["ok", "absent", "forbidden"]
ClientAuthUsed = Literal["basic", "post", "none"]


# -- clients and users ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientSpec:
    """A client registered at start: what a test needs to play it."""

    client_id: str
    client_secret: str | None
    auth_method: AuthMethod

    @property
    def public(self) -> bool:
        return self.auth_method == "none"


BASIC = ClientSpec("authlib-basic", "p@ss:word+/=&%?x", "client_secret_basic")
POST = ClientSpec("authlib-post", "post-secret-5b1f0c", "client_secret_post")
PUBLIC = ClientSpec("authlib-public", None, "none")
CLIENTS = (BASIC, POST, PUBLIC)
CLIENT_BY_AUTH: dict[str, ClientSpec] = {c.auth_method: c for c in CLIENTS}


@dataclass(frozen=True)
class User:
    """A resource owner. `sub` is deliberately not the username."""

    sub: str
    username: str
    email: str

    def get_user_id(self) -> str:
        return self.sub


USERS: dict[str, User] = {
    "alice": User("1001", "alice", "alice@example.test"),
    "bob": User("1002", "bob", "bob@example.test"),
}


def _user_info(user: User, scope: str | None) -> UserInfo:
    """The OIDC claims for `user`, filtered by Authlib to what `scope` grants."""
    claims = UserInfo(sub=user.sub, preferred_username=user.username, email=user.email)
    return claims.filter(scope or "")


# -- storage: Authlib's model mixins over plain objects ----------------------------------------


class _Client(ClientMixin):
    def __init__(self, spec: ClientSpec, scopes: tuple[str, ...]) -> None:
        self.spec = spec
        self.client_id = spec.client_id
        self.scopes = scopes
        self.redirect_uris = (REDIRECT_URI,)
        self.client_metadata: dict[str, Any] = {}  # read by Authlib's UserInfoEndpoint

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        return list_to_scope([s for s in scope_to_list(scope) if s in self.scopes])

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact match, or a loopback IP registration with any port (RFC 8252 §7.3)."""
        if redirect_uri in self.redirect_uris:
            return True
        try:
            got = urlsplit(redirect_uri)
            got.port  # noqa: B018  (raises ValueError on a malformed port)
        except ValueError:
            return False
        for registered in self.redirect_uris:
            want = urlsplit(registered)
            if (
                want.hostname in LOOPBACK_HOSTS
                and got.scheme == want.scheme == "http"
                and got.hostname == want.hostname
                and got.username is None
                and got.path == want.path
                and got.query == want.query
                and not got.fragment
            ):
                return True
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        secret = self.spec.client_secret
        return secret is not None and secrets.compare_digest(
            secret.encode("utf-8"), client_secret.encode("utf-8")
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.spec.auth_method  # the same method at every endpoint

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES


@dataclass
class _AuthorizationCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str | None
    scope: str
    user: User
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int
    expires_at: float

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


@dataclass
class _Issued:
    """One token response: an access token and, maybe, its refresh token."""

    client: _Client
    user: User
    scope: str
    access_token: str
    refresh_token: str | None
    issued_at: int
    expires_in: int
    auth_time: int
    access_revoked: bool = False
    refresh_revoked: bool = False


class _Token(TokenMixin):
    """One of the two tokens of an `_Issued`, as Authlib's endpoints see it."""

    def __init__(self, issued: _Issued, kind: Literal["access_token", "refresh_token"]) -> None:
        self.issued = issued
        self.kind = kind

    @property
    def scope(self) -> str:  # read by Authlib's UserInfoEndpoint
        return self.issued.scope

    @property
    def expires_at(self) -> int:
        lifetime = self.issued.expires_in if self.kind == "access_token" else REFRESH_TOKEN_LIFETIME
        return self.issued.issued_at + lifetime

    def check_client(self, client: _Client) -> bool:
        return self.issued.client.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.issued.scope

    def get_expires_in(self) -> int:
        return self.issued.expires_in

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        if self.kind == "access_token":
            return self.issued.access_revoked
        return self.issued.refresh_revoked

    def get_user(self) -> User:
        return self.issued.user

    def get_client(self) -> _Client:
        return self.issued.client


@dataclass
class _DeviceCredential(DeviceCredentialMixin):
    client_id: str
    scope: str | None
    device_code: str
    user_code: str
    expires_at: float
    interval: int
    last_poll: float | None = None
    user: User | None = None
    approved: bool | None = None  # None while the user has not decided
    decided_at: int | None = None

    def get_client_id(self) -> str:
        return self.client_id

    def get_scope(self) -> str | None:
        return self.scope

    def get_user_code(self) -> str:
        return self.user_code

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at


class _Store:
    """Everything the server remembers, in dicts."""

    def __init__(self, scopes: tuple[str, ...]) -> None:
        self.lock = threading.Lock()
        self.clients = {spec.client_id: _Client(spec, scopes) for spec in CLIENTS}
        self.codes: dict[str, _AuthorizationCode] = {}
        self.by_access: dict[str, _Issued] = {}
        self.by_refresh: dict[str, _Issued] = {}
        self.devices: dict[str, _DeviceCredential] = {}  # by device_code
        self.device_codes: dict[str, str] = {}  # user_code -> device_code

    def find_token(self, token: str, hint: str | None) -> _Token | None:
        """The token with this value; the hint only orders the search (RFC 7009 §2.1)."""
        kinds: list[Literal["access_token", "refresh_token"]] = ["access_token", "refresh_token"]
        if hint == "refresh_token":
            kinds.reverse()
        for kind in kinds:
            table = self.by_access if kind == "access_token" else self.by_refresh
            issued = table.get(token)
            if issued is not None:
                return _Token(issued, kind)
        return None

    def device(self, user_code: str) -> _DeviceCredential:
        device_code = self.device_codes.get(user_code)
        if device_code is None or device_code not in self.devices:
            raise KeyError(f"no pending device authorization with user_code {user_code!r}")
        return self.devices[device_code]


# -- Authlib's classes, wired -----------------------------------------------------------------


class _AuthorizationServer(AuthorizationServer):
    """Authlib's Flask authorization server, remembering how each client authenticated."""

    def __init__(self, owner: AuthlibServer, app: Flask) -> None:
        self.owner = owner
        self.store = owner.store
        super().__init__(app, query_client=self.store.clients.get, save_token=self._save)

    def authenticate_client(self, request: Any, methods: list[str], endpoint: str = "token") -> Any:
        client = super().authenticate_client(request, methods, endpoint)
        self.owner._client_auth[endpoint] = request.auth_method
        return client

    def _save(self, token: dict[str, Any], request: Any) -> None:
        now = int(time.time())
        auth_time = now
        if request.authorization_code is not None:
            auth_time = request.authorization_code.auth_time
        elif request.refresh_token is not None:
            auth_time = request.refresh_token.issued.auth_time
        elif request.credential is not None and request.credential.decided_at is not None:
            auth_time = request.credential.decided_at
        issued = _Issued(
            client=request.client,
            user=request.user,
            scope=token.get("scope", ""),
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token"),
            issued_at=now,
            expires_in=int(token.get("expires_in", ACCESS_TOKEN_LIFETIME)),
            auth_time=auth_time,
        )
        with self.store.lock:
            self.store.by_access[issued.access_token] = issued
            if issued.refresh_token:
                self.store.by_refresh[issued.refresh_token] = issued


def _store(grant_or_endpoint: Any) -> _Store:
    return grant_or_endpoint.server.store


class _CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        _store(self).codes[code] = _AuthorizationCode(
            code=code,
            client_id=request.client.get_client_id(),
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            user=request.user,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            auth_time=int(time.time()),
            expires_at=time.time() + CODE_LIFETIME,
        )

    def query_authorization_code(self, code: str, client: _Client) -> _AuthorizationCode | None:
        item = _store(self).codes.get(code)
        if item and item.client_id == client.get_client_id() and time.time() < item.expires_at:
            return item
        return None

    def delete_authorization_code(self, authorization_code: _AuthorizationCode) -> None:
        _store(self).codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: _AuthorizationCode) -> User:
        return authorization_code.user


class _S256Only(CodeChallenge):
    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = [
        "S256"
    ]  # an explicit "plain" is invalid_request


class _RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every refresh answers a new refresh token

    def authenticate_refresh_token(self, refresh_token: str) -> _Token | None:
        issued = _store(self).by_refresh.get(refresh_token)
        if issued is None:
            return None
        token = _Token(issued, "refresh_token")
        return None if token.is_revoked() or token.is_expired() else token

    def authenticate_user(self, refresh_token: _Token) -> User:
        return refresh_token.get_user()

    def revoke_old_credential(self, refresh_token: _Token) -> None:
        refresh_token.issued.refresh_revoked = True


class _DeviceGrant(DeviceCodeGrant):
    def query_device_credential(self, device_code: str) -> _DeviceCredential | None:
        return _store(self).devices.get(device_code)

    def query_user_grant(self, user_code: str) -> tuple[User | None, bool] | None:
        credential = _store(self).device(user_code)
        if credential.approved is None:
            return None
        return credential.user, credential.approved

    def should_slow_down(self, credential: _DeviceCredential) -> bool:
        now = time.monotonic()
        too_soon = credential.last_poll is not None and now - credential.last_poll < (
            credential.interval
        )
        credential.last_poll = now
        if too_soon:
            credential.interval += 5  # RFC 8628 §3.5: for this and all later requests
        return too_soon

    def create_token_response(self) -> Any:
        answer = super().create_token_response()
        # A device code is redeemed once; Authlib leaves forgetting it to the storage.
        credential = self.request.credential
        with _store(self).lock:
            _store(self).devices.pop(credential.device_code, None)
            _store(self).device_codes.pop(credential.user_code, None)
        return answer


class _DeviceEndpoint(DeviceAuthorizationEndpoint):
    @property
    def INTERVAL(self) -> int:  # type: ignore[override]  # a switch, read per request
        return self.server.owner.device_interval

    def get_verification_uri(self) -> str:
        return f"{self.server.owner.url}/device"

    def save_device_credential(self, client_id: str, scope: str | None, data: dict) -> None:
        credential = _DeviceCredential(
            client_id=client_id,
            scope=scope,
            device_code=data["device_code"],
            user_code=data["user_code"],
            expires_at=time.time() + data["expires_in"],
            interval=data["interval"],
        )
        with _store(self).lock:
            _store(self).devices[credential.device_code] = credential
            _store(self).device_codes[credential.user_code] = credential.device_code


class _Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Token | None:
        return _store(self).find_token(token_string, token_type_hint)

    def revoke_token(self, token: _Token, request: Any) -> None:
        token.issued.access_revoked = True
        if token.kind == "refresh_token":  # RFC 7009 §2.1: and the access tokens of its grant
            token.issued.refresh_revoked = True


class _Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Token | None:
        return _store(self).find_token(token_string, token_type_hint)

    def check_permission(self, token: _Token, client: _Client, request: Any) -> bool:
        return token.check_client(client)

    def introspect_token(self, token: _Token) -> dict[str, Any]:
        user = token.get_user()
        payload: dict[str, Any] = {
            "active": True,
            "scope": token.get_scope(),
            "client_id": token.issued.client.client_id,
            "username": user.username,
            "sub": user.sub,
            "exp": token.expires_at,
            "iat": token.issued.issued_at,
            "iss": self.server.owner.url,
        }
        if token.kind == "access_token":
            payload["token_type"] = "Bearer"
        return payload


class _BearerValidator(BearerTokenValidator):
    def __init__(self, store: _Store) -> None:
        super().__init__()
        self.store = store

    def authenticate_token(self, token_string: str) -> _Token | None:
        issued = self.store.by_access.get(token_string)
        return _Token(issued, "access_token") if issued else None


class _IdTokenWiring:
    """What Authlib's OpenID extensions ask of the application: key, claims, faults."""

    def __init__(self, owner: AuthlibServer) -> None:
        self.owner = owner
        super().__init__()

    def resolve_client_private_key(self, client: _Client) -> RSAKey:
        return self.owner.key

    def get_encode_header(self, client: _Client) -> dict[str, str]:
        return {"alg": "RS256", "kid": self.owner.key.kid or ""}

    def get_client_claims(self, client: _Client) -> dict[str, Any]:
        aud: str | list[str] = client.get_client_id()
        if self.owner.id_token_fault == "wrong_aud":
            aud = "some-other-client"
        elif self.owner.id_token_fault == "several_aud_no_azp":
            aud = [client.get_client_id(), "some-other-client"]
        return {"iss": self.owner.url, "aud": aud}

    def generate_user_info(self, user: User, scope: str) -> UserInfo:
        claims = _user_info(user, scope)
        if self.owner.id_token_fault == "no_sub":
            claims.pop("sub", None)
        return claims

    def get_compatible_claims(self, request: Any) -> dict[str, Any]:
        claims: dict[str, Any] = super().get_compatible_claims(request)  # type: ignore[misc]
        # OIDC Core §12.2: after a refresh, auth_time stays the original authentication's.
        if request.refresh_token is not None:
            claims["auth_time"] = request.refresh_token.issued.auth_time
        elif request.credential is not None and request.credential.decided_at is not None:
            claims["auth_time"] = request.credential.decided_at
        return claims

    def process_token(self, grant: Any, response: Any) -> Any:
        if self.owner.id_token_fault == "missing":
            return response[1]
        return super().process_token(grant, response)  # type: ignore[misc]


class _OpenIDCode(_IdTokenWiring, OpenIDCode):
    def exists_nonce(self, nonce: str, request: Any) -> bool:
        client_id = request.payload.client_id
        codes = list(self.owner.store.codes.values())
        return any(c.nonce == nonce and c.client_id == client_id for c in codes)


class _OpenIDToken(_IdTokenWiring, OpenIDToken):
    """id_tokens for the refresh token and device code grants (an openid scope)."""


class _UserInfo(UserInfoEndpoint):
    def __init__(self, owner: AuthlibServer, protector: ResourceProtector) -> None:
        super().__init__(resource_protector=protector)
        self.owner = owner

    def generate_user_info(self, user: User, scope: str) -> UserInfo:
        return _user_info(user, scope)

    def get_issuer(self) -> str:
        return self.owner.url

    def resolve_private_key(self) -> RSAKey:
        return self.owner.key


class _Issuer(rfc9207.IssuerParameter):
    def __init__(self, owner: AuthlibServer) -> None:
        self.owner = owner

    def get_issuer(self) -> str | None:
        if self.owner.wrong_iss:
            return WRONG_ISSUER
        return self.owner.url if self.owner.send_iss else None


# -- observability ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received, as it arrived."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    @property
    def basic_credentials(self) -> tuple[str, str] | None:
        """(id, secret) of an HTTP Basic header exactly as sent: base64-decoded only, not
        form-urldecoded, so a test can check RFC 6749 §2.3.1's encoding (Authlib itself
        accepts the encoded and the raw form alike; see the module's report)."""
        value = self.header("Authorization") or ""
        scheme, _, credentials = value.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, colon, secret = decoded.partition(":")
        return (client_id, secret) if colon else None


_AUTH_USED: dict[str, ClientAuthUsed] = {
    "client_secret_basic": "basic",
    "client_secret_post": "post",
    "none": "none",
}
_ENDPOINT_BY_PATH = {
    "/token": "token",
    "/device_authorization": "device_authorization",
    "/revoke": "revocation",
    "/introspect": "introspection",
}


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


# -- the server -------------------------------------------------------------------------------


class AuthlibServer:
    """Authlib's authorization server on 127.0.0.1, a free port, a daemon thread.

    Switches (plain attributes, read on every request; change them at any time):
    `approving_user` ("alice"), `deny`, `send_iss`, `wrong_iss`, `device_interval` (5),
    `userinfo` ("ok" | "absent" | "forbidden"), `id_token_fault`, `token_type_fault`.
    `oidc=False` makes a pure OAuth 2.0 server: no discovery document, no id_tokens, no
    `openid` scope, no JWKS.
    """

    def __init__(self, oidc: bool = True) -> None:
        self.oidc = oidc
        self.scopes: tuple[str, ...] = SCOPES if oidc else tuple(s for s in SCOPES if s != "openid")
        self.approving_user = "alice"
        self.deny = False
        self.send_iss = False
        self.wrong_iss = False
        self.device_interval = 5
        self.userinfo: UserinfoMode = "ok"
        self.id_token_fault: IdTokenFault | None = None
        self.token_type_fault: str | None = None  # "missing" drops token_type; else its value
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []  # tracebacks of unexpected exceptions in the app
        self.url = ""
        self.port = 0
        self.key = RSAKey.generate_key(
            2048, parameters={"use": "sig", "alg": "RS256"}, private=True
        )
        self.key.ensure_kid()
        self.store = _Store(self.scopes)
        self._client_auth: dict[str, str | None] = {}
        self.app = self._build_app()
        self._httpd: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> AuthlibServer:
        """Listen on a free loopback port and serve from a daemon thread."""
        httpd = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=_QuietHandler)
        self._httpd = httpd
        self.port = httpd.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"authlib-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> AuthlibServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- playing the user ---------------------------------------------------------------------

    def approve_device(self, user_code: str, user: str = "alice") -> None:
        """The user enters `user_code` at the verification URI and approves."""
        self._decide_device(user_code, USERS[user], approved=True)

    def deny_device(self, user_code: str, user: str = "alice") -> None:
        """The user enters `user_code` at the verification URI and denies."""
        self._decide_device(user_code, USERS[user], approved=False)

    def expire_device(self, user_code: str) -> None:
        """Let the device authorization with this user code expire now."""
        self.store.device(user_code).expires_at = 0

    def _decide_device(self, user_code: str, user: User, *, approved: bool) -> None:
        credential = self.store.device(user_code)
        credential.user, credential.approved = user, approved
        credential.decided_at = int(time.time())

    # -- observability ------------------------------------------------------------------------

    def last_client_auth(self, endpoint: str = "token") -> ClientAuthUsed | None:
        """How the client of the last request to `endpoint` ("token", "device_authorization",
        "revocation", "introspection") authenticated, as Authlib decided: "basic", "post",
        "none", or None when it did not authenticate."""
        method = self._client_auth.get(endpoint)
        return _AUTH_USED[method] if method else None

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The recorded requests to `path`."""
        return [r for r in self.requests if r.path == path]

    # -- documents ----------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The metadata document (RFC 8414; OIDC Discovery's too when `oidc`), checked by
        Authlib's metadata classes."""
        url = self.url
        methods = list(AUTH_METHODS)
        doc: dict[str, Any] = {
            "issuer": url,
            "authorization_endpoint": f"{url}/authorize",
            "token_endpoint": f"{url}/token",
            "device_authorization_endpoint": f"{url}/device_authorization",
            "revocation_endpoint": f"{url}/revoke",
            "introspection_endpoint": f"{url}/introspect",
            "scopes_supported": list(self.scopes),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": list(GRANT_TYPES),
            "token_endpoint_auth_methods_supported": methods,
            "revocation_endpoint_auth_methods_supported": methods,
            "introspection_endpoint_auth_methods_supported": methods,
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": self.send_iss or self.wrong_iss,
        }
        if self.oidc:
            doc["jwks_uri"] = f"{url}/jwks"
            if self.userinfo != "absent":
                doc["userinfo_endpoint"] = f"{url}/userinfo"
            doc["subject_types_supported"] = ["public"]
            doc["id_token_signing_alg_values_supported"] = ["RS256"]
            doc["claims_supported"] = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce"]
            doc["claims_supported"] += ["at_hash", "preferred_username", "email"]
        rfc8414.AuthorizationServerMetadata(doc).validate(
            metadata_classes=[rfc9207.AuthorizationServerMetadata]
        )
        if self.oidc:
            OpenIDProviderMetadata(doc).validate()
        return doc

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set that verifies the id_tokens."""
        return {"keys": [self.key.as_dict(private=False)]}

    def providers_yaml(
        self, name: str = "authlib", client_auth: str = "client_secret_basic"
    ) -> str:
        """An oauthdance user providers-file entry for this server, as YAML text."""
        if client_auth not in AUTH_METHODS:
            raise ValueError(f"client_auth must be one of {AUTH_METHODS}, not {client_auth!r}")
        url = self.url
        entry: dict[str, Any] = {
            "title": "Authlib test server",
            "authorize_url": f"{url}/authorize",
            "token_url": f"{url}/token",
            "device_url": f"{url}/device_authorization",
            "api_base": url,
        }
        if self.userinfo != "absent":
            entry["user_url"] = f"{url}/userinfo"
        else:
            entry["user_path"] = ""  # no user endpoint: the id_token names the owner
        entry |= {
            "login_field": ["preferred_username", "email", "sub"],
            "client_auth": client_auth,
            "revocation_url": f"{url}/revoke",
            "revocation_style": "rfc7009",
            "introspection_url": f"{url}/introspect",
            "pkce": True,
            "any_loopback_port": True,
            "default_scope": DEFAULT_SCOPE if self.oidc else "profile email offline_access",
            "oidc": self.oidc,
            "issuer": url,
        }
        if self.oidc:
            entry["jwks_uri"] = f"{url}/jwks"
        return yaml.safe_dump({name: entry}, sort_keys=False, default_flow_style=None)

    # -- the application ----------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask(__name__)
        app.config.update(
            OAUTH2_REFRESH_TOKEN_GENERATOR=True,
            OAUTH2_SCOPES_SUPPORTED=list(self.scopes),
            OAUTH2_TOKEN_EXPIRES_IN=dict.fromkeys(GRANT_TYPES, ACCESS_TOKEN_LIFETIME),
        )
        oauth = _AuthorizationServer(self, app)
        oidc = self.oidc
        oauth.register_grant(
            _CodeGrant, [_S256Only(required=True)] + ([_OpenIDCode(self)] if oidc else [])
        )
        oauth.register_grant(_RefreshGrant, [_OpenIDToken(self)] if oidc else None)
        oauth.register_grant(_DeviceGrant, [_OpenIDToken(self)] if oidc else None)
        oauth.register_endpoint(_DeviceEndpoint)
        oauth.register_endpoint(_Revocation)
        oauth.register_endpoint(_Introspection)
        oauth.register_extension(_Issuer(self))
        protector = ResourceProtector()
        protector.register_token_validator(_BearerValidator(self.store))
        if oidc:
            oauth.register_endpoint(_UserInfo(self, protector))
        self.oauth = oauth

        @app.before_request
        def record() -> None:
            req = flask_request
            self.requests.append(
                RecordedRequest(
                    method=req.method,
                    path=req.path,
                    query=req.args.to_dict(),
                    headers=dict(req.headers),
                    form=req.form.to_dict(),
                )
            )
            endpoint = _ENDPOINT_BY_PATH.get(req.path)
            if endpoint:
                self._client_auth[endpoint] = None

        @app.errorhandler(Exception)
        def unexpected(error: Exception) -> Any:
            if isinstance(error, HTTPException):
                return error
            self.errors.append(traceback.format_exc())
            return jsonify(error="server_error", error_description=repr(error)), 500

        @app.get("/authorize")
        def authorize() -> Any:
            user = USERS[self.approving_user]  # signed in; approves unless told to deny
            try:
                grant = oauth.get_consent_grant(end_user=user)
            except OAuth2Error as error:
                response = oauth.handle_error_response(None, error)
                # Authlib runs its RFC 9207 hook only in create_authorization_response; an
                # error that redirects from the consent step gets `iss` the same way.
                oauth.execute_hook("after_create_authorization_response", response)
                return response
            return oauth.create_authorization_response(
                grant=grant, grant_user=None if self.deny else user
            )

        @app.post("/token")
        def token() -> Any:
            response = oauth.create_token_response()
            if self.token_type_fault and response.status_code == 200:
                body = json.loads(response.get_data(as_text=True))
                if self.token_type_fault == "missing":
                    body.pop("token_type", None)
                else:
                    body["token_type"] = self.token_type_fault
                response.set_data(json.dumps(body))
            return response

        @app.post("/device_authorization")
        def device_authorization() -> Any:
            return oauth.create_endpoint_response("device_authorization")

        @app.get("/device")
        def device_page() -> Any:
            text = "Authlib test server: tests play the user with AuthlibServer.approve_device().\n"
            return Response(text, mimetype="text/plain")

        @app.post("/revoke")
        def revoke() -> Any:
            return oauth.create_endpoint_response("revocation")

        @app.post("/introspect")
        def introspect() -> Any:
            return oauth.create_endpoint_response("introspection")

        @app.route("/userinfo", methods=["GET", "POST"])
        def userinfo() -> Any:
            if self.userinfo == "absent":
                return jsonify(error="not_found"), 404
            if self.userinfo == "forbidden":
                # A token no scope of ours can satisfy: Authlib answers 403 insufficient_scope.
                with protector.acquire(["userinfo:forbidden"]):
                    pass
            if oidc:
                return oauth.create_endpoint_response("userinfo")
            with protector.acquire() as token:
                user = token.get_user()
                return jsonify(sub=user.sub, preferred_username=user.username, email=user.email)

        @app.get("/jwks")
        def jwks() -> Any:
            if not oidc:
                return jsonify(error="not_found"), 404
            return jsonify(self.jwks())

        @app.get("/.well-known/openid-configuration")
        def openid_configuration() -> Any:
            if not oidc:
                return jsonify(error="not_found"), 404
            return jsonify(self.metadata())

        @app.get("/.well-known/oauth-authorization-server")
        def oauth_authorization_server() -> Any:
            return jsonify(self.metadata())

        return app


__all__ = [
    "BASIC",
    "CLIENTS",
    "CLIENT_BY_AUTH",
    "DEFAULT_SCOPE",
    "POST",
    "PUBLIC",
    "REDIRECT_URI",
    "SCOPES",
    "USERS",
    "WRONG_ISSUER",
    "AuthlibServer",
    "ClientSpec",
    "RecordedRequest",
    "User",
]
