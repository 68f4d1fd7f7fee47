"""`sandbox.serve`: its own port apart from the callback's, and state kept across restarts."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import oauthdance
from oauthdance.dance import flow
from oauthdance.dance.demo import headless_login, sandbox_login
from oauthdance.keep import lifecycle
from oauthdance.protocol.client import DEFAULT_REDIRECT_URI
from oauthdance.protocol.providers import get_provider
from oauthdance.sandbox import RunningSandbox, Sandbox
from oauthdance.sandbox.state import StateFile, StateFileError
from oauthdance.store import CredentialsFile
from oauthdance.tasks import namespace
from tests.support.invoking import run_invoke
from tests.support.lifecycle import expire
from tests.support.login import InvokeProcess, InvokeThread
from tests.support.sandbox import serving


def test_the_sandbox_listens_apart_from_the_login_callback() -> None:
    """In a browser, the redirect to the callback must not land on the sandbox itself."""
    (port,) = [a.default for a in namespace()["sandbox.serve"].get_arguments() if a.name == "port"]
    callback_port = urlsplit(DEFAULT_REDIRECT_URI).port
    assert port == 9876 != callback_port
    assert get_provider("sandbox").host == f"127.0.0.1:{port}"


def test_a_busy_port_is_an_error_naming_the_flag() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_invoke("sandbox.serve", "--port", str(port), "--no-configure")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"port {port} on 127.0.0.1 is already in use (--port {port})" in done.stderr
    assert "next: stop what listens there" in done.stderr and "--port (0 picks" in done.stderr


# -- --state FILE -------------------------------------------------------------------------


def login_in(model: Sandbox, running: RunningSandbox, creds: CredentialsFile) -> dict:
    """Register an app and log octocat in with an expiring (refreshable) token."""
    app = model.register_app("http://127.0.0.1/callback")
    return dict(sandbox_login(creds, running, app, scope="repo offline_access").token)


def test_tokens_outlive_a_restart_on_another_port(tmp_path: Path) -> None:
    state, creds = tmp_path / "sandbox-state.json", CredentialsFile(tmp_path / "creds.json")
    first = Sandbox()
    with StateFile(state, first) as kept, serving(first) as running:
        assert not kept.restored
        old = login_in(first, running, creds)
    second = Sandbox()
    with StateFile(state, second) as kept, serving(second) as running:
        assert kept.restored
        flow.configure(creds, get_provider("sandbox"), host=running.host)
        user = oauthdance.session("sandbox", creds=creds.path).get("/user")
        assert user.status_code == 200 and user.json()["login"] == "octocat"
        expire(creds.path, running)  # 8 hours on: the next use refreshes
        again = oauthdance.session("sandbox", creds=creds.path).get("/user")
        assert again.status_code == 200 and second.refresh_requests == 1
    fresh = creds.record("sandbox")["tokens"]["octocat"]
    assert fresh["access_token"] != old["access_token"]
    assert fresh["refresh_token"] != old["refresh_token"]


def test_each_change_is_saved_at_once_privately_and_whole(tmp_path: Path) -> None:
    state = tmp_path / "sandbox-state.json"
    model = Sandbox()
    with StateFile(state, model), serving(model) as running:
        token = login_in(model, running, CredentialsFile(tmp_path / "creds.json"))
        saved = json.loads(state.read_text())  # before any shutdown: the token is there
        assert saved["tokens"][token["access_token"]]["login"] == "octocat"
        assert token["refresh_token"] in saved["refresh_index"]
        assert state.stat().st_mode & 0o777 == 0o600
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_changes_from_many_threads_all_reach_the_file(tmp_path: Path) -> None:
    """Saves happen under the model's lock, in the order the changes were made."""
    state = tmp_path / "sandbox-state.json"
    model = Sandbox()
    with StateFile(state, model):
        app = model.register_app("http://127.0.0.1/callback")
        issued: list[str] = []

        def issue() -> None:
            for _ in range(5):
                location = model.approve({"client_id": app.client_id}, "octocat")
                code = location.split("code=")[1].split("&")[0]
                form = {"client_id": app.client_id, "client_secret": app.client_secret}
                issued.append(model.token({**form, "code": code}, None)["access_token"])

        threads = [threading.Thread(target=issue) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        on_disk = json.loads(state.read_text())
    assert len(issued) == 30 and set(on_disk["tokens"]) == set(issued)
    restored = Sandbox()
    with StateFile(state, restored):
        assert all(restored.token_for(access) for access in issued)


@pytest.mark.parametrize(
    "text,why",
    [
        ('{"apps": {', "is not valid JSON at line 1"),
        ('{"format": "something-else"}', "is not a sandbox state file"),
        ('{"format": "oauthdance-sandbox-state", "version": 9}', "has version 9"),
        (
            '{"format": "oauthdance-sandbox-state", "version": 1, "apps": {"x": {"nope": 1}}}',
            "has an unreadable 'apps' table",
        ),
    ],
)
def test_an_unreadable_state_file_is_refused_and_kept(tmp_path: Path, text: str, why: str) -> None:
    state = tmp_path / "sandbox-state.json"
    state.write_text(text)
    # in a thread, so a sandbox that serves all the same fails the test instead of hanging it
    served = InvokeThread("sandbox.serve", "--port", "0", "--state", str(state))
    code, _, stderr = served.finish(timeout=20)
    assert code == 1 and "Traceback" not in stderr
    assert f"error: {state} {why}" in stderr
    assert "next: fix or move the file (it was not changed)" in stderr
    assert state.read_text() == text and not (tmp_path / "creds.json").exists()


def test_one_state_file_serves_one_sandbox_at_a_time(tmp_path: Path) -> None:
    state = tmp_path / "sandbox-state.json"
    with (
        StateFile(state, Sandbox()),
        pytest.raises(StateFileError, match="another sandbox is using the state"),
    ):
        StateFile(state, Sandbox()).open()
    StateFile(state, Sandbox()).open().close()  # free again once the first has closed


def test_sandbox_serve_with_state_keeps_the_app_and_its_tokens(tmp_path: Path) -> None:
    """A real restart: the same app comes back, so the credentials file stays valid."""
    state, creds = tmp_path / "sandbox-state.json", CredentialsFile(tmp_path / "creds.json")
    served = InvokeProcess(
        "sandbox.serve", "--port", "0", "--state", str(state), "--creds", str(creds.path)
    )
    wait_for(lambda: creds.record("sandbox").get("client_id"))
    provider = get_provider("sandbox")
    flow.configure(creds, provider, scope="repo offline_access")
    old = dict(headless_login(creds, provider, "octocat").token)
    before = creds.record("sandbox")
    served.proc.send_signal(signal.SIGINT)
    code, first_out, _ = served.finish()
    assert code == 0 and f"state: new in {state}" in first_out
    port = free_port()
    served = InvokeProcess(
        "sandbox.serve", "--port", str(port), "--state", str(state), "--creds", str(creds.path)
    )
    wait_for(lambda: creds.record("sandbox").get("host") == f"127.0.0.1:{port}")
    after = creds.record("sandbox")
    assert (after["client_id"], after["client_secret"]) == (
        before["client_id"],
        before["client_secret"],
    )
    user = oauthdance.session("sandbox", creds=creds.path).get("/user")
    assert user.status_code == 200 and user.json()["login"] == "octocat"
    fresh = lifecycle.refresh_token(creds, provider, "octocat", force=True)
    assert fresh["access_token"] != old["access_token"]
    assert oauthdance.session("sandbox", creds=creds.path).get("/user").status_code == 200
    served.proc.send_signal(signal.SIGINT)
    code, out, _ = served.finish()
    assert code == 0 and f"serving again app {before['client_id']}" in out
    assert f"state: continued from {state} (1 tokens)" in out
    assert before["client_secret"] not in first_out + out + state.name


def test_without_state_serve_says_tokens_die_with_it(tmp_path: Path) -> None:
    creds = CredentialsFile(tmp_path / "creds.json")
    served = InvokeProcess("sandbox.serve", "--port", "0", "--creds", str(creds.path))
    wait_for(lambda: creds.record("sandbox").get("client_id"))
    served.proc.send_signal(signal.SIGINT)
    code, out, _ = served.finish()
    notice = "state: in memory, so tokens die with this process; --state FILE keeps them\n"
    assert code == 0 and notice in out


def wait_for(condition: Callable[[], object], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "sandbox.serve did not get that far"
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
