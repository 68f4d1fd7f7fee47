"""The one way oauthdance sends HTTP: sessions with timeouts and retries, and calls that
carry secrets.

- `new_session()`: a `requests.Session` with `transport`'s timeout on every request
  that names none, and its retry policy.
- `call()`: one request to an authorization server or user endpoint. It carries secrets,
  so the URL must be https (or http on loopback), redirects are refused rather than
  followed, the answer is read under an overall deadline and a size limit, and every
  failure is a `NetworkError`.

Both rest on `transport.py`: its timeouts, retry policy and `Answer`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError as UrllibError

from oauthdance.base.advice import Command, Hint
from oauthdance.base.errors import NetworkError
from oauthdance.net import transport
from oauthdance.net.transport import USER_AGENT, Answer, retry_policy
from oauthdance.protocol.urls import is_secure

DEADLINE = 30.0  # seconds a whole call to an authorization server may take
MAX_ANSWER_BYTES = 1 << 20  # an authorization server's answer is a few hundred bytes
UNREACHABLE_HINT = Hint(
    "check the network and the provider's host (for the sandbox: is {serve} running on that port?)",
    serve=Command("sandbox.serve"),
)


class TimeoutAdapter(HTTPAdapter):
    """An `HTTPAdapter` that gives each request a default timeout (requests has none)."""

    def __init__(self, timeout: tuple[float, float], **kwargs: Any) -> None:
        self.default_timeout = timeout
        super().__init__(**kwargs)

    def send(  # type: ignore[override]  # requests' own signature names every argument
        self, request: Any, timeout: Any = None, **kwargs: Any
    ) -> requests.Response:
        return super().send(request, timeout=timeout or self.default_timeout, **kwargs)


class Session(requests.Session):
    """A `requests.Session` whose paths starting with `/` are relative to `base_url`."""

    def __init__(self, base_url: str = "") -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if isinstance(url, str) and url.startswith("/") and self.base_url:
            url = self.base_url + url
        return super().request(method, url, *args, **kwargs)


def new_session(
    base_url: str = "",
    *,
    auth: requests.auth.AuthBase | None = None,
    pool_size: int = 10,
    retries: int = transport.RETRIES,
    timeout: tuple[float, float] | None = None,
) -> Session:
    """A session with oauthdance's defaults: User-Agent, timeouts (`transport.TIMEOUT`
    unless given), retries, `auth`."""
    session = Session(base_url)
    session.headers["User-Agent"] = USER_AGENT
    session.auth = auth
    adapter = TimeoutAdapter(
        timeout or transport.TIMEOUT,
        max_retries=retry_policy(retries),
        pool_maxsize=max(pool_size, 1),
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    _read_environment_once(session)
    return session


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
    seconds (`DEADLINE` unless given). Each call has a session of its own: calls come from
    several threads (a keeper's refresh, a login's callback), which a `requests.Session`
    is not made for, and the calls of one step mostly go to different hosts anyway."""
    if not is_secure(url):
        raise NetworkError(
            f"refusing to send credentials to {url!r}: it is neither https nor loopback http",
            "fix the provider's URLs (every endpoint must be https://, or http:// on 127.0.0.1)",
        )
    started = time.monotonic()
    deadline = DEADLINE if deadline is None else deadline
    read_timeout = min(transport.TIMEOUT[1], deadline)
    try:
        with new_session() as session:
            response = session.request(
                method,
                url,
                headers=dict(headers or {}),
                data=data,
                json=json_body,
                allow_redirects=False,
                stream=True,
                timeout=(transport.TIMEOUT[0], read_timeout),
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
