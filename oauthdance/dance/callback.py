"""A one-shot loopback redirect receiver (RFC 8252 §7.3) for `auth.login`.

It listens on 127.0.0.1 only and serves each connection in a thread of its own with a short
timeout, so an idle or slow client (a browser's speculative connection, a port scan) holds
up neither the real redirect nor the `--timeout` deadline. It ignores other paths and
redirects carrying another state (and keeps waiting), takes the redirect it waits for
before it answers the browser (a browser that gives up cannot drop the code), and closes
its socket however the wait ends.
"""

from __future__ import annotations

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit, urlunsplit

from oauthdance.base import pages
from oauthdance.base.advice import Asked, Command, Hint, asked, setting
from oauthdance.base.errors import (
    REDIRECT_ERROR_HINTS,
    AuthorizationError,
    ConfigError,
    LoginTimeout,
    advice,
    printable,
)
from oauthdance.protocol import oauth

CONNECTION_TIMEOUT = 5.0  # seconds a client may idle while sending its request or reading
POLL_INTERVAL = 0.1  # seconds between looks at the deadline and at what has arrived


class CallbackServer:
    """Listens for the one redirect that carries `state`; see `wait`.

    `command` is the `auth.login` that started the login, for the advice in errors and on
    the pages the browser is shown; those are made on the server's threads, so they are
    spelt for the face and flags in use when the server starts (`asked()` here).
    """

    def __init__(
        self, redirect_uri: str, port: int | None, any_port: bool, command: Command
    ) -> None:
        parts = urlsplit(redirect_uri)
        if port is None:
            port = 0 if any_port else (parts.port or 80)
        self.command = command
        try:
            self._server = _Server(("127.0.0.1", port), _Handler)
            self._server.asked, self._server.command = asked(), command
        except OSError as exc:
            raise ConfigError(
                f"cannot receive the redirect: port {port} on 127.0.0.1 is busy ({exc.strerror})",
                Hint(
                    f"run {{login}} with {setting('port')} and a free port (the app's callback "
                    "must allow it), stop what holds that port, or copy the redirect by hand: "
                    "{paste}",
                    login=command,
                    paste=command.with_flags(paste=None),
                ),
            ) from exc
        self.port = self._server.server_address[1]
        self.path = parts.path or "/"
        self.redirect_uri = urlunsplit(("http", f"127.0.0.1:{self.port}", self.path, "", ""))

    def wait(self, state: str, timeout: float, log: TextIO | None = None) -> str:
        """Serve until the redirect with `state` arrives; return the full URL it came to.

        `timeout` is a deadline: nothing a client does (or does not do) stretches it.
        """
        server = self._server
        server.expect(self.path, state, log or sys.stderr)
        deadline = time.monotonic() + timeout
        while not server.arrived.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                raise LoginTimeout(
                    f"no redirect arrived within {timeout:g} seconds",
                    Hint(
                        f"run {{login}} again with a longer {setting('timeout')}, or {{paste}}",
                        login=self.command,
                        paste=self.command.with_flags(paste=None),
                    ),
                )
            server.timeout = min(left, POLL_INTERVAL)
            server.handle_request()  # accepts at most one connection, served by its own thread
        assert server.result is not None
        return server.result

    def close(self) -> None:
        self._server.server_close()

    def __enter__(self) -> CallbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Server(ThreadingMixIn, HTTPServer):
    daemon_threads = True  # a client still connected when the login ends holds nothing up
    expected_path = "/"
    expected_state = ""
    log: TextIO = sys.stderr
    result: str | None = None
    asked: Asked = Asked()  # the face and flags of the login, for the pages' advice
    command: Command = Command("auth.login")
    arrived: threading.Event
    _taking: threading.Lock

    def expect(self, path: str, state: str, log: TextIO) -> None:
        self.expected_path, self.expected_state, self.log = path, state, log
        self.result, self.arrived, self._taking = None, threading.Event(), threading.Lock()

    def take(self, url: str) -> None:
        """Keep the first redirect for this login; `wait` returns it."""
        with self._taking:
            if self.result is None:
                self.result = url
                self.arrived.set()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away or stalled is no error of ours: nothing to report."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = CONNECTION_TIMEOUT  # per socket operation (see StreamRequestHandler.setup)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no tokens in logs
        pass

    def do_GET(self) -> None:
        try:
            parts = urlsplit(self.path)
        except ValueError:  # `GET http://[oops/...`: not a URL at all
            parts = None
        if parts is None or parts.path != self.server.expected_path:
            self._page(
                404,
                pages.notice_page(
                    "Not found", "This address is not the login callback.", "return to the terminal"
                ),
            )
            return
        states = parse_qs(parts.query, keep_blank_values=True).get("state", [])
        if self.server.expected_state not in states:
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
        # The URL as it came: the login checks it as `auth.code --url` would (a state given
        # twice, say, is refused there, with the advice shown in the terminal).
        here = f"127.0.0.1:{self.server.server_address[1]}"
        url = urlunsplit(("http", here, parts.path, parts.query, ""))
        self.server.take(url)  # first: the page below may never reach a browser that gave up
        self._page(200, _answer_page(url, self.server.asked, self.server.command.provider))

    def _page(self, status: int, html: str) -> None:
        """Answer; a client that stopped listening gets nothing, quietly."""
        body = html.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # BrokenPipeError, ConnectionResetError, a timeout: it went away
            self.close_connection = True


def _answer_page(url: str, now: Asked, provider: str | None = None) -> str:
    """What the browser is told about the redirect it brought; its advice is spelt as `now`
    says (this runs on a server thread, where the login's context is not)."""
    try:
        redirect = oauth.parse_redirect(url)
        oauth.check_redirect_values(redirect)
    except AuthorizationError as exc:
        return pages.notice_page(
            "Login failed",
            f"This redirect cannot be used: {exc.message}",
            "return to the terminal and start again",
        )
    if redirect.error:
        hint = advice(REDIRECT_ERROR_HINTS, redirect.error, provider or "")
        return pages.notice_page(
            "Login failed",
            f"The provider answered {printable(redirect.error, 80)}: "
            f"{printable(redirect.error_description or '')}",
            hint.render(now) if hint else "return to the terminal and try again",
        )
    return pages.notice_page(
        "Login complete",
        "You are signed in. oauthdance is fetching the token.",
        "close this tab and return to the terminal",
    )
