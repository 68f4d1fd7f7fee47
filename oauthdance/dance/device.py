"""`auth.device`: the Device Authorization Grant (RFC 8628) as GitHub runs it.

For machines with no browser and no way to receive a redirect: the user types a short
code on another device while this process polls, slowing down when told to.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from oauthdance.base.advice import Command, Hint, setting
from oauthdance.base.errors import (
    DEVICE_ERROR_HINTS,
    LoginTimeout,
    ProviderError,
    advice,
    printable,
)
from oauthdance.dance import flow
from oauthdance.dance.kernel import show_link
from oauthdance.protocol.client import Client
from oauthdance.protocol.oauth import DeviceCode, split_scopes
from oauthdance.protocol.providers import Provider
from oauthdance.protocol.tokens import TokenAnswer, new_token_record, utcnow
from oauthdance.store import Store

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP = 5  # seconds added on each slow_down (RFC 8628 §3.5)


def poll_for_token(
    client: Client,
    code: DeviceCode,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> TokenAnswer:
    """Poll the token endpoint at the given interval until the user decides."""
    from oauthdance.net import endpoints

    interval = code.interval
    deadline = clock() + code.expires_in
    while True:
        sleep(interval)
        try:
            return endpoints.request_token(
                client,
                DEVICE_GRANT,
                {"device_code": code.device_code},
                authenticate=client.provider.device_client_auth != "none",
            )
        except ProviderError as exc:
            if exc.error == "authorization_pending" and clock() < deadline:
                continue
            if exc.error == "slow_down" and clock() < deadline:
                interval += SLOW_DOWN_STEP
                continue
            if exc.error in ("authorization_pending", "slow_down"):
                exc = ProviderError("expired_token", "the device code expired")
            raise ProviderError(
                exc.error,
                exc.description,
                advice(DEVICE_ERROR_HINTS, exc.error, client.provider.name),
                exc.status,
            ) from exc


def deadline_sleep(
    timeout: float, again: Command, sleep: Callable[[float], None] = time.sleep
) -> Callable[[float], None]:
    """A `sleep` for the polling that ends the wait at `timeout` seconds from now, with a
    `LoginTimeout` that says to run `again` with a longer timeout."""
    end = time.monotonic() + timeout

    def deadline(seconds: float) -> None:
        left = end - time.monotonic()
        if left <= seconds:
            sleep(max(left, 0))
            raise LoginTimeout(
                f"the code was not entered within {timeout:g} seconds",
                Hint(f"run {{again}} again with a longer {setting('timeout')}", again=again),
            )
        sleep(seconds)

    return deadline


def device_login(
    creds: Store,
    provider: Provider,
    *,
    scope: str | None = None,
    user: str | None = None,
    stderr: TextIO | None = None,
    opener: Callable[[str], bool] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    timeout: float | None = None,
) -> flow.Verified:
    """Run the device flow end to end and store the token under its owner (`user` names
    the owner where the provider cannot); with `timeout`, give up after that many seconds
    (else when the code expires)."""
    from oauthdance.net import endpoints

    if timeout:
        sleep = deadline_sleep(timeout, Command("auth.device", provider.name, user), sleep)

    stderr = stderr or sys.stderr  # looked up now: callers may have redirected it
    client = flow.current_client(creds, provider).require_client_id()
    scope = " ".join(split_scopes(scope)) if scope else client.scope
    code = endpoints.request_device_code(client, scope)
    page = printable(code.verification_uri)
    show_link(
        f"Open {page} and enter the code: {printable(code.user_code, 40)}\n"
        f"(it expires in {code.expires_in // 60} minutes; polling every {code.interval} s)",
        page,
        stderr,
    )
    if opener:
        opener(code.verification_uri)
    answer = poll_for_token(client, code, sleep)
    claims = flow.id_token_claims(client, answer, scope, None)
    token = new_token_record(answer, scope, utcnow(), id_claims=claims)
    return flow.store_verified(creds, provider, "", token, fallback_owner=user)
