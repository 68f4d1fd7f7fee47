"""`auth.device`: the Device Authorization Grant (RFC 8628) as GitHub runs it.

For machines with no browser and no way to receive a redirect: the user types a short
code on another device while this process polls, slowing down when told to.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from . import flow
from .app import App
from .errors import ConfigError, ProviderError
from .http import send
from .oauth import split_scopes
from .providers import Provider
from .store import CredentialsFile
from .tokens import token_record, utcnow

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP = 5  # seconds added on each slow_down (RFC 8628 §3.5)

DEVICE_HINTS = {
    "expired_token": "the code expired before it was entered: run `invoke auth.device` again",
    "access_denied": "the user pressed Cancel: run `invoke auth.device` again to retry",
    "device_flow_disabled": "enable 'Device Flow' in the app's settings, or use "
    "`invoke auth.login`",
    "incorrect_device_code": "the device code is not valid: run `invoke auth.device` again",
    "incorrect_client_credentials": "the client_id is wrong: check `invoke auth.status`",
    "unsupported_grant_type": "the provider does not offer the device flow for this app",
}


@dataclass(frozen=True)
class DeviceCode:
    """What the user must do, and what this process polls with."""

    device_code: str
    user_code: str
    verification_uri: str
    expires_in: int
    interval: int


def request_device_code(app: App, scope: str) -> DeviceCode:
    if not app.provider.device_url:
        raise ConfigError(
            f"{app.provider.name} has no device flow (no device_url)",
            "use `invoke auth.login` instead",
        )
    response = send(
        "POST",
        app.provider.url(app.provider.device_url),
        data={"client_id": app.client_id, "scope": scope},
        headers={"Accept": "application/json"},
    )
    try:
        answer = response.json()
    except ValueError:
        answer = {"error": f"http_{response.status_code}"}
    if "error" in answer or "device_code" not in answer:
        error = answer.get("error", "unreadable_answer")
        raise ProviderError(error, answer.get("error_description"), DEVICE_HINTS.get(error))
    return DeviceCode(
        answer["device_code"],
        answer["user_code"],
        answer.get("verification_uri") or answer["verification_url"],  # Google: "_url"
        int(answer.get("expires_in", 900)),
        int(answer.get("interval", 5)),
    )


def poll_for_token(
    app: App,
    code: DeviceCode,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll the token endpoint at the given interval until the user decides."""
    interval = code.interval
    deadline = clock() + code.expires_in
    while True:
        sleep(interval)
        try:
            return flow.request_token(
                app,
                DEVICE_GRANT,
                {"device_code": code.device_code},
                authenticate=app.provider.device_client_auth,
            )
        except ProviderError as exc:
            if exc.error == "authorization_pending" and clock() < deadline:
                continue
            if exc.error == "slow_down":
                interval += SLOW_DOWN_STEP
                continue
            if exc.error == "authorization_pending":
                exc = ProviderError("expired_token", "the device code expired")
            raise ProviderError(exc.error, exc.description, DEVICE_HINTS.get(exc.error)) from exc


def device_login(
    creds: CredentialsFile,
    provider: Provider,
    *,
    scope: str | None = None,
    stderr: TextIO = sys.stderr,
    opener: Callable[[str], bool] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> flow.Verified:
    """Run the device flow end to end and store the verified token."""
    app = flow.current_app(creds, provider).require_client_id()
    scope = " ".join(split_scopes(scope)) if scope else app.scope
    code = request_device_code(app, scope)
    print(
        f"Open {code.verification_uri} and enter the code: {code.user_code}\n"
        f"(it expires in {code.expires_in // 60} minutes; polling every {code.interval} s)",
        file=stderr,
        flush=True,
    )
    if opener:
        opener(code.verification_uri)
    answer = poll_for_token(app, code, sleep)
    key = f"device-{code.device_code[:12]}"
    flow.save_new_token(creds, provider, key, token_record(answer, scope, utcnow()))
    return flow.verify_token(creds, provider, only=key)[0]
