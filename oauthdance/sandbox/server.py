"""HTTP in front of the sandbox model: GitHub's OAuth endpoints and a slice of its REST API.

Endpoints (GitHub Enterprise Server layout, so one port serves everything):
`/login/oauth/authorize`, `/login/oauth/access_token`, `/login/device/code`,
`/login/device`, and under `/api/v3`: `/user`, `/user/repos`, `/orgs/{org}/repos`,
`/repos/{owner}/{repo}/issues`, `/applications/{client_id}/token`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from oauthdance.base import pages
from oauthdance.base.advice import Command, asked
from oauthdance.sandbox import rest
from oauthdance.sandbox.model import Sandbox, SandboxError, parse_form

DOCS = "https://docs.github.com/rest"
# GitHub's token errors, as RFC 6749 §5.2 names them (for apps playing other providers)
RFC_ERRORS = {
    "bad_verification_code": "invalid_grant",
    "bad_refresh_token": "invalid_grant",
    "redirect_uri_mismatch": "invalid_grant",
    "unverified_user_email": "invalid_grant",
    "incorrect_client_credentials": "invalid_client",
}


class PageCache:
    """Recently served list pages, so the sandbox's own CPU is not what a benchmark of a
    client measures (the items are deterministic for a given owner, URL and total)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._pages: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], make: Callable[[], bytes]) -> bytes:
        with self._lock:
            if key in self._pages:
                self._pages.move_to_end(key)
                return self._pages[key]
        payload = make()
        with self._lock:
            self._pages[key] = payload
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
        return payload


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, model: Sandbox, port: int = 0, verbose: bool = False) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.model = model
        self.verbose = verbose
        self.pages = PageCache()
        self.asked = asked()  # the face that started it (its handlers run on other threads)
        model.set_default_issuer(self.url)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-answer (a fetch that stopped early, Ctrl-C) is no
        error of ours: only a real failure prints its traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"
    server_version = "oauthdance-sandbox/0.1"
    # Headers and body leave in two writes; without TCP_NODELAY a keep-alive client's
    # delayed ACK stalls every answer by ~40 ms, which real servers do not do.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    # -- plumbing -----------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.new_connection = True  # until its first request is answered

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        if self.new_connection:
            self.new_connection = False
            delay = self.server.model.faults.take_connect_latency()
            if delay:
                time.sleep(delay)
        parts = urlsplit(self.path)
        self.query = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        for verb, pattern, handler in ROUTES:
            match = re.fullmatch(pattern, parts.path)
            if verb == method and match:
                handler(self, *match.groups())
                return
        self._json(404, {"message": "Not Found", "documentation_url": DOCS})

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), "application/json; charset=utf-8", headers)

    def _html(self, status: int, html: str) -> None:
        self._send(status, html.encode(), "text/html; charset=utf-8")

    def _redirect(self, location: str) -> None:
        self._send(302, b"", "text/plain", {"Location": location})

    @property
    def base_url(self) -> str:
        return f"http://{self.headers.get('Host') or self.server.url.split('//')[1]}"

    # -- OAuth --------------------------------------------------------------------------

    def authorize_page(self) -> None:
        model = self.server.model
        try:
            app, _ = model.check_authorize(self.query)
        except SandboxError as exc:
            self._html(
                404,
                pages.notice_page(
                    "Not found", exc.description, "check the client_id in your configuration"
                ),
            )
            return
        problem = model.authorize_problem(app, self.query)
        if problem:
            self._redirect(model.redirect_error(app, self.query, *problem))
            return
        login = self.query.get("login") or model.default_login
        if model.auto_approve:
            self._redirect(model.approve(self.query, login))
            return
        scopes = [s for s in self.query.get("scope", "").replace(",", " ").split() if s]
        self._html(200, pages.consent_page(app.name, scopes, self.query, login))

    def authorize_decision(self) -> None:
        form = parse_form(self.body)
        decision, login = form.pop("decision", ""), form.pop("login", "").strip()
        try:
            if decision == "approve" and login:
                location = self.server.model.approve(form, login)
            else:
                location = self.server.model.deny(form)
        except SandboxError as exc:
            self._html(404, pages.notice_page("Not found", exc.description))
            return
        self._redirect(location)

    def access_token(self) -> None:
        form = {**self.query, **parse_form(self.body)}
        model = self.server.model
        answer = model.token(form, self.headers.get("Authorization"))
        app = model.apps.get(form.get("client_id", "")) or model.app_from_basic(
            self.headers.get("Authorization")
        )
        if app is not None and app.json_answers:  # RFC 6749 §5.2: errors are 400/401
            error = RFC_ERRORS.get(answer.get("error", ""), answer.get("error"))
            if error:
                answer = {**answer, "error": error}
            status = 401 if error == "invalid_client" else 400 if error else 200
            self._json(status, answer, {"Cache-Control": "no-store"})
        elif "application/json" in (self.headers.get("Accept") or ""):
            self._json(200, answer)
        else:  # GitHub's default answer is form-encoded, errors included, with HTTP 200
            self._send(
                200, urlencode(answer).encode(), "application/x-www-form-urlencoded; charset=utf-8"
            )

    def discovery(self) -> None:
        base = self.server.url
        self._json(
            200,
            {
                "issuer": self.server.model.issuer,
                "authorization_endpoint": f"{base}/login/oauth/authorize",
                "token_endpoint": f"{base}/login/oauth/access_token",
                "userinfo_endpoint": f"{base}/oauth/userinfo",
                "jwks_uri": f"{base}/oauth/jwks",
                "revocation_endpoint": f"{base}/oauth/revoke",
                "device_authorization_endpoint": f"{base}/login/device/code",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
            },
        )

    def jwks(self) -> None:
        self._json(200, self.server.model.signer.jwks())

    def userinfo(self) -> None:
        scheme, _, value = (self.headers.get("Authorization") or "").partition(" ")
        token = self.server.model.token_for(value.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            self._json(
                401,
                {"error": "invalid_token"},
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
            return
        self._json(200, self.server.model.userinfo(token))

    def revoke(self) -> None:
        try:
            self.server.model.revoke(parse_form(self.body), self.headers.get("Authorization"))
        except SandboxError as exc:
            self._json(401, {"error": exc.error, "error_description": exc.description})
            return
        self._send(200, b"", "text/plain")  # RFC 7009 §2.2: 200 even for unknown tokens

    def device_code(self) -> None:
        answer = self.server.model.device_code({**self.query, **parse_form(self.body)})
        if "verification_uri" in answer:
            answer["verification_uri"] = self.base_url + answer["verification_uri"]
        self._json(200, answer)

    def device_page(self) -> None:
        self._html(200, pages.device_page(self.server.model.default_login))

    def device_decision(self) -> None:
        form = parse_form(self.body)
        approve = form.get("decision") == "approve"
        login = form.get("login", "").strip() or self.server.model.default_login
        if self.server.model.device_decide(form.get("user_code", ""), login, approve):
            title = "Device authorized" if approve else "Device not authorized"
            self._html(
                200,
                pages.notice_page(
                    title,
                    f"You chose to {'authorize' if approve else 'deny'} the device.",
                    "return to your device",
                ),
            )
        else:
            self._html(
                400,
                pages.notice_page(
                    "Code not recognised",
                    "That code is wrong or has expired.",
                    "check the code shown on your device",
                ),
            )

    # -- REST API -----------------------------------------------------------------------

    def _api(self, resource: Callable[..., rest.Resource], *args: str) -> None:
        """Serve one REST resource as GitHub does: auth, limits, pagination, ETags."""
        model = self.server.model
        faults = model.faults
        if faults.take_injected_failure():
            self._send(502, b"Bad Gateway", "text/plain")
            return
        if faults.latency:
            time.sleep(faults.latency)
        scheme, _, value = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or not value:
            self._json(401, {"message": "Requires authentication", "documentation_url": DOCS})
            return
        token = model.token_for(value.strip())
        if token is None:
            self._json(401, {"message": "Bad credentials", "documentation_url": DOCS})
            return
        headers = {"X-OAuth-Scopes": ", ".join(token.scopes), "X-Accepted-OAuth-Scopes": ""}
        if faults.take_secondary_limit():
            if faults.retry_after is not None:
                headers["Retry-After"] = str(faults.retry_after)
            self._json(
                403,
                {
                    "message": "You have exceeded a secondary rate limit. Please wait "
                    "a few minutes before you try again.",
                    "documentation_url": DOCS,
                },
                headers,
            )
            return
        try:
            payload, link = self._render(resource(model, token, self.query, *args), token.login)
        except rest.ApiError as exc:
            headers["X-Accepted-OAuth-Scopes"] = ", ".join(exc.accepted_scopes)
            self._json(exc.status, {"message": exc.message, "documentation_url": DOCS}, headers)
            return
        etag = f'"{hashlib.sha1(payload + link.encode()).hexdigest()}"'
        headers["ETag"] = etag
        if link:
            headers["Link"] = link
        if etag in (self.headers.get("If-None-Match") or ""):
            self._send(304, b"", "application/json", headers)  # costs no rate limit
            return
        limit, remaining, reset = model.spend_rate(token.access_token)
        headers.update(
            {
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": str(max(remaining, 0)),
                "X-RateLimit-Used": str(min(limit - remaining, limit)),
                "X-RateLimit-Reset": str(reset),
                "X-RateLimit-Resource": "core",
            }
        )
        if remaining < 0:
            status = 429 if faults.primary_limit_status == 429 else 403
            self._json(
                status,
                {
                    "message": "API rate limit exceeded for user ID "
                    f"{model.users[token.login].id}.",
                    "documentation_url": DOCS,
                },
                headers,
            )
            return
        self._send(200, payload, "application/json; charset=utf-8", headers)

    def _render(self, found: rest.Resource, login: str) -> tuple[bytes, str]:
        """The JSON payload and Link header; list pages come from the page cache."""
        if not isinstance(found, rest.Listing):
            return json.dumps(found).encode(), ""
        try:
            per_page = min(max(int(self.query.get("per_page", 30)), 1), 100)
            page = max(int(self.query.get("page", 1)), 1)
        except ValueError:
            raise rest.ApiError(422, "Validation Failed") from None
        last = max(1, math.ceil(found.total / per_page))
        link = _link_header(self.base_url + urlsplit(self.path).path, self.query, page, last)
        start, end = (page - 1) * per_page, min(page * per_page, found.total)
        payload = self.server.pages.get(
            (login, self.path, found.total),
            lambda: json.dumps([found.item(i) for i in range(start, end)]).encode(),
        )
        return payload, link

    def application_token(self, client_id: str) -> None:
        try:
            access = json.loads(self.body or "{}").get("access_token", "")
            token = self.server.model.app_token(
                client_id, self.headers.get("Authorization"), access
            )
        except (ValueError, AttributeError):
            self._json(422, {"message": "Problems parsing JSON", "documentation_url": DOCS})
            return
        except SandboxError as exc:
            status = 401 if exc.error == "unauthorized" else 404
            self._json(status, {"message": exc.description, "documentation_url": DOCS})
            return
        if self.command == "DELETE":
            self.server.model.revoke_token(token)
            self._send(204, b"", "application/json")
            return
        self._json(
            200,
            {
                "token": token.access_token,
                "scopes": token.scopes,
                "user": {"login": token.login},
                "app": {"client_id": client_id},
            },
        )

    def index(self) -> None:
        self._html(
            200,
            pages.notice_page(
                "oauthdance sandbox",
                "A local GitHub-compatible OAuth provider for demos and tests.",
                "point the 'sandbox' provider at this host: "
                + Command("auth.configure", "sandbox")
                .with_flags(host=self.base_url.split("//")[1])
                .text(self.server.asked),
            ),
        )


def _link_header(base: str, query: dict[str, str], page: int, last: int) -> str:
    def url(number: int) -> str:
        return base + "?" + urlencode({**query, "page": number})

    rels = []
    if page < last:
        rels += [(page + 1, "next"), (last, "last")]
    if page > 1:
        rels += [(1, "first"), (min(page - 1, last), "prev")]
    return ", ".join(f'<{url(n)}>; rel="{rel}"' for n, rel in rels)


ROUTES: list[tuple[str, str, Callable[..., None]]] = [
    ("GET", r"/", Handler.index),
    ("GET", r"/login/oauth/authorize", Handler.authorize_page),
    ("POST", r"/login/oauth/authorize", Handler.authorize_decision),
    ("POST", r"/login/oauth/access_token", Handler.access_token),
    ("GET", r"/\.well-known/openid-configuration", Handler.discovery),
    ("GET", r"/oauth/jwks", Handler.jwks),
    ("GET", r"/oauth/userinfo", Handler.userinfo),
    ("POST", r"/oauth/revoke", Handler.revoke),
    ("POST", r"/login/device/code", Handler.device_code),
    ("GET", r"/login/device", Handler.device_page),
    ("POST", r"/login/device", Handler.device_decision),
    ("GET", r"/api/v3/user", lambda h: h._api(rest.user)),
    ("GET", r"/api/v3/user/repos", lambda h: h._api(rest.user_repos)),
    ("GET", r"/api/v3/orgs/([^/]+)/repos", lambda h, org: h._api(rest.org_repos, org)),
    (
        "GET",
        r"/api/v3/repos/([^/]+)/([^/]+)/issues",
        lambda h, owner, name: h._api(rest.repo_issues, owner, name),
    ),
    ("POST", r"/api/v3/applications/([^/]+)/token", Handler.application_token),
    ("DELETE", r"/api/v3/applications/([^/]+)/token", Handler.application_token),
]


class RunningSandbox:
    """A sandbox served from a background thread: `with RunningSandbox() as sb: sb.url`."""

    def __init__(self, model: Sandbox | None = None, port: int = 0, verbose: bool = False) -> None:
        self.model = model or Sandbox()
        self.server = SandboxServer(self.model, port, verbose)
        self._thread = threading.Thread(
            target=self.server.serve_forever, daemon=True, name="oauthdance-sandbox"
        )

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def host(self) -> str:
        """host:port, for `auth.configure --host`."""
        return self.url.split("//", 1)[1]

    def start(self) -> RunningSandbox:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> RunningSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
