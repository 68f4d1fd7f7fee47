"""A programmable, hostile HTTP server on 127.0.0.1, for tests of what a server can send.

Each path answers what the test last told it to: a status, headers and body bytes, sent
as given (no Content-Type is added, nothing is encoded or checked), or one of five broken
modes: `truncate` (a Content-Length larger than the body, then the connection closes),
`close` (the connection closes without a byte of answer), `hang` (the request is read
and never answered, until the server stops), `trickle` (the headers at once, then the
body one byte every `TRICKLE_SECONDS`) and `slow` (the whole answer after `SLOW_SECONDS`).
A path can be given a sequence of answers: they are served in order and the last one
repeats. Unknown paths answer 404.

Every request is recorded (method, path with query, headers, body), so a test can check
where a secret went. After `limit` requests the server stops playing along and answers
599 (and `overflowed` turns true): a client that loops forever ends instead of hanging
the test, and the test can tell that it looped.

Only loopback: the server binds 127.0.0.1 and drops any other peer. `loopback_only`
also stops the test process from connecting anywhere else.

    with HostileServer() as server:
        server.answer("/token", Answer.json([1, 2, 3]))
        requests.post(server.url + "/token")
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

Mode = Literal["normal", "truncate", "close", "hang", "trickle", "slow"]
TRICKLE_SECONDS = 0.2
SLOW_SECONDS = 1.0  # how long a `slow` answer waits before it is sent, whole
LOOPBACK = ("127.0.0.1", "::1", "localhost")
OVERFLOW_STATUS = 599


@dataclass(frozen=True, repr=False)
class Answer:
    """One HTTP answer, exactly as it is to be sent."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    mode: Mode = "normal"

    @classmethod
    def json(
        cls, value: Any, status: int = 200, headers: tuple[tuple[str, str], ...] = ()
    ) -> Answer:
        """`value` as JSON (NaN and Infinity allowed, as a sloppy server writes them)."""
        body = json.dumps(value).encode()
        return cls(status, body, (("Content-Type", "application/json"), *headers))

    @classmethod
    def html(cls, status: int = 200, text: str = "<html><body>Oops</body></html>") -> Answer:
        return cls(status, text.encode(), (("Content-Type", "text/html; charset=utf-8"),))

    def __repr__(self) -> str:
        """Short enough for a failure report, even for a 100 kB body."""
        body = self.body
        if len(body) > 300:
            body = body[:200] + b"...(%d bytes in all)" % len(body)
        headers = tuple((k, v if len(v) <= 200 else v[:100] + "...") for k, v in self.headers)
        mode = "" if self.mode == "normal" else f", mode={self.mode!r}"
        return f"Answer({self.status}, {body!r}, {headers!r}{mode})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Hypothesis (like IPython) prints with this: the short form too."""
        printer.text(repr(self))


@dataclass(frozen=True)
class Request:
    """One request as the server received it."""

    method: str
    path: str  # with the query string
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def mentions(self, secret: str) -> bool:
        """Does `secret` appear anywhere in the request (path, headers or body)?"""
        text = " ".join([self.path, *self.headers.values()]).encode() + b" " + self.body
        return secret.encode() in text or secret.encode() in _unquoted(text)


def _unquoted(data: bytes) -> bytes:
    from urllib.parse import unquote_to_bytes

    return unquote_to_bytes(data.replace(b"+", b" "))


@dataclass
class _State:
    routes: dict[str, list[Answer]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    limit: int = 60
    overflowed: bool = False


class HostileServer:
    """The server, run from a daemon thread; `answer()` programs it, `requests` tells."""

    def __init__(self) -> None:
        self._state = _State()
        self._lock = threading.Lock()
        self.stopping = threading.Event()  # ends `hang` and `trickle` answers
        self._httpd = _Server(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), daemon=True, name="hostile-server"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> HostileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self, limit: int = 60) -> None:
        """Forget every programmed answer and recorded request; allow `limit` requests."""
        with self._lock:
            self._state = _State(limit=limit)

    def answer(self, path: str, *answers: Answer) -> None:
        """Serve `answers` in order at `path` (any query); the last one repeats."""
        if not answers:
            raise ValueError("give at least one answer")
        with self._lock:
            self._state.routes[urlsplit(path).path] = list(answers)

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._state.requests)

    @property
    def overflowed(self) -> bool:
        """Did a client send more than `limit` requests since the last reset?"""
        with self._lock:
            return self._state.overflowed

    def paths(self) -> list[str]:
        """The path (no query) of each request, in order."""
        return [urlsplit(r.path).path for r in self.requests]

    def _next_answer(self, request: Request) -> Answer:
        with self._lock:
            state = self._state
            state.requests.append(request)
            if len(state.requests) > state.limit:
                state.overflowed = True
                return Answer(OVERFLOW_STATUS, b"hostile server: request limit reached")
            queue = state.routes.get(urlsplit(request.path).path)
            if not queue:
                return Answer.json({"message": "Not Found"}, 404)
            return queue.pop(0) if len(queue) > 1 else queue[0]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: HostileServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.owner = owner

    def verify_request(self, request: Any, client_address: Any) -> bool:
        return client_address[0] in LOOPBACK


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # a client that stops sending does not keep a thread forever

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        request = Request(
            self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
        )
        answer = self.server.owner._next_answer(request)
        self.close_connection = True
        if answer.mode == "close":
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if answer.mode == "slow" and self.server.owner.stopping.wait(SLOW_SECONDS):
            return
        if answer.mode == "hang":
            self.server.owner.stopping.wait()
            return
        try:
            reason = HTTPStatus(answer.status).phrase
        except ValueError:
            reason = "Whatever"
        lines = [f"HTTP/1.1 {answer.status} {reason}".encode()]
        names = {name.lower() for name, _ in answer.headers}
        for name, value in answer.headers:
            lines.append(name.encode("utf-8") + b": " + value.encode("utf-8"))
        if "content-length" not in names:
            size = len(answer.body) + (1000 if answer.mode == "truncate" else 0)
            lines.append(b"Content-Length: %d" % size)
        lines.append(b"Connection: close")
        head = b"\r\n".join(lines) + b"\r\n\r\n"
        if answer.mode == "trickle":
            self.wfile.write(head)
            for byte in answer.body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                if self.server.owner.stopping.wait(TRICKLE_SECONDS):
                    return
            return
        self.wfile.write(head + (b"" if self.command == "HEAD" else answer.body))
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the tests read `requests` instead


def loopback_only(monkeypatch: Any) -> list[str]:
    """Make the process refuse to resolve (so to contact) any host but loopback.

    Returns the list that collects each refused host, for a test to assert on.
    """
    refused: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name.strip("[]").lower() not in LOOPBACK:
            refused.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"hostile tests stay on loopback: {name}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return refused


# -- a provider and a stored token pointing at this server, for the client's tests --------

TOKEN = "gho_stored_access_token_abcdef"  # the stored owner's access token


def provider_file(tmp_path: Path, server: HostileServer, monkeypatch: Any) -> Path:
    """Provider `hostile` (its API under the server's /api) in a providers file that the
    environment names."""
    path = tmp_path / "providers.yaml"
    path.write_text(
        "hostile:\n"
        f"  authorize_url: {server.url}/authorize\n"
        f"  token_url: {server.url}/token\n"
        f"  api_base: {server.url}/api\n"
        "  client_auth: client_secret_post\n"
    )
    monkeypatch.setenv("OAUTHDANCE_PROVIDERS", str(path))
    return path


def with_token(tmp_path: Path, server: HostileServer, monkeypatch: Any) -> Path:
    """A credentials file with a stored, non-expiring token for provider `hostile`."""
    provider_file(tmp_path, server, monkeypatch)
    path = tmp_path / "creds.json"
    record = {
        "client_id": "cid",
        "tokens": {"octocat": {"access_token": TOKEN, "token_type": "bearer"}},
        "default_user": "octocat",
    }
    path.write_text(json.dumps({"hostile": record}))
    return path
