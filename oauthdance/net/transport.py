"""What sits under every request oauthdance sends: urllib3, with one policy.

- `TIMEOUT` and `retry_policy()`: a (connect, read) timeout on every request; idempotent
  requests retried when they cannot connect and on 502/503/504, with backoff, never
  after a read timed out (a hang costs one timeout) and never by sleeping out a
  `Retry-After` (a 403/429 goes back to the caller, whose rate-limit gate shows notices
  and honours `--no-wait`). `http.py` gives requests sessions the same policy.
- `Answer`: an answer read whole.
- `PagePool`: the fetch engine's GETs, straight on urllib3's connections (half the CPU of
  a `requests` call per page, and requests is never imported on that path), each sent
  now and its answer read when the caller is ready for it (`Pending`); redirects are
  followed only within the origin, bodies are bounded, and every failure is a
  `NetworkError`.
"""

from __future__ import annotations

import json
import re
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.client import HTTPException
from typing import Any

from urllib3.exceptions import HTTPError as UrllibError
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from oauthdance.base.errors import NetworkError, printable
from oauthdance.protocol.urls import is_secure, origin

USER_AGENT = "oauthdance/0.1 (+https://pypi.org/project/oauthdance/)"
TIMEOUT = (10.0, 30.0)  # seconds to connect, and to wait for each read
RETRIES = 3


def retry_policy(retries: int = RETRIES) -> Retry:
    """Connection failures and 502/503/504 again, with backoff; never a timed-out read
    (a hang costs one timeout) and never by sleeping out a `Retry-After`."""
    return Retry(
        total=retries,
        read=False,
        redirect=False,
        backoff_factor=0.3,
        backoff_jitter=0.2,
        status_forcelist=(502, 503, 504),
        allowed_methods=Retry.DEFAULT_ALLOWED_METHODS,
        respect_retry_after_header=False,  # the caller's rate-limit gate owns Retry-After
        raise_on_status=False,
    )


@dataclass(frozen=True)
class Answer:
    """An answer read whole: status, headers and body (an authorization server's, or a page
    of API data)."""

    url: str
    status_code: int
    headers: Mapping[str, str] = field(repr=False)
    content: bytes = field(repr=False)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; `ValueError` if it is not JSON."""
        return json.loads(self.content)

    def json_or_none(self) -> Any:
        """The body as JSON, or None where it is not JSON (HTML, truncated, empty)."""
        try:
            return self.json()
        except ValueError:
            return None

    @property
    def links(self) -> dict[str, dict[str, str]]:
        """The `Link` header by relation: `{"next": {"url": ...}}`, as requests gives it."""
        return parse_links(self.headers.get("Link") or "")


_LINK = re.compile(r"<([^<>\s]*)>((?:\s*;\s*[^;,<]*)*)")
_PARAM = re.compile(r"""\s*;\s*([^=;,\s]+)\s*=\s*("[^"]*"|[^;,\s]*)""")


def parse_links(value: str) -> dict[str, dict[str, str]]:
    """A `Link` header (RFC 8288: `<url>; rel="next", <url>; rel="last"`) by relation, in
    requests' shape; a relation named twice keeps its first link, and what does not parse
    is left out."""
    links: dict[str, dict[str, str]] = {}
    for match in _LINK.finditer(value):
        if not match.group(1).strip():
            continue
        params = {name.lower(): raw.strip('"') for name, raw in _PARAM.findall(match.group(2))}
        for rel in params.get("rel", "").split():
            links.setdefault(rel.lower(), {"url": match.group(1).strip(), **params})
    return links


MAX_PAGE_BYTES = 256 << 20  # a page of API data larger than this is not a page
MAX_SAME_ORIGIN_REDIRECTS = 5


@dataclass(frozen=True)
class Pending:
    """A request on its way: `answer()` reads its answer (waiting for it if need be);
    `discard()` gives it up unread (its connection is closed, not reused)."""

    answer: Callable[[], Answer]
    discard: Callable[[], None] = lambda: None


RETRIED_STATUSES = (502, 503, 504)
WRITE_ERRORS = (UrllibError, HTTPException, OSError, ValueError)  # a try that goes again
REDIRECTS = (301, 302, 303, 307, 308)


class PagePool:
    """Keep-alive GETs for the fetch engine: one connection per request in flight.

    It sits below requests, on urllib3's connections, because a page costs half the CPU
    there and a fetch is CPU-bound on a fast link; the public session type stays
    `requests`. `send` writes a GET on an idle connection of its own and returns at once,
    so the caller can work on the previous page while the server answers this one;
    anything but a plain answer on that first try (a dropped connection, a 502/503/504, a
    redirect, a proxy) goes the way `get` does, on urllib3's pool with the same timeouts
    and retries as `new_session`, and the same proxies and CA bundle as requests (the
    environment's proxies, `REQUESTS_CA_BUNDLE`/`CURL_CA_BUNDLE`, else certifi).
    """

    def __init__(
        self,
        headers: Mapping[str, str] | None = None,
        *,
        size: int = 10,
        retries: int = RETRIES,
        timeout: tuple[float, float] | None = None,
    ) -> None:
        from urllib.request import getproxies

        import urllib3

        self._timeout = timeout or TIMEOUT
        connect, read = self._timeout
        self.headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}
        self.headers.update(headers or {})
        self._ca_certs = _ca_bundle()
        options: dict[str, Any] = {
            "maxsize": max(size, 1),
            "retries": retry_policy(retries),
            "timeout": urllib3.Timeout(connect=connect, read=read),
            "ca_certs": self._ca_certs,
        }
        self._direct = urllib3.PoolManager(**options)
        self._options = options
        self._proxies: dict[str, Any] = {}
        self._proxy_for = {scheme: url for scheme, url in getproxies().items() if url}
        self._idle: dict[tuple[str, str, int | None], list[Any]] = {}
        self._lock = threading.Lock()
        weakref.finalize(self, _close_all, self._idle)  # as urllib3's pools close theirs

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Answer:
        """One GET: the whole answer, following redirects within the URL's origin only."""
        sent = {**self.headers, **(headers or {})}
        return self._followed(url, sent, self._get_once(url, sent))

    def send(self, url: str, headers: Mapping[str, str] | None = None) -> Pending:
        """One GET, written now on a keep-alive connection of its own; its answer is read
        when asked for. What cannot go that way is fetched by `get` when asked for."""
        from urllib.parse import urlsplit

        _check_secure(url)
        parts = urlsplit(url)
        if self._manager(url) is not self._direct:  # through a proxy: urllib3's way
            return Pending(lambda: self.get(url, headers))
        key = (parts.scheme, parts.hostname or "", parts.port)
        sent = {**self.headers, **(headers or {})}
        connection = self._connection(key)
        connection.timeout = self._timeout[0]
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

        def write() -> None:
            connection.request("GET", target, headers=sent, preload_content=False)

        if connection.sock is None:  # a new connection: its handshake, on a thread of its own
            writing = _Writing(connection, write)
            return Pending(
                lambda: (
                    self._answer(connection, key, url, headers, sent)
                    if writing.finished()
                    else self.get(url, headers)
                ),
                writing.discard,
            )
        try:
            write()
        except WRITE_ERRORS:
            connection.close()
            return Pending(lambda: self.get(url, headers))  # tried again, as urllib3 would
        return Pending(lambda: self._answer(connection, key, url, headers, sent), connection.close)

    def _connection(self, key: tuple[str, str, int | None]) -> Any:
        """An idle connection to `key`'s origin (one the server dropped is opened afresh
        when used), else a new one."""
        with self._lock:
            idle = self._idle.get(key)
            connection = idle.pop() if idle else None
        if connection is not None:
            if connection.sock is not None and not connection.is_connected:
                connection.close()  # the next request connects again
            return connection
        from urllib3.connection import HTTPConnection, HTTPSConnection

        scheme, host, port = key
        if scheme == "http":
            return HTTPConnection(host, port, timeout=self._timeout[0])
        return HTTPSConnection(
            host, port, timeout=self._timeout[0], cert_reqs="CERT_REQUIRED", ca_certs=self._ca_certs
        )

    def _answer(
        self,
        connection: Any,
        key: tuple[str, str, int | None],
        url: str,
        headers: Mapping[str, str] | None,
        sent: Mapping[str, str],
    ) -> Answer:
        """The answer to a request `send` wrote: read whole, its connection kept for the
        next one; a failure or a 502/503/504 goes again through `get` (with its retries)."""
        try:
            connection.timeout = self._timeout[1]
            response = connection.getresponse()
            content = _read_page(response, url)
        except NetworkError:
            connection.close()
            raise
        except (TimeoutError, ReadTimeoutError) as exc:  # a hang costs one timeout, not two
            connection.close()
            raise _unreachable(url, exc) from exc
        except WRITE_ERRORS:
            connection.close()
            return self.get(url, headers)
        with self._lock:
            self._idle.setdefault(key, []).append(connection)
        if response.status in RETRIED_STATUSES:
            return self.get(url, headers)
        return self._followed(url, sent, Answer(url, response.status, response.headers, content))

    def _followed(self, url: str, sent: Mapping[str, str], reply: Answer) -> Answer:
        """`reply`, or where it redirects to within `url`'s origin."""
        from urllib.parse import urljoin

        followed = 0
        while True:
            location = reply.headers.get("Location")
            if reply.status_code not in REDIRECTS or not location:
                return reply
            target = urljoin(url, location)
            if origin(target) != origin(url):
                return reply  # the caller says what it is; the token never leaves its origin
            if followed == MAX_SAME_ORIGIN_REDIRECTS:
                raise NetworkError(
                    f"{printable(url)} redirects more than {MAX_SAME_ORIGIN_REDIRECTS} times",
                    "check the path; the provider's redirects go round in a circle",
                )
            followed += 1
            url = target
            reply = self._get_once(url, sent)

    def _get_once(self, url: str, headers: Mapping[str, str]) -> Answer:
        _check_secure(url)
        try:
            answer = self._manager(url).request(
                "GET", url, headers=headers, redirect=False, preload_content=False
            )
            try:
                content = _read_page(answer, url)
            finally:
                answer.release_conn()
        except NetworkError:
            raise
        except (UrllibError, OSError, ValueError) as exc:
            raise _unreachable(url, exc) from exc
        return Answer(url, answer.status, answer.headers, content)

    def _manager(self, url: str) -> Any:
        """The pool for `url`: direct, or through the proxy the environment names for it
        (read once per pool: looking it up costs more than a page does)."""
        if not self._proxy_for:
            return self._direct
        from urllib.parse import urlsplit
        from urllib.request import proxy_bypass

        parts = urlsplit(url)
        proxy = self._proxy_for.get(parts.scheme)
        if not proxy or proxy_bypass(parts.hostname or ""):
            return self._direct
        if proxy not in self._proxies:
            import urllib3

            self._proxies[proxy] = urllib3.ProxyManager(proxy, **self._options)
        return self._proxies[proxy]


class _Writing:
    """A request written on a new connection from a short-lived thread: a handshake takes
    round trips (TCP, then TLS), and several connections should open at once, as they did
    when each worker had a thread. Given up (`discard`), its connection is closed as soon
    as the thread is done with it, without waiting for a server that does not answer."""

    def __init__(self, connection: Any, write: Callable[[], None]) -> None:
        self._connection, self._write = connection, write
        self._lock = threading.Lock()
        self._done = self._discarded = False
        self._failed = False
        self._thread = threading.Thread(target=self._run, name="oauthdance-connect", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._write()
        except Exception:  # whatever it was, the request goes again through `get`
            self._failed = True
        with self._lock:
            self._done = True
            if self._discarded or self._failed:
                self._connection.close()

    def finished(self) -> bool:
        """Wait for the write: whether the request went out whole."""
        self._thread.join()
        return not self._failed

    def discard(self) -> None:
        with self._lock:
            self._discarded = True
            if self._done:
                self._connection.close()


def _close_all(idle: dict[Any, list[Any]]) -> None:
    for connections in idle.values():
        for connection in connections:
            connection.close()


def _unreachable(url: str, exc: Exception) -> NetworkError:
    return NetworkError(
        f"could not fetch {printable(url)}: {type(exc).__name__}",
        "check the network and the provider's host; what was fetched so far is saved",
    )


def _check_secure(url: str) -> None:
    if not is_secure(url):
        raise NetworkError(
            f"refusing to fetch {printable(url)!r}: it is not an https URL, nor http on loopback",
            "fix the provider's api_base (https://, or http:// on 127.0.0.1)",
        )


def _read_page(answer: Any, url: str) -> bytes:
    """The whole body; one that says or decodes past `MAX_PAGE_BYTES` is an error."""
    declared = answer.headers.get("Content-Length") or ""
    compressed = answer.headers.get("Content-Encoding", "identity") != "identity"
    if declared.isdigit() and int(declared) <= MAX_PAGE_BYTES and not compressed:
        return answer.read()  # urllib3 checks that exactly this many bytes came
    chunks, size = [], 0
    if compressed or not declared.isdigit():  # count what it decodes to, as it comes
        for chunk in answer.stream(1 << 20):
            size += len(chunk)
            if size > MAX_PAGE_BYTES:
                break
            chunks.append(chunk)
        else:
            return b"".join(chunks)
    raise NetworkError(
        f"{printable(url)} answered with more than {MAX_PAGE_BYTES:,} bytes",
        "ask for smaller pages (per_page), or check the path",
    )


def _ca_bundle() -> str:
    """The CA bundle requests would use: the environment's, else certifi's."""
    import os

    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        return bundle
    import certifi

    return certifi.where()
