"""The one way oauthdance sends HTTP: sessions with timeouts and retries, and calls that
carry secrets.

- `new_session()`: every request gets a (connect, read) timeout unless it names its own;
  idempotent requests are retried when they cannot connect and on 502/503/504, with
  backoff (never after a read timed out, so a server that hangs costs one timeout), but
  never by sleeping out a `Retry-After` (a 403/429 comes back to the caller, whose
  rate-limit gate shows notices and honours `--no-wait`).
- `call()`: one request to an authorization server or user endpoint. It carries secrets,
  so the URL must be https (or http on loopback), redirects are refused rather than
  followed, the answer is read under an overall deadline and a size limit, and every
  failure is a `NetworkError`.
- `PagePool`: the fetch engine's GETs, through urllib3's pool directly (half the CPU of a
  `requests` call per page), with the same timeouts and retries; redirects are followed
  only within the origin, and every failure is a `NetworkError`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError as UrllibError
from urllib3.util.retry import Retry

from .errors import NetworkError, printable
from .urls import is_secure, origin

USER_AGENT = "oauthdance/0.1 (+https://pypi.org/project/oauthdance/)"
TIMEOUT = (10.0, 30.0)  # seconds to connect, and to wait for each read
DEADLINE = 30.0  # seconds a whole call to an authorization server may take
MAX_ANSWER_BYTES = 1 << 20  # an authorization server's answer is a few hundred bytes
RETRIES = 3
UNREACHABLE_HINT = (
    "check the network and the provider's host (for the sandbox: is `invoke sandbox.serve` "
    "running on that port?)"
)


class TimeoutAdapter(HTTPAdapter):
    """An `HTTPAdapter` that gives each request a default timeout (requests has none)."""

    def __init__(self, timeout: tuple[float, float], **kwargs: Any) -> None:
        self.default_timeout = timeout
        super().__init__(**kwargs)

    def send(self, request: Any, timeout: Any = None, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        return super().send(request, timeout=timeout or self.default_timeout, **kwargs)


class Session(requests.Session):
    """A `requests.Session` whose paths starting with `/` are relative to `base_url`."""

    def __init__(self, base_url: str = "") -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if isinstance(url, str) and url.startswith("/") and self.base_url:
            url = self.base_url + url
        return super().request(method, url, *args, **kwargs)


def new_session(
    base_url: str = "",
    *,
    auth: requests.auth.AuthBase | None = None,
    pool_size: int = 10,
    retries: int = RETRIES,
    timeout: tuple[float, float] | None = None,
) -> Session:
    """A session with oauthdance's defaults: User-Agent, timeouts (`TIMEOUT` unless given),
    retries, `auth`."""
    session = Session(base_url)
    session.headers["User-Agent"] = USER_AGENT
    session.auth = auth
    adapter = TimeoutAdapter(
        timeout or TIMEOUT, max_retries=_retry(retries), pool_maxsize=max(pool_size, 1)
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    _read_environment_once(session)
    return session


def _retry(retries: int) -> Retry:
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


def _read_environment_once(session: requests.Session) -> None:
    """Settle per session what requests would look up in the environment on every request.

    With no proxy configured, requests still checks proxy variables and ~/.netrc on each
    call (about 1 ms; tokens are sent explicitly, so netrc never applies). Where a proxy
    is configured, the per-request lookup stays, so NO_PROXY keeps working.
    """
    import os
    from urllib.request import getproxies

    if any(getproxies().values()):
        return
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False


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
        from requests.utils import parse_header_links

        value = self.headers.get("Link")
        links = parse_header_links(value) if value else []
        return {link.get("rel") or link["url"]: link for link in links if link.get("url")}


_endpoint_session: Session | None = None


def call(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    data: Mapping[str, Any] | str | None = None,
    json_body: Any = None,
    deadline: float | None = None,
    limit: int = MAX_ANSWER_BYTES,
) -> Answer:
    """Send one request that carries secrets; read its whole answer within `deadline`
    seconds (`DEADLINE` unless given)."""
    global _endpoint_session
    if not is_secure(url):
        raise NetworkError(
            f"refusing to send credentials to {url!r}: it is neither https nor loopback http",
            "fix the provider's URLs (every endpoint must be https://, or http:// on 127.0.0.1)",
        )
    if _endpoint_session is None:  # one keep-alive session: chained steps reuse connections
        _endpoint_session = new_session()
    started = time.monotonic()
    deadline = DEADLINE if deadline is None else deadline
    read_timeout = min(TIMEOUT[1], deadline)
    try:
        response = _endpoint_session.request(
            method,
            url,
            headers=dict(headers or {}),
            data=data,
            json=json_body,
            allow_redirects=False,
            stream=True,
            timeout=(TIMEOUT[0], read_timeout),
        )
        try:
            content = _read_body(response, started + deadline, limit)
        finally:
            response.close()
    except NetworkError:
        raise
    except (requests.RequestException, UrllibError, OSError, ValueError) as exc:
        # UrllibError: a body broken off or timed out while read
        raise NetworkError(
            f"could not reach {url}: {type(exc).__name__}", UNREACHABLE_HINT
        ) from exc
    if 300 <= response.status_code < 400:
        raise NetworkError(
            f"{url} answered with a redirect (HTTP {response.status_code}); requests that "
            "carry credentials never follow redirects",
            "use the endpoint's final URL in the provider's settings",
        )
    return Answer(url, response.status_code, dict(response.headers), content)


def _read_body(response: requests.Response, deadline: float, limit: int) -> bytes:
    """The body, read as it arrives; a slow trickle or an oversized answer is an error."""
    chunks: list[bytes] = []
    size = 0
    raw = response.raw
    while True:
        if time.monotonic() > deadline:
            raise NetworkError(
                f"{response.url} did not finish answering in time",
                "try again later; if it keeps happening, the provider is too slow or broken",
            )
        chunk = raw.read1(64 * 1024, decode_content=True)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise NetworkError(
                f"{response.url} answered with more than {limit // 1024} KiB",
                "check the provider's endpoint URLs: this is not an OAuth answer",
            )
        chunks.append(chunk)


MAX_PAGE_BYTES = 256 << 20  # a page of API data larger than this is not a page
MAX_SAME_ORIGIN_REDIRECTS = 5


class PagePool:
    """Keep-alive GETs for the fetch engine, one connection per worker.

    It sits below requests, on urllib3's pool, because a page costs half the CPU there and
    a fetch is CPU-bound on a fast link; the public session type stays `requests`. The
    same timeouts and retries as `new_session`; the same proxies and CA bundle as requests
    (the environment's proxies, `REQUESTS_CA_BUNDLE`/`CURL_CA_BUNDLE`, else certifi).
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

        connect, read = timeout or TIMEOUT
        self.headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}
        self.headers.update(headers or {})
        options: dict[str, Any] = {
            "maxsize": max(size, 1),
            "retries": _retry(retries),
            "timeout": urllib3.Timeout(connect=connect, read=read),
            "ca_certs": _ca_bundle(),
        }
        self._direct = urllib3.PoolManager(**options)
        self._options = options
        self._proxies: dict[str, Any] = {}
        self._proxy_for = {scheme: url for scheme, url in getproxies().items() if url}

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Answer:
        """One GET: the whole answer, following redirects within the URL's origin only."""
        from urllib.parse import urljoin

        sent = {**self.headers, **(headers or {})}
        for _ in range(MAX_SAME_ORIGIN_REDIRECTS + 1):
            reply = self._get_once(url, sent)
            location = reply.headers.get("Location")
            if reply.status_code not in (301, 302, 303, 307, 308) or not location:
                return reply
            target = urljoin(url, location)
            if origin(target) != origin(url):
                return reply  # the caller says what it is; the token never leaves its origin
            url = target
        raise NetworkError(
            f"{printable(url)} redirects more than {MAX_SAME_ORIGIN_REDIRECTS} times",
            "check the path; the provider's redirects go round in a circle",
        )

    def _get_once(self, url: str, headers: Mapping[str, str]) -> Answer:
        if not is_secure(url):
            raise NetworkError(
                f"refusing to send a token to {printable(url)!r}: it is neither https nor "
                "loopback http",
                "fix the provider's api_base (https://, or http:// on 127.0.0.1)",
            )
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
            raise NetworkError(
                f"could not fetch {printable(url)}: {type(exc).__name__}",
                "check the network and the provider's host; what was fetched so far is saved",
            ) from exc
        return Answer(url, answer.status, answer.headers, content)

    def _manager(self, url: str) -> Any:
        """The pool for `url`: direct, or through the proxy the environment names for it
        (read once per pool: looking it up costs more than a page does)."""
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
