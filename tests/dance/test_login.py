"""`auth.login` end to end: loopback callback, paste, SSH, busy port, timeout, Ctrl-C; clients
that idle or give up, deadlines in both modes, and cleanup after a failed exchange; and
`decide_mode`, what each mode means on this machine (a kernel's browser elsewhere too)."""

from __future__ import annotations

import errno
import io
import signal
import socket
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from oauthdance.base.advice import Asked, Command, Face, asking
from oauthdance.base.errors import ConfigError, UsageError
from oauthdance.dance import callback
from oauthdance.dance.login import Decision, browser_can_start, decide_mode
from oauthdance.protocol.client import Client
from oauthdance.protocol.providers import get_provider
from tests.support.invoking import run_invoke
from tests.support.login import InvokeProcess, InvokeThread, creds_record, start_authorization
from tests.support.sandbox import browser_approve


@pytest.fixture
def creds(configured_creds: Path) -> Path:
    return configured_creds


def login_args(creds: Path, *extra: str) -> list[str]:
    return ["auth.login", "-p", "sandbox", "--creds", str(creds), "--no-browser", *extra]


def login(creds: Path, *extra: str, **kwargs) -> InvokeThread:
    """`auth.login` in the background, in this process."""
    return InvokeThread(*login_args(creds, *extra), **kwargs)


def test_login_receives_the_redirect_on_a_free_loopback_port(creds: Path) -> None:
    running = login(creds)
    url = running.authorize_url()
    redirect_uri = parse_qs(urlsplit(url).query)["redirect_uri"][0]
    assert redirect_uri.startswith("http://127.0.0.1:") and redirect_uri.endswith("/callback")
    assert not redirect_uri.startswith("http://127.0.0.1:8765")  # any port: a free one
    location = browser_approve(url)
    page = requests.get(location, timeout=10)
    assert page.status_code == 200 and "<title>Login complete</title>" in page.text
    code, stdout, stderr = running.finish()
    assert code == 0, stderr
    assert "logged in to sandbox as octocat" in stdout
    record = creds_record(creds)
    assert record["tokens"]["octocat"]["verified_at"] and "pending" not in record


def test_wrong_state_and_other_paths_are_ignored_then_the_right_one_accepted(
    creds: Path,
) -> None:
    running = login(creds)
    url = running.authorize_url()
    location = browser_approve(url)
    base = location.split("?")[0]
    stray = requests.get(base.replace("/callback", "/favicon.ico"), timeout=10)
    assert stray.status_code == 404
    forged = requests.get(f"{base}?code=abc&state=forged", timeout=10)
    assert forged.status_code == 400 and "another login" in forged.text
    running.wait_for("ignored a redirect with an unexpected state")
    assert requests.get(location, timeout=10).status_code == 200
    code, stdout, stderr = running.finish()
    assert code == 0, stderr
    assert "logged in to sandbox as octocat" in stdout


def test_denied_login_shows_the_error_and_cleans_up(creds: Path) -> None:
    running = login(creds)
    location = browser_approve(running.authorize_url(), decision="deny")
    page = requests.get(location, timeout=10)
    assert "<title>Login failed</title>" in page.text and "access_denied" in page.text
    code, _, stderr = running.finish()
    assert code != 0 and "access_denied" in stderr and "Traceback" not in stderr
    assert "pending" not in creds_record(creds)


def test_paste_mode_reads_the_redirect_from_stdin(creds: Path) -> None:
    running = login(creds, "--paste", stdin=True)
    location = browser_approve(running.authorize_url())
    running.wait_for("paste the address")
    running.send(location + "\n")
    code, stdout, stderr = running.finish()
    assert code == 0, stderr
    assert "logged in to sandbox as octocat" in stdout


def test_paste_mode_accepts_a_bare_code(creds: Path) -> None:
    running = login(creds, "--paste", stdin=True)
    location = browser_approve(running.authorize_url())
    running.send(parse_qs(urlsplit(location).query)["code"][0] + "\n")
    code, _, stderr = running.finish()
    assert code == 0, stderr


def test_ssh_session_falls_back_to_paste(creds: Path) -> None:
    running = login(creds, stdin=True, env={"SSH_CONNECTION": "10.0.0.1 5 10.0.0.2 22"})
    running.wait_for("paste: an SSH session cannot receive the redirect here")
    location = browser_approve(running.authorize_url())
    running.send(location + "\n")
    code, _, stderr = running.finish()
    assert code == 0, stderr


def test_busy_port_names_the_port_and_the_ways_out(creds: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        before = creds.read_bytes()
        done = run_invoke(*login_args(creds, "--port", str(port)))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert f"port {port}" in done.stderr and "--port" in done.stderr
    assert "--paste" in done.stderr
    assert creds.read_bytes() == before


def test_timeout_gives_up_cleanly(creds: Path) -> None:
    running = login(creds, "--timeout", "1")
    code, _, stderr = running.finish()
    assert code != 0 and "no redirect arrived within 1 seconds" in stderr
    assert "Traceback" not in stderr
    assert "pending" not in creds_record(creds)


def test_ctrl_c_closes_the_socket_and_removes_the_pending_entry(creds: Path) -> None:
    """A real process and a real SIGINT: the one login run outside this process."""
    running = InvokeProcess(*login_args(creds))
    url = running.authorize_url()
    port = urlsplit(parse_qs(urlsplit(url).query)["redirect_uri"][0]).port
    running.wait_for("Waiting up to")
    running.proc.send_signal(signal.SIGINT)
    code, _, stderr = running.finish()
    assert code != 0 and "interrupted" in stderr and "Traceback" not in stderr
    assert "pending" not in creds_record(creds)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nobody listens any more


def test_login_as_another_account_than_asked_warns(creds: Path) -> None:
    running = login(creds, "--user", "hubot")
    url = running.authorize_url()
    assert "login=hubot" in url  # GitHub's hint of which account to sign in with
    location = browser_approve(url, login="octocat")
    assert requests.get(location, timeout=10).status_code == 200
    code, stdout, stderr = running.finish()
    assert "logged in to sandbox as octocat" in stdout
    assert code == 0, stderr
    assert "asked for hubot, but the account that approved is octocat" in stderr
    assert "octocat" in creds_record(creds)["tokens"]


def callback_port(authorize_url: str) -> int:
    """The port the login listens on, from the redirect_uri in its authorize URL."""
    port = urlsplit(parse_qs(urlsplit(authorize_url).query)["redirect_uri"][0]).port
    assert port
    return port


def test_an_idle_connection_does_not_hold_up_the_redirect(creds: Path) -> None:
    """A browser's speculative connection that never sends a request, open first."""
    running = login(creds)
    url = running.authorize_url()
    location = browser_approve(url)
    with socket.create_connection(("127.0.0.1", callback_port(url))):
        started = time.monotonic()
        page = requests.get(location, timeout=10)
        assert page.status_code == 200 and "<title>Login complete</title>" in page.text
        code, stdout, stderr = running.finish()
        assert time.monotonic() - started < 2
    assert code == 0, stderr
    assert "logged in to sandbox as octocat" in stdout


def test_an_idle_connection_does_not_stretch_the_timeout(creds: Path) -> None:
    began = time.monotonic()
    running = login(creds, "--timeout", "1")
    with socket.create_connection(("127.0.0.1", callback_port(running.authorize_url()))):
        code, _, stderr = running.finish(timeout=10)
    assert 1 <= time.monotonic() - began < 2.5
    assert code == 1 and "error: no redirect arrived within 1 seconds" in stderr
    login_again = f"`invoke auth.login -p sandbox --creds {creds}`"
    assert f"next: run {login_again} again with a longer --timeout" in stderr
    assert "Traceback" not in stderr
    assert "pending" not in creds_record(creds)


class _ReaderGone(io.RawIOBase):
    """The answer's side of a connection whose client has closed: writes fail as they do
    on a real socket once the peer's reset arrives (which races the write otherwise)."""

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


def test_a_browser_that_leaves_before_the_page_still_delivers_the_code(
    creds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It sends the redirect and closes at once: writing the answer fails, the code is kept."""
    real_setup = callback._Handler.setup

    def setup(handler: callback._Handler) -> None:
        real_setup(handler)
        handler.wfile = _ReaderGone()

    monkeypatch.setattr(callback._Handler, "setup", setup)
    running = login(creds, "--timeout", "5")
    parts = urlsplit(browser_approve(running.authorize_url()))
    with socket.create_connection(("127.0.0.1", parts.port or 80)) as client:
        client.sendall(f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    code, stdout, stderr = running.finish()
    assert code == 0, stderr
    assert "logged in to sandbox as octocat" in stdout
    assert "Traceback" not in stderr and "Error" not in stderr


@pytest.mark.parametrize("how", ["--paste", "SSH_CONNECTION"])
def test_paste_mode_gives_up_at_the_timeout(creds: Path, how: str) -> None:
    """Nothing is typed, and stdin (a pipe) stays open."""
    ssh = {"SSH_CONNECTION": "10.0.0.1 5 10.0.0.2 22"}
    began = time.monotonic()
    running = (
        login(creds, "--paste", "--timeout", "1", stdin=True)
        if how == "--paste"
        else login(creds, "--timeout", "1", stdin=True, env=ssh)
    )
    code, _, stderr = running.finish(timeout=10)
    assert 1 <= time.monotonic() - began < 2.5
    assert code == 1 and "error: nothing was pasted within 1 seconds" in stderr
    login_again = f"`invoke auth.login -p sandbox --creds {creds}`"
    assert f"next: run {login_again} again with a longer --timeout" in stderr
    assert "Traceback" not in stderr
    assert "pending" not in creds_record(creds)


def test_paste_mode_waits_for_the_end_of_a_line(creds: Path) -> None:
    """A line that arrives in pieces is read whole."""
    running = login(creds, "--paste", stdin=True)
    location = browser_approve(running.authorize_url())
    running.wait_for("paste the address")
    running.send(location[:20])
    time.sleep(0.2)
    running.send(location[20:] + "\n")
    code, stdout, stderr = running.finish()
    assert code == 0, stderr
    assert "logged in to sandbox as octocat" in stdout


def test_pasting_another_authorizations_redirect_does_not_mention_state(creds: Path) -> None:
    """The user of `auth.login --paste` never passed --state: there is none to drop."""
    other = browser_approve(start_authorization(creds)["url"])
    running = login(creds, "--paste", stdin=True)
    running.wait_for("paste the address")
    running.send(other + "\n")
    code, _, stderr = running.finish()
    assert code == 1 and "belongs to another authorization" in stderr
    assert "--state" not in stderr
    assert f"next: start again: `invoke auth.login -p sandbox --creds {creds}`" in stderr
    assert len(creds_record(creds)["pending"]) == 1  # the other one's, still without a code
    assert "code" not in next(iter(creds_record(creds)["pending"].values()))


def test_a_failed_exchange_removes_the_pending_authorization(creds: Path) -> None:
    running = login(creds, env={"SANDBOX_CLIENT_SECRET": "wrong"})
    page = requests.get(browser_approve(running.authorize_url()), timeout=10)
    assert page.status_code == 200
    code, _, stderr = running.finish()
    assert code == 1 and "incorrect_client_credentials" in stderr
    assert "Traceback" not in stderr
    assert "pending" not in creds_record(creds)


# -- decide_mode: what each mode means on this machine, and why ---------------------------


def client_for(
    provider: str = "sandbox", redirect_uri: str = "http://127.0.0.1:8765/callback"
) -> Client:
    return Client(get_provider(provider), "client-id", None, "none", redirect_uri, "repo")


def decide(mode: str, client: Client | None = None, **kwargs) -> Decision:
    given = {"port": None, "environ": {"DISPLAY": ":0"}, "kernel": False, **kwargs}
    with asking(Face.INVOKE):
        return decide_mode(mode, client or client_for(), **given)


def test_auto_receives_the_redirect_on_loopback() -> None:
    assert decide("auto").mode == "browser"
    assert decide("auto", environ={}).mode == "browser"  # no display, not a kernel: as before
    assert decide("auto", kernel=True).mode == "browser"  # a local kernel


def test_auto_pastes_what_no_callback_can_receive() -> None:
    decision = decide("auto", client_for(redirect_uri="https://app.example/callback"))
    assert decision.mode == "paste" and "not http on loopback" in decision.why


def test_auto_in_an_ssh_session_pastes_unless_a_port_was_forwarded() -> None:
    ssh = {"SSH_CONNECTION": "10.0.0.1 5 10.0.0.2 22", "DISPLAY": ":0"}
    decision = decide("auto", environ=ssh)
    assert decision.mode == "paste" and "an SSH session" in decision.why
    assert "--port ..." in decision.why
    assert decide("auto", environ=ssh, port=8765).mode == "browser"


def test_auto_in_a_remote_kernel_pastes_and_offers_the_device_flow() -> None:
    decision = decide("auto", environ={"JUPYTERHUB_API_URL": "http://hub/api"}, kernel=True)
    assert decision.mode == "paste"
    assert decision.why == (
        "paste: this kernel runs in JupyterHub, so the browser cannot reach its loopback "
        "callback; `invoke auth.device -p sandbox` also works if the app has the device flow "
        "enabled"
    )
    assert decide("auto", environ={"JUPYTERHUB_API_URL": "x"}, kernel=False).mode == "browser"


def test_auto_in_a_kernel_with_no_display_pastes() -> None:
    decision = decide("auto", environ={}, kernel=True)
    if sys.platform.startswith("linux"):
        assert decision.mode == "paste" and "this machine has no display" in decision.why
    else:
        assert decision.mode == "browser"


def test_auto_offers_no_device_flow_the_provider_lacks() -> None:
    client = client_for("spotify")
    decision = decide("auto", client, environ={"COLAB_RELEASE_TAG": "r"}, kernel=True)
    assert decision.mode == "paste" and "Colab" in decision.why and "device" not in decision.why


def test_auto_never_chooses_the_device_flow() -> None:
    for environ in ({}, {"SSH_TTY": "/dev/pts/0"}, {"CODESPACES": "true"}):
        assert decide("auto", environ=environ, kernel=True).mode != "device"


def test_explicit_modes_are_taken_as_asked() -> None:
    remote = {"SSH_CONNECTION": "x"}
    assert decide("browser", environ=remote, kernel=True).mode == "browser"
    assert decide("paste").mode == "paste"
    assert decide("device").mode == "device"


def test_browser_mode_needs_a_loopback_redirect_uri() -> None:
    with pytest.raises(ConfigError) as caught:
        decide("browser", client_for(redirect_uri="https://app.example/callback"))
    assert "not http on loopback" in caught.value.message
    hint = caught.value.hint or ""
    assert "invoke auth.configure -p sandbox --redirect-uri" in hint
    assert "invoke auth.login -p sandbox --paste" in hint


def test_device_mode_needs_a_device_endpoint() -> None:
    with pytest.raises(ConfigError) as caught:
        decide("device", client_for("spotify"))
    assert caught.value.hint == "log in with `invoke auth.login -p spotify --paste` instead"


def test_an_unknown_mode_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="'sideways' is not one of auto, browser, paste, device"):
        decide("sideways")


def test_the_decision_is_spelt_for_the_python_face() -> None:
    with asking(Face.PYTHON):
        decision = decide_mode(
            "auto", client_for(), port=None, environ={"BINDER_SERVICE_HOST": "h"}, kernel=True
        )
    assert "this kernel runs in Binder" in decision.why
    assert Command("auth.device", "sandbox").text(asked_python()) in decision.why


def asked_python() -> Asked:
    return Asked(Face.PYTHON)


def test_a_browser_can_start_with_a_display_or_a_browser_command() -> None:
    assert browser_can_start({"BROWSER": "/tmp/click.py"})
    assert browser_can_start({"BROWSER": "x", "SSH_TTY": "/dev/pts/1"})  # the user said so
    assert not browser_can_start({}) or sys.platform in ("darwin", "win32")


def test_the_refusals_name_the_python_call_in_the_python_face() -> None:
    with asking(Face.PYTHON):
        with pytest.raises(ConfigError) as no_device:
            decide_mode("device", client_for("spotify"), port=None, environ={}, kernel=True)
        assert (
            no_device.value.hint
            == 'log in with `oauthdance.login("spotify", mode="paste")` instead'
        )
        with pytest.raises(ConfigError) as no_callback:
            decide_mode(
                "browser",
                client_for(redirect_uri="https://app.example/cb"),
                port=None,
                environ={},
                kernel=True,
            )
        hint = no_callback.value.hint or ""
    assert 'oauthdance.configure("sandbox", redirect_uri="http://127.0.0.1:8765/callback")' in hint
    assert 'oauthdance.login("sandbox", mode="paste")' in hint
