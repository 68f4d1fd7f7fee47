"""A one-shot loopback redirect receiver (RFC 8252 §7.3) for `auth.login`.

It listens on 127.0.0.1 only, answers the browser with a small page, ignores other
paths and redirects carrying another state (and keeps waiting), and closes its socket
however the wait ends.
"""

from __future__ import annotations

import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit, urlunsplit

from . import pages
from .errors import REDIRECT_ERROR_HINTS, ConfigError, LoginTimeout, advice, printable


class CallbackServer:
    """Listens for the one redirect that carries `state`; see `wait`."""

    def __init__(self, redirect_uri: str, port: int | None, any_port: bool) -> None:
        parts = urlsplit(redirect_uri)
        if port is None:
            port = 0 if any_port else (parts.port or 80)
        try:
            self._server = _Server(("127.0.0.1", port), _Handler)
        except OSError as exc:
            raise ConfigError(
                f"cannot receive the redirect: port {port} on 127.0.0.1 is busy ({exc.strerror})",
                "pass --port with a free port (the app's callback must allow it), stop what "
                "holds that port, or use --paste to copy the redirect by hand",
            ) from exc
        self.port = self._server.server_address[1]
        self.path = parts.path or "/"
        self.redirect_uri = urlunsplit(("http", f"127.0.0.1:{self.port}", self.path, "", ""))

    def wait(self, state: str, timeout: float, log: TextIO | None = None) -> str:
        """Serve until the redirect with `state` arrives; return its full URL."""
        server = self._server
        server.expected_path, server.expected_state = self.path, state
        server.result, server.log = None, log or sys.stderr
        deadline = time.monotonic() + timeout
        while server.result is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LoginTimeout(
                    f"no redirect arrived within {timeout:g} seconds",
                    "run the login again (with a longer --timeout), or use --paste",
                )
            server.timeout = min(left, 0.5)
            server.handle_request()
        return f"{self.redirect_uri}?{server.result}"

    def close(self) -> None:
        self._server.server_close()

    def __enter__(self) -> CallbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Server(HTTPServer):
    expected_path = "/"
    expected_state = ""
    result: str | None = None
    log: TextIO = sys.stderr


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no tokens in logs
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != self.server.expected_path:
            self._page(
                404,
                pages.notice_page(
                    "Not found", "This address is not the login callback.", "return to the terminal"
                ),
            )
            return
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if params.get("state") != self.server.expected_state:
            print(
                "ignored a redirect with an unexpected state; still waiting",
                file=self.server.log,
                flush=True,
            )
            self._page(
                400,
                pages.notice_page(
                    "Not this login",
                    "This redirect belongs to another login attempt.",
                    "finish the login started most recently, or start again",
                ),
            )
            return
        if "error" in params:
            error = params["error"]
            self._page(
                200,
                pages.notice_page(
                    "Login failed",
                    f"The provider answered {printable(error, 80)}: "
                    f"{printable(params.get('error_description', ''))}",
                    advice(REDIRECT_ERROR_HINTS, error) or "return to the terminal and try again",
                ),
            )
        else:
            self._page(
                200,
                pages.notice_page(
                    "Login complete",
                    "You are signed in. oauthdance is fetching the token.",
                    "close this tab and return to the terminal",
                ),
            )
        self.server.result = parts.query

    def _page(self, status: int, html: str) -> None:
        body = html.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)
