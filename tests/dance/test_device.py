"""The device flow against the sandbox: success, slow_down, expiry, denial, disabled."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from oauthdance.base.advice import Asked, Command, Face, asking
from oauthdance.base.errors import LoginTimeout, ProviderError
from oauthdance.dance import flow
from oauthdance.dance.device import deadline_sleep, poll_for_token
from oauthdance.net.endpoints import request_device_code
from oauthdance.protocol.providers import get_provider
from oauthdance.sandbox import App, RunningSandbox
from oauthdance.store import CredentialsFile
from tests.support.invoking import run_invoke
from tests.support.login import InvokeThread, creds_record


@pytest.fixture
def creds(configured_creds: Path) -> Path:
    return configured_creds


def current(creds: Path) -> flow.App:
    return flow.current_client(CredentialsFile(creds), get_provider("sandbox"))


def test_device_login_end_to_end(sandbox: RunningSandbox, creds: Path) -> None:
    sandbox.model.device_interval = 0
    running = InvokeThread("auth.device", "-p", "sandbox", "--creds", str(creds), "--no-browser")
    match = running.wait_for(r"Open (\S+) and enter the code: ([A-Z]{4}-[A-Z]{4})")
    page_url, user_code = match.groups()
    assert page_url == f"{sandbox.url}/login/device"
    assert 'id="user_code"' in requests.get(page_url, timeout=10).text
    answer = requests.post(
        page_url, timeout=10, data={"user_code": user_code, "login": "hubot", "decision": "approve"}
    )
    assert "Device authorized" in answer.text
    code, stdout, stderr = running.finish()
    assert code == 0, stderr
    assert "logged in to sandbox as hubot" in stdout
    assert creds_record(creds)["tokens"]["hubot"]["verified_at"]


def test_slow_down_adds_five_seconds(sandbox: RunningSandbox, creds: Path) -> None:
    app = current(creds)
    code = request_device_code(app, "repo")
    assert code.interval == 5 and code.expires_in == 900
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) >= 3:  # the first two polls come too fast for the sandbox's clock
            sandbox.model.advance(seconds)
        if len(sleeps) == 3:
            sandbox.model.device_decide(code.user_code, "octocat", approve=True)

    answer = poll_for_token(app, code, sleep)
    assert answer["access_token"].startswith("gho_")
    assert sleeps == [5, 5, 10]


def test_expired_device_code_stops_with_advice(sandbox: RunningSandbox, creds: Path) -> None:
    sandbox.model.device_lifetime = 12
    app = current(creds)
    code = request_device_code(app, "repo")
    with pytest.raises(ProviderError) as info:
        poll_for_token(app, code, sandbox.model.advance)
    assert info.value.error == "expired_token" and "auth.device" in str(info.value)


def test_denied_device_code_stops(sandbox: RunningSandbox, creds: Path) -> None:
    app = current(creds)
    code = request_device_code(app, "repo")
    sandbox.model.device_decide(code.user_code, "octocat", approve=False)
    with pytest.raises(ProviderError) as info:
        poll_for_token(app, code, sandbox.model.advance)
    assert info.value.error == "access_denied"


def test_device_flow_disabled_is_explained(app: App, creds: Path) -> None:
    app.device_flow = False
    before = creds.read_bytes()
    done = run_invoke("auth.device", "-p", "sandbox", "--creds", str(creds), "--no-browser")
    assert done.returncode != 0 and "device_flow_disabled" in done.stderr
    assert "Device Flow" in done.stderr and "Traceback" not in done.stderr
    assert creds.read_bytes() == before


@pytest.mark.parametrize("name,sent", [("sandbox", "none"), ("google", "post")])
def test_device_polling_authenticates_only_where_the_provider_wants_it(
    sandbox: RunningSandbox, tmp_path: Path, name: str, sent: str
) -> None:
    from tests.protocol.test_presets import configured

    provider, creds = configured(sandbox, name, tmp_path / "creds.json")
    current = flow.current_client(creds, provider)
    code = request_device_code(current, current.scope)
    sandbox.model.device_decide(code.user_code, "octocat", approve=True)
    answer = poll_for_token(current, code, sandbox.model.advance)
    assert answer["access_token"] and sandbox.model.last_client_auth == sent


def test_googles_verification_url_field_is_understood(
    creds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Google names the field `verification_url` (RFC 8628 says `verification_uri`)."""
    from oauthdance.protocol import oauth

    code = oauth.checked_device_code(
        {
            "device_code": "d",
            "user_code": "ABCD-EFGH",
            "expires_in": 1800,
            "interval": 5,
            "verification_url": "https://www.google.com/device",
        }
    )
    assert code.verification_uri == "https://www.google.com/device"
    assert code.expires_in == 1800


def test_the_device_flow_ends_at_the_logins_deadline() -> None:
    slept: list[float] = []
    sleep = deadline_sleep(0.05, Command("auth.device", "sandbox"), slept.append)
    sleep(0.01)  # within the deadline: slept as asked
    with asking(Face.PYTHON):  # as the Python face runs it, and shows its errors
        with pytest.raises(LoginTimeout) as caught:
            sleep(5)  # past it: only what is left, then the timeout
        hint = caught.value.hint
    assert slept[0] == 0.01 and slept[1] <= 0.05
    assert "not entered within 0.05 seconds" in caught.value.message
    assert hint == (
        f"run `{Command('auth.device', 'sandbox').text(Asked(Face.PYTHON))}` again with a "
        "longer timeout"
    )
