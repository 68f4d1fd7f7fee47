"""HTTP in front of the sandbox model: GitHub's OAuth endpoints and a slice of its REST API.

Endpoints (GitHub Enterprise Server layout, so one port serves everything):
`/login/oauth/authorize`, `/login/oauth/access_token`, `/api/v3/user`,
`/api/v3/user/repos`, `/api/v3/applications/{client_id}/token`.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .. import pages
from .model import Sandbox, SandboxError, Token, parse_form

DOCS = "https://docs.github.com/rest"


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, model: Sandbox, port: int = 0, verbose: bool = False) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.model = model
        self.verbose = verbose

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"
    server_version = "oauthdance-sandbox/0.1"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    # -- plumbing -----------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
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
        answer = self.server.model.token(form, self.headers.get("Authorization"))
        if "application/json" in (self.headers.get("Accept") or ""):
            self._json(200, answer)
        else:  # GitHub's default answer is form-encoded
            self._send(
                200, urlencode(answer).encode(), "application/x-www-form-urlencoded; charset=utf-8"
            )

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

    def _authenticated(self) -> tuple[Token, dict[str, str]] | None:
        """The caller's token and the rate-limit headers, or None after answering 401/403."""
        if self.server.model.take_injected_failure():
            self._send(502, b"Bad Gateway", "text/plain")
            return None
        auth = self.headers.get("Authorization") or ""
        scheme, _, value = auth.partition(" ")
        if scheme.lower() not in ("bearer", "token") or not value:
            self._json(401, {"message": "Requires authentication", "documentation_url": DOCS})
            return None
        model = self.server.model
        token = model.token_for(value.strip())
        if token is None:
            self._json(401, {"message": "Bad credentials", "documentation_url": DOCS})
            return None
        limit, remaining, reset = model.spend_rate(token.access_token)
        headers = {
            "X-OAuth-Scopes": ", ".join(token.scopes),
            "X-Accepted-OAuth-Scopes": "",
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(remaining, 0)),
            "X-RateLimit-Used": str(limit - remaining),
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Resource": "core",
        }
        if remaining < 0:
            self._json(
                403, {"message": "API rate limit exceeded", "documentation_url": DOCS}, headers
            )
            return None
        return token, headers

    def api_user(self) -> None:
        found = self._authenticated()
        if found:
            token, headers = found
            user = self.server.model.users[token.login]
            self._json(
                200,
                {
                    "login": user.login,
                    "id": user.id,
                    "name": user.name or user.login,
                    "type": "User",
                    "html_url": f"{self.base_url}/{user.login}",
                },
                headers,
            )

    def api_user_repos(self) -> None:
        found = self._authenticated()
        if not found:
            return
        token, headers = found
        user = self.server.model.users[token.login]
        try:
            per_page = min(max(int(self.query.get("per_page", 30)), 1), 100)
            page = max(int(self.query.get("page", 1)), 1)
        except ValueError:
            self._json(422, {"message": "Validation Failed", "documentation_url": DOCS})
            return
        total = user.repo_count
        start = (page - 1) * per_page
        items = [_repo(user.login, user.id, i) for i in range(start, min(start + per_page, total))]
        link = _link_header(
            f"{self.base_url}/api/v3/user/repos",
            self.query,
            page,
            max(1, math.ceil(total / per_page)),
        )
        if link:
            headers["Link"] = link
        self._json(200, items, headers)

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
            token.revoked = True
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
                "point the 'sandbox' provider at this host: invoke auth.configure -p sandbox "
                f"--host {self.base_url.split('//')[1]}",
            ),
        )


def _repo(login: str, owner_id: int, index: int) -> dict[str, Any]:
    name = f"repo-{index + 1:05d}"
    return {
        "id": owner_id * 100000 + index + 1,
        "name": name,
        "full_name": f"{login}/{name}",
        "private": index % 3 == 0,
        "owner": {"login": login, "id": owner_id},
        "description": f"Sandbox repository number {index + 1}",
        "fork": index % 7 == 0,
        "stargazers_count": (index * 37) % 101,
        "language": ("Python", "Go", "Rust")[index % 3],
    }


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
    ("POST", r"/login/device/code", Handler.device_code),
    ("GET", r"/login/device", Handler.device_page),
    ("POST", r"/login/device", Handler.device_decision),
    ("GET", r"/api/v3/user", Handler.api_user),
    ("GET", r"/api/v3/user/repos", Handler.api_user_repos),
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
