"""The sandbox's state and rules: apps, users, codes and tokens, behaving as GitHub does.

Pure logic with a movable clock; `server.py` puts HTTP in front of it, `faults.py` holds
the failures tests inject and `signing.py` signs id_tokens. Facts follow GitHub's docs:
codes live 10 minutes and work once; token errors come with HTTP 200; a loopback
callback accepts any port; expiring tokens rotate their refresh token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

from oauthdance.sandbox.faults import Faults
from oauthdance.sandbox.signing import IdTokenSigner

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CODE_LIFETIME = 600
ACCESS_LIFETIME = 28800
REFRESH_LIFETIME = 15897600
RATE_WINDOW = 3600
KNOWN_SCOPES = frozenset(
    "repo repo:status repo_deployment public_repo repo:invite security_events admin:repo_hook "
    "write:repo_hook read:repo_hook admin:org write:org read:org admin:public_key "
    "write:public_key read:public_key admin:org_hook gist notifications user read:user "
    "user:email user:follow project read:project delete_repo write:packages read:packages "
    "delete:packages admin:gpg_key write:gpg_key read:gpg_key codespace workflow".split()
)
LOOPBACK = ("127.0.0.1", "::1", "localhost")
_ALNUM = string.ascii_letters + string.digits


def _random(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


@dataclass
class App:
    """An OAuth App registered with the sandbox."""

    client_id: str
    client_secret: str
    callback_url: str
    name: str = "oauthdance demo"
    suspended: bool = False
    expiring_tokens: bool = False  # GitHub App behaviour: every user token expires
    device_flow: bool = True
    # How other providers bend the rules, so each preset can be played end to end:
    client_auth: str = "any"  # "basic" refuses a secret in the body (Spotify, eBay)
    json_answers: bool = False  # always JSON, RFC 6749 errors with 400/401 (most providers)
    token_type: str = "bearer"  # eBay: "User Access Token"
    scope_separator: str = ","  # how granted scopes come back (GitHub: commas)
    code_lifetime: int = CODE_LIFETIME  # eBay: about 5 minutes
    runame: str | None = None  # eBay: the redirect_uri is this name, mapped to callback_url
    refuse_localhost: bool = False  # Spotify
    github_scopes: bool = True  # grant only GitHub's scopes; False grants what is asked
    oidc: bool = False  # an id_token when `openid` is asked for


@dataclass
class User:
    """A resource owner; the sandbox signs in as whoever the consent form names."""

    login: str
    id: int
    name: str = ""
    email_verified: bool = True
    repo_count: int = 42


@dataclass
class Grant:
    """An authorization code and what it was issued for."""

    client_id: str
    login: str
    scopes: list[str]
    redirect_uri: str | None
    code_challenge: str | None
    issued_at: float
    used: bool = False
    nonce: str | None = None


@dataclass
class DeviceGrant:
    """A device code waiting for the user to enter its user_code and decide."""

    client_id: str
    scopes: list[str]
    user_code: str
    issued_at: float
    interval: float
    last_poll: float | None = None
    decision: str | None = None  # "approved" or "denied"
    login: str | None = None
    used: bool = False


@dataclass
class Token:
    client_id: str
    login: str
    scopes: list[str]
    access_token: str
    expires_at: float | None = None
    refresh_token: str | None = None
    refresh_expires_at: float | None = None
    revoked: bool = False


class SandboxError(Exception):
    """A request the sandbox refuses, as an OAuth error code and description."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass
class RateCounter:
    used: int = 0
    reset: float = 0.0


@dataclass
class Sandbox:
    """Everything the sandbox knows. Thread-safe: the server calls it from many threads."""

    auto_approve: bool = False
    default_login: str = "octocat"
    rate_limit: int = 5000
    clock_offset: float = 0.0
    apps: dict[str, App] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    refresh_index: dict[str, str] = field(default_factory=dict)
    rate: dict[str, RateCounter] = field(default_factory=dict)
    device_grants: dict[str, DeviceGrant] = field(default_factory=dict)
    device_lifetime: float = 900
    device_interval: float = 5
    token_requests: int = 0
    refresh_requests: int = 0
    last_client_auth: str = ""  # how the last token request authenticated: basic/post/none
    issuer: str = ""  # the server's own URL, set when it starts
    rate_window: float = RATE_WINDOW
    issues_per_repo: int = 35
    orgs: dict[str, int] = field(default_factory=lambda: {"octo-org": 12})
    faults: Faults = field(default_factory=Faults)  # failures injected for tests
    signer: IdTokenSigner = field(default_factory=IdTokenSigner, repr=False)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    # Called with the model, under its lock, once each change is complete (`state.py` saves
    # it there); rate counters change on every API call and ride along with the next save.
    on_change: Callable[[Sandbox], None] | None = field(default=None, repr=False)
    _changes_open: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.users:
            self.add_user("octocat", name="The Octocat")
            self.add_user("hubot", name="Hubot")

    @contextmanager
    def changing(self) -> Iterator[None]:
        """Hold the lock for a change; the outermost one ends with `on_change`, so a change
        made of smaller ones (an approval that adds a user) is reported once, complete."""
        with self.lock:
            self._changes_open += 1
            try:
                yield
            finally:
                self._changes_open -= 1
                if not self._changes_open and self.on_change is not None:
                    self.on_change(self)

    def persist(self) -> None:
        """Report the state as it is now (at shutdown: what rode along, such as rate counts)."""
        with self.changing():
            pass

    # -- set-up -------------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> None:
        """Move the sandbox's clock (tests of expiry)."""
        with self.changing():
            self.clock_offset += seconds

    def set_default_issuer(self, url: str) -> None:
        """The server's own URL names the issuer, unless one was chosen before it started."""
        with self.lock:
            self.issuer = self.issuer or url

    def register_app(
        self,
        callback_url: str = "http://127.0.0.1/callback",
        client_id: str | None = None,
        client_secret: str | None = None,
        **options: Any,
    ) -> App:
        app = App(
            client_id=client_id or _random("Ov23li", 14),
            client_secret=client_secret or secrets.token_hex(20),
            callback_url=callback_url,
            **options,
        )
        with self.changing():
            self.apps[app.client_id] = app
        return app

    def add_user(self, login: str, **options: Any) -> User:
        with self.changing():
            user = User(login=login, id=1000 + len(self.users), **options)
            self.users[login] = user
        return user

    # -- authorize ----------------------------------------------------------------------

    def check_authorize(self, params: dict[str, str]) -> tuple[App, str]:
        """The app and where to send the user back; SandboxError for a page-level refusal.

        Returns the callback to redirect to even for redirect-level errors, which
        `redirect_error` then builds (GitHub sends those back to the app).
        """
        app = self.apps.get(params.get("client_id", ""))
        if app is None:
            raise SandboxError("not_found", "No OAuth app has this client_id.")
        uri = params.get("redirect_uri") or app.callback_url
        if app.runame and uri == app.runame:
            uri = app.callback_url  # eBay sends the browser to the URL the RuName names
        return app, uri

    def authorize_problem(self, app: App, params: dict[str, str]) -> tuple[str, str] | None:
        """(error, description) to send back instead of a consent page, or None."""
        if app.suspended:
            return "application_suspended", "Your application has been suspended."
        if app.refuse_localhost and "://localhost" in params.get("redirect_uri", ""):
            return "invalid_request", "INVALID_CLIENT: Invalid redirect URI (no localhost)."
        if params.get("redirect_uri") and not redirect_allowed(
            app.callback_url, params["redirect_uri"], app.runame
        ):
            return (
                "redirect_uri_mismatch",
                "The redirect_uri MUST match the registered callback URL for this application.",
            )
        if params.get("code_challenge") and params.get("code_challenge_method", "plain") != "S256":
            return "invalid_request", "code_challenge_method must be S256."
        return None

    def approve(self, params: dict[str, str], login: str) -> str:
        """The user pressed Authorize: the redirect URL carrying a fresh code."""
        app, uri = self.check_authorize(params)
        problem = self.authorize_problem(app, params)
        if problem:
            return self.redirect_error(app, params, *problem)
        with self.changing():
            if login not in self.users:
                self.add_user(login)
            code = secrets.token_hex(10)
            asked = _split(params.get("scope", ""))
            self.grants[code] = Grant(
                client_id=app.client_id,
                login=login,
                scopes=[s for s in asked if s in KNOWN_SCOPES or not app.github_scopes],
                redirect_uri=params.get("redirect_uri"),
                code_challenge=params.get("code_challenge"),
                issued_at=self.now(),
                nonce=params.get("nonce"),
            )
            if "offline_access" in asked and app.github_scopes:
                self.grants[code].scopes.append("offline_access")
        return _with_query(uri, {"code": code, "state": params.get("state")})

    def deny(self, params: dict[str, str]) -> str:
        app, _ = self.check_authorize(params)
        return self.redirect_error(
            app, params, "access_denied", "The user has denied your application access."
        )

    def redirect_error(self, app: App, params: dict[str, str], error: str, text: str) -> str:
        uri = params.get("redirect_uri") or app.callback_url
        if uri == app.runame:
            uri = app.callback_url
        if error == "redirect_uri_mismatch":
            uri = app.callback_url  # GitHub sends this one to the registered callback
        return _with_query(
            uri,
            {
                "error": error,
                "error_description": text,
                "error_uri": "https://docs.github.com/apps/managing-oauth-apps/"
                "troubleshooting-authorization-request-errors",
                "state": params.get("state"),
            },
        )

    # -- token endpoint -----------------------------------------------------------------

    def token(self, form: dict[str, str], authorization: str | None) -> dict[str, Any]:
        """The token endpoint: a token answer, or `{"error": ...}` (sent with HTTP 200)."""
        with self.changing():
            self.token_requests += 1
            try:
                return self._token(form, authorization)
            except SandboxError as exc:
                return {
                    "error": exc.error,
                    "error_description": exc.description,
                    "error_uri": "https://docs.github.com/apps/managing-oauth-apps/"
                    "troubleshooting-oauth-app-access-token-request-errors",
                }

    def _token(self, form: dict[str, str], authorization: str | None) -> dict[str, Any]:
        client_id, secret = _client_credentials(form, authorization)
        app = self.apps.get(client_id)
        grant_type = form.get("grant_type", "authorization_code")
        basic = (authorization or "").lower().startswith("basic ")
        self.last_client_auth = "basic" if basic else "post" if "client_secret" in form else "none"
        if grant_type == DEVICE_GRANT and app is not None:
            return self._device_token(app, form.get("device_code", ""))
        if app is None or app.client_secret != secret or (app.client_auth == "basic" and not basic):
            raise SandboxError(
                "incorrect_client_credentials",
                "The client_id and/or client_secret passed are incorrect.",
            )
        if grant_type == "refresh_token":
            return self._refresh(app, form.get("refresh_token", ""))
        if grant_type != "authorization_code":
            raise SandboxError("unsupported_grant_type", f"{grant_type} is not supported.")
        grant = self.grants.get(form.get("code", ""))
        if (
            grant is None
            or grant.used
            or grant.client_id != app.client_id
            or self.now() - grant.issued_at > app.code_lifetime
        ):
            raise SandboxError("bad_verification_code", "The code passed is incorrect or expired.")
        if grant.redirect_uri and form.get("redirect_uri") != grant.redirect_uri:
            raise SandboxError(
                "redirect_uri_mismatch",
                "The redirect_uri MUST match the registered callback URL for this application.",
            )
        if (
            grant.code_challenge
            and pkce_s256(form.get("code_verifier", "")) != grant.code_challenge
        ):
            raise SandboxError(
                "bad_verification_code", "The code_verifier does not match the code_challenge."
            )
        if not self.users[grant.login].email_verified:
            raise SandboxError(
                "unverified_user_email",
                "The user must have a verified primary email.",
            )
        grant.used = True
        expiring = app.expiring_tokens or "offline_access" in grant.scopes
        scopes = [s for s in grant.scopes if s != "offline_access" or not app.github_scopes]
        answer = self._issue(app, grant.login, scopes, expiring)
        if app.oidc and "openid" in scopes:
            answer["id_token"] = self.id_token(app, grant.login, grant.nonce)
        return answer

    def _issue(self, app: App, login: str, scopes: list[str], expiring: bool) -> dict[str, Any]:
        now = self.now()
        token = Token(app.client_id, login, scopes, _random("ghu_" if expiring else "gho_", 36))
        answer: dict[str, Any] = {
            "access_token": token.access_token,
            "token_type": app.token_type,
            "scope": app.scope_separator.join(scopes),
        }
        if expiring:
            token.expires_at = now + ACCESS_LIFETIME
            token.refresh_token = _random("ghr_", 76)
            token.refresh_expires_at = now + REFRESH_LIFETIME
            self.refresh_index[token.refresh_token] = token.access_token
            answer.update(
                expires_in=ACCESS_LIFETIME,
                refresh_token=token.refresh_token,
                refresh_token_expires_in=REFRESH_LIFETIME,
            )
        self.tokens[token.access_token] = token
        return answer

    def _refresh(self, app: App, refresh_token: str) -> dict[str, Any]:
        self.refresh_requests += 1
        old = self.tokens.get(self.refresh_index.get(refresh_token, ""))
        if (
            old is None
            or old.revoked
            or old.client_id != app.client_id
            or (old.refresh_expires_at or 0) <= self.now()
        ):
            raise SandboxError(
                "bad_refresh_token", "The refresh token passed is incorrect or expired."
            )
        old.revoked = True  # rotation: the old pair dies at once
        del self.refresh_index[refresh_token]
        return self._issue(app, old.login, old.scopes, expiring=True)

    # -- device flow (RFC 8628) -------------------------------------------------------------

    def device_code(self, form: dict[str, str]) -> dict[str, Any]:
        """`POST /login/device/code`: a device code and the user code to type."""
        app = self.apps.get(form.get("client_id", ""))
        if app is None:
            return {
                "error": "incorrect_client_credentials",
                "error_description": "The client_id is not valid.",
            }
        if not app.device_flow:
            return {
                "error": "device_flow_disabled",
                "error_description": "Device flow must be explicitly enabled for this App",
            }
        with self.changing():
            device_code = secrets.token_hex(20)
            letters = "BCDFGHJKLMNPQRSTVWXZ"
            user_code = "".join(secrets.choice(letters) for _ in range(8))
            user_code = f"{user_code[:4]}-{user_code[4:]}"
            scopes = [s for s in _split(form.get("scope", "")) if s in KNOWN_SCOPES]
            self.device_grants[device_code] = DeviceGrant(
                app.client_id, scopes, user_code, self.now(), self.device_interval
            )
        return {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": "/login/device",
            "expires_in": int(self.device_lifetime),
            "interval": int(self.device_interval),
        }

    def device_decide(self, user_code: str, login: str, approve: bool) -> bool:
        """The user typed `user_code` on the device page and pressed a button."""
        wanted = user_code.strip().upper().replace(" ", "")
        with self.changing():
            for grant in self.device_grants.values():
                alive = self.now() - grant.issued_at <= self.device_lifetime
                if grant.user_code.replace("-", "") == wanted.replace("-", "") and alive:
                    if login not in self.users:
                        self.add_user(login)
                    grant.decision, grant.login = ("approved" if approve else "denied"), login
                    return True
        return False

    def _device_token(self, app: App, device_code: str) -> dict[str, Any]:
        grant = self.device_grants.get(device_code)
        if grant is None or grant.client_id != app.client_id or grant.used:
            raise SandboxError("incorrect_device_code", "The device_code provided is not valid.")
        now = self.now()
        if now - grant.issued_at > self.device_lifetime:
            raise SandboxError("expired_token", "This 'device_code' has expired.")
        too_soon = grant.last_poll is not None and now - grant.last_poll < grant.interval
        grant.last_poll = now
        if too_soon:
            grant.interval += 5
            raise SandboxError(
                "slow_down",
                "Too many requests have been made in the same "
                f"timeframe; interval is now {grant.interval:g}.",
            )
        if grant.decision is None:
            raise SandboxError(
                "authorization_pending", "The authorization request is still pending."
            )
        if grant.decision == "denied":
            raise SandboxError("access_denied", "The authorization request was denied.")
        grant.used = True
        return self._issue(
            app, grant.login or self.default_login, grant.scopes, app.expiring_tokens
        )

    # -- OpenID Connect -------------------------------------------------------------------

    def id_token(self, app: App, login: str, nonce: str | None) -> str:
        """A signed id_token naming the user to the app; `faults.id_token_fault` spoils it."""
        user, now = self.users[login], int(self.now())
        claims = {
            "iss": self.issuer,
            "sub": str(user.id),
            "aud": app.client_id,
            "iat": now,
            "exp": now + 3600,
            "preferred_username": login,
            "email": f"{login}@example.test",
            "name": user.name or login,
        }
        if nonce:
            claims["nonce"] = nonce
        return self.signer.sign(claims, self.faults.id_token_fault)

    def userinfo(self, token: Token) -> dict[str, Any]:
        """One user endpoint that answers in every provider's field names."""
        user = self.users[token.login]
        email = f"{user.login}@example.test"
        return {
            "sub": str(user.id),
            "preferred_username": user.login,
            "email": email,
            "name": user.name or user.login,
            "login": user.login,
            "username": user.login,
            "id": user.login,
            "userId": str(user.id),
            "userPrincipalName": email,
            "mail": email,
        }

    def revoke(self, form: dict[str, str], authorization: str | None) -> bool:
        """RFC 7009: revoke the token the app names (access or refresh); True if known."""
        client_id, secret = _client_credentials(form, authorization)
        app = self.apps.get(client_id)
        if app is None or app.client_secret != secret:
            raise SandboxError("invalid_client", "Client authentication failed.")
        value = form.get("token", "")
        with self.lock:
            token = self.tokens.get(value) or self.tokens.get(self.refresh_index.get(value, ""))
            if token is None or token.client_id != app.client_id:
                return False
            self.revoke_token(token)
            return True

    def revoke_token(self, token: Token) -> None:
        """Revoke an issued token, under the lock the server's threads share."""
        with self.changing():
            token.revoked = True

    # -- API ----------------------------------------------------------------------------

    def token_for(self, access_token: str) -> Token | None:
        token = self.tokens.get(access_token)
        if token is None or token.revoked:
            return None
        if token.expires_at is not None and token.expires_at <= self.now():
            return None
        return token

    def spend_rate(self, access_token: str) -> tuple[int, int, int]:
        """Count one request: (limit, remaining after it — negative when over, reset epoch)."""
        with self.lock:
            counter = self.rate.setdefault(access_token, RateCounter())
            now = self.now()
            if counter.reset <= now:
                counter.used, counter.reset = 0, now + self.rate_window
            counter.used += 1
            return self.rate_limit, self.rate_limit - counter.used, int(counter.reset)

    def app_from_basic(self, authorization: str | None) -> App | None:
        """The app named by an HTTP Basic header, if any."""
        return self.apps.get(_client_credentials({}, authorization)[0])

    def app_token(self, client_id: str, authorization: str | None, access_token: str) -> Token:
        """`/applications/{client_id}/token`: the token, if the app's Basic auth is right."""
        given_id, secret = _client_credentials({}, authorization)
        app = self.apps.get(client_id)
        if app is None or given_id != client_id or app.client_secret != secret:
            raise SandboxError("unauthorized", "Requires authentication")
        token = self.token_for(access_token)
        if token is None or token.client_id != client_id:
            raise SandboxError("not_found", "Not Found")
        return token


def pkce_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def redirect_allowed(callback: str, redirect_uri: str, runame: str | None = None) -> bool:
    """GitHub's rule: same scheme and host; same port unless the callback is on loopback;
    the path is the callback's path or below it. With an RuName, only that name."""
    if runame:
        return redirect_uri == runame
    reg, got = urlsplit(callback), urlsplit(redirect_uri)
    if reg.scheme != got.scheme or (reg.hostname or "") != (got.hostname or ""):
        return False
    if reg.hostname not in LOOPBACK and reg.port != got.port:
        return False
    base = reg.path.rstrip("/")
    return got.path == reg.path or got.path.startswith(base + "/")


def _split(scope: str) -> list[str]:
    return [s for s in scope.replace(",", " ").split() if s]


def _with_query(uri: str, params: dict[str, str | None]) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return uri + ("&" if urlsplit(uri).query else "?") + query


def _client_credentials(form: dict[str, str], authorization: str | None) -> tuple[str, str]:
    """Client id and secret from HTTP Basic (form-urlencoded parts) or the form body."""
    if authorization and authorization.lower().startswith("basic "):
        try:
            raw = base64.b64decode(authorization.split(" ", 1)[1]).decode()
            client_id, _, secret = raw.partition(":")
            return unquote_plus(client_id), unquote_plus(secret)
        except (ValueError, UnicodeDecodeError):
            return "", ""
    return form.get("client_id", ""), form.get("client_secret", "")


def parse_form(body: str) -> dict[str, str]:
    return dict(parse_qsl(body, keep_blank_values=True))
