"""Strict redirects: `auth.code --url`, paste mode and the callback all go through
`flow.store_code`, which refuses a parameter given twice, a redirect that came back anywhere
but the authorization's redirect_uri, and codes or states no provider sends. Each refusal
says what and what next (naming `-p PROVIDER`), and leaves the file exactly as it was."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from oauthdance.base.errors import AuthorizationError
from oauthdance.protocol import oauth
from tests.support.invoking import run_invoke
from tests.support.login import InvokeThread, creds_record, start_authorization
from tests.support.sandbox import browser_approve

CALLBACK = "http://127.0.0.1:8765/callback"  # the redirect_uri `configure_args` registers


def store(creds: Path, url: str) -> tuple[int, str]:
    done = run_invoke("auth.code", "-p", "sandbox", "--creds", str(creds), "--url", url)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stderr


def refused(creds: Path, url: str) -> str:
    """The error `auth.code --url URL` ends with; the file must not have changed."""
    before = creds.read_bytes()
    code, stderr = store(creds, url)
    assert code == 1, f"{url[:200]} was accepted"
    assert creds.read_bytes() == before
    assert "next: paste the whole address" in stderr
    assert f"`invoke auth.code -p sandbox --creds {creds} --url '<that address>'`" in stderr
    return stderr


@pytest.fixture
def state(configured_creds: Path) -> str:
    return start_authorization(configured_creds)["state"]


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("code=abc&state={s}&state={s}", "state= 2 times"),
        ("code=abc&code=def&state={s}", "code= 2 times"),
        ("error=access_denied&error=server_error&state={s}", "error= 2 times"),
        ("code=abc&state={s}&code=abc", "code= 2 times"),  # even twice the same
    ],
)
def test_a_parameter_given_twice_is_refused(
    configured_creds: Path, state: str, query: str, why: str
) -> None:
    message = refused(configured_creds, f"{CALLBACK}?{query.format(s=state)}")
    assert why in message and "altered" in message


@pytest.mark.parametrize(
    ("where", "what"),
    [
        ("http://127.0.0.2:8765/callback", "another host"),
        ("http://localhost:8765/callback", "another host"),
        ("http://127.0.0.1:8765/elsewhere", "another path"),
        ("http://127.0.0.1:8765/callback/", "another path"),
        ("https://127.0.0.1:8765/callback", "another scheme"),
        ("https://attacker.example/callback", "another scheme and host"),
    ],
)
def test_a_redirect_that_came_back_elsewhere_is_refused(
    configured_creds: Path, state: str, where: str, what: str
) -> None:
    message = refused(configured_creds, f"{where}?code=abc&state={state}")
    assert f"not to '{CALLBACK}'" in message and f"({what})" in message


def forbid_any_port(creds: Path) -> None:
    data = json.loads(creds.read_text())
    data["sandbox"]["provider"] = {"any_loopback_port": False}
    creds.write_text(json.dumps(data))


def test_another_port_is_refused_where_the_provider_wants_the_registered_one(
    configured_creds: Path, state: str
) -> None:
    forbid_any_port(configured_creds)
    message = refused(configured_creds, f"http://127.0.0.1:9999/callback?code=abc&state={state}")
    assert "(another port)" in message


def test_another_loopback_port_is_accepted_where_the_provider_allows_any(
    configured_creds: Path, state: str
) -> None:
    code, stderr = store(configured_creds, f"http://127.0.0.1:9999/callback?code=abc&state={state}")
    assert code == 0, stderr
    assert creds_record(configured_creds)["pending"][state]["code"] == "abc"


@pytest.mark.parametrize(
    ("code", "state_suffix", "why"),
    [
        ("a" * 100_000, "", "100000 characters long"),
        ("abc%00def", "", "code 'abc?def' has characters a code cannot have"),
        ("abc%0Adef", "", "code 'abc?def' has characters a code cannot have"),
        ("abc%20def", "", "code 'abc def' has characters a code cannot have"),
        ("abc", "%09", "has characters a state cannot have"),
        ("abc", "%0D%0A", "has characters a state cannot have"),
    ],
)
def test_a_code_or_state_no_provider_sends_is_refused(
    configured_creds: Path, state: str, code: str, state_suffix: str, why: str
) -> None:
    message = refused(configured_creds, f"{CALLBACK}?code={code}&state={state}{state_suffix}")
    assert why in message and "nothing was stored" in message


def test_a_bare_code_is_checked_the_same_way(configured_creds: Path, state: str) -> None:
    before = configured_creds.read_bytes()
    common = ["-p", "sandbox", "--creds", str(configured_creds), "--state", state]
    done = run_invoke("auth.code", *common, "--code", "abc\x00def")
    assert done.returncode == 1 and "has characters a code cannot have" in done.stderr
    assert "Traceback" not in done.stderr
    assert configured_creds.read_bytes() == before


def test_the_callback_hands_on_what_it_received_for_the_same_checks(
    configured_creds: Path,
) -> None:
    """A state given twice reaches the login's own callback: refused there too, the browser
    is told, the login ends cleanly and nothing is left behind."""
    running = InvokeThread(
        "auth.login", "-p", "sandbox", "--creds", str(configured_creds), "--no-browser"
    )
    location = browser_approve(running.authorize_url())
    state = dict(p.split("=", 1) for p in urlsplit(location).query.split("&"))["state"]
    page = requests.get(f"{location}&state={state}", timeout=10)
    assert page.status_code == 200 and "<title>Login failed</title>" in page.text
    assert "state= 2 times" in page.text
    code, _, stderr = running.finish()
    assert code == 1 and "state= 2 times" in stderr
    assert f"next: start again: `invoke auth.login -p sandbox --creds {configured_creds}`" in stderr
    assert "Traceback" not in stderr
    assert "pending" not in creds_record(configured_creds)


def test_refused_provider_text_is_made_printable_on_the_page(configured_creds: Path) -> None:
    """What the provider (or whoever sent the redirect) wrote reaches the browser printable."""
    running = InvokeThread(
        "auth.login", "-p", "sandbox", "--creds", str(configured_creds), "--no-browser"
    )
    location = browser_approve(running.authorize_url(), decision="deny")
    page = requests.get(location.replace("The+user", "The%1B%5B31m+user"), timeout=10)
    assert "<title>Login failed</title>" in page.text and "The?[31m user" in page.text
    code, _, stderr = running.finish()
    assert code == 1 and "The?[31m user" in stderr and "\x1b" not in stderr


@pytest.mark.parametrize(
    ("got", "expected", "any_port"),
    [
        ("http://127.0.0.1:80/callback", "http://127.0.0.1/callback", False),
        ("https://example.com/cb", "https://example.com:443/cb", False),
        ("http://127.0.0.1:51234/callback", "http://127.0.0.1/callback", True),
        ("http://[::1]:51234/callback", "http://[::1]:8765/callback", True),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765/", False),
        ("HTTP://127.0.0.1:8765/callback", "http://127.0.0.1:8765/callback", False),
        ("https://any.example/where", "MyApp-MyApp-PRD-abc", False),  # an eBay RuName
    ],
)
def test_the_same_place_is_accepted_however_it_is_written(
    got: str, expected: str, any_port: bool
) -> None:
    redirect = oauth.parse_redirect(f"{got}?code=abc&state=s")
    oauth.check_redirect_location(redirect, expected, any_port, "retry")


def test_any_port_means_any_loopback_port_only() -> None:
    redirect = oauth.parse_redirect("https://example.com:8443/cb?code=abc&state=s")
    with pytest.raises(AuthorizationError, match=r"\(another port\)"):
        oauth.check_redirect_location(redirect, "https://example.com/cb", True, "retry")
