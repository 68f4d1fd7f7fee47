"""The one place that sends HTTP: a shared `requests` session, timeouts, clear errors.

`requests` is imported on first use, so steps that send nothing start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import NetworkError

if TYPE_CHECKING:
    import requests

TIMEOUT_SECONDS = 30.0
USER_AGENT = "oauthdance/0.1 (+https://pypi.org/project/oauthdance/)"
_session: requests.Session | None = None


def shared_session() -> requests.Session:
    """One keep-alive session per process (connection reuse makes chained steps faster)."""
    global _session
    if _session is None:
        import requests

        _session = requests.Session()
        _session.headers["User-Agent"] = USER_AGENT
    return _session


def send(method: str, url: str, **kwargs: Any) -> requests.Response:
    """Send one request; a network failure becomes a `NetworkError` that says what to check."""
    import requests

    kwargs.setdefault("timeout", TIMEOUT_SECONDS)
    try:
        return shared_session().request(method, url, **kwargs)
    except requests.RequestException as exc:
        raise NetworkError(
            f"could not reach {url}: {type(exc).__name__}",
            "check the network and the provider's host (for the sandbox: is "
            "`invoke sandbox.serve` running on that port?)",
        ) from exc
