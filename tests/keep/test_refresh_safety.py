"""A refresh that rotates the refresh token is the one write that cannot be redone: it must
not be lost to a signal or a crash, and it must not hold up every other step meanwhile."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from oauthdance import store
from oauthdance.base.errors import NotLoggedIn
from oauthdance.keep import lifecycle
from oauthdance.net import endpoints
from oauthdance.protocol.providers import get_provider
from oauthdance.sandbox import App, RunningSandbox
from oauthdance.store import CredentialsFile
from tests.support.hostile_server import Answer, HostileServer
from tests.support.invoking import run_invoke
from tests.support.lifecycle import logged_in

ARGS = ["-p", "sandbox", "--creds"]


def test_the_record_says_a_refresh_is_in_flight_before_it_is_sent(
    sandbox: RunningSandbox, app: App, tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "creds.json"
    logged_in(sandbox, app, path)
    seen = []
    real = endpoints.request_token

    def spying(*args, **kwargs):
        seen.append(CredentialsFile(path).record("sandbox")["tokens"]["octocat"])
        return real(*args, **kwargs)

    monkeypatch.setattr(endpoints, "request_token", spying)
    fresh = lifecycle.refresh_token(
        CredentialsFile(path), get_provider("sandbox"), "octocat", force=True
    )
    assert seen[0]["refresh_started_at"]
    assert "refresh_started_at" not in fresh  # the written pair carries no note
    assert "refresh_started_at" not in CredentialsFile(path).record("sandbox")["tokens"]["octocat"]


def test_a_refresh_that_died_mid_flight_is_explained_at_the_next_refusal(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    """What a process killed between "sent" and "written" leaves: the provider rotated
    (so the stored refresh token is spent), and the note says a refresh was in flight."""
    path = tmp_path / "creds.json"
    token = logged_in(sandbox, app, path)
    sandbox.model.token(  # the refresh the dead process sent: the provider rotated
        {
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        },
        None,
    )
    data = json.loads(path.read_text())
    data["sandbox"]["tokens"]["octocat"]["refresh_started_at"] = "2026-12-01T10:00:00Z"
    path.write_text(json.dumps(data))
    done = run_invoke("auth.refresh", *ARGS, str(path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "may have rotated the token at the provider" in done.stderr
    assert "invoke auth.login -p sandbox -u octocat" in done.stderr


def test_other_steps_do_not_wait_for_a_refresh_in_flight(
    sandbox: RunningSandbox, app: App, tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "creds.json"
    logged_in(sandbox, app, path)
    logged_in(sandbox, app, path, login="hubot")
    sending, release = threading.Event(), threading.Event()
    real = endpoints.request_token

    def slow(*args, **kwargs):
        sending.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(endpoints, "request_token", slow)
    refresh = threading.Thread(
        target=lifecycle.refresh_token,
        args=(CredentialsFile(path), get_provider("sandbox"), "octocat"),
        kwargs={"force": True},
    )
    refresh.start()
    try:
        assert sending.wait(10)
        done = run_invoke("auth.use", *ARGS, str(path), "-u", "hubot")  # takes the file's lock
        assert done.returncode == 0, done.stderr
    finally:
        release.set()
        refresh.join(10)
    record = CredentialsFile(path).record("sandbox")
    assert record["default_user"] == "hubot" and record["tokens"]["octocat"]["refreshed_at"]


def test_a_refresh_gives_up_before_other_steps_would() -> None:
    assert lifecycle.DEADLINE < store.LOCK_TIMEOUT_SECONDS


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals need it"
)
def test_ctrl_c_waits_until_the_rotated_pair_is_written() -> None:
    order = []
    with pytest.raises(KeyboardInterrupt), lifecycle.signals_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        order.append("written")
    assert order == ["written"]


def test_refreshing_a_token_that_never_expires_says_so(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    path = tmp_path / "creds.json"
    logged_in(sandbox, app, path, scope="repo")  # a classic token: no expiry, no refresh
    done = run_invoke("auth.refresh", *ARGS, str(path))
    assert done.returncode == 1
    assert "does not expire, so no refresh token" in done.stderr
    assert "has expired" not in done.stderr


def test_refusal_without_a_note_keeps_the_usual_message(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    path = tmp_path / "creds.json"
    token = logged_in(sandbox, app, path)
    sandbox.model.token(
        {
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        },
        None,
    )
    with pytest.raises(NotLoggedIn, match="revoked, already used, or has expired"):
        lifecycle.refresh_token(
            CredentialsFile(path), get_provider("sandbox"), "octocat", force=True
        )
    assert CredentialsFile(path).record("sandbox")["tokens"]["octocat"]["needs_login"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_a_refresh_waits_until_the_rotated_pair_is_written(
    tmp_path: Path, signum: int
) -> None:
    """A real process refreshing against a slow token endpoint gets the signal while the
    provider has (in effect) already rotated: it writes the new pair first, then stops."""
    with HostileServer() as server:
        providers = tmp_path / "providers.yaml"
        providers.write_text(
            f"slow:\n  authorize_url: {server.url}/authorize\n  token_url: {server.url}/token\n"
            f"  api_base: {server.url}/api\n"
        )
        path = tmp_path / "creds.json"
        expired = {
            "access_token": "old-access",
            "refresh_token": "old-refresh",
            "created_at": "2020-01-01T00:00:00Z",
            "expires_at": "2020-01-01T08:00:00Z",
        }
        record = {"client_id": "i", "client_secret": "s", "tokens": {"me": expired}}
        path.write_text(json.dumps({"slow": record}))
        fresh = {
            "access_token": "new-access",
            "token_type": "bearer",
            "expires_in": 28800,
            "refresh_token": "new-refresh",
        }
        server.answer("/token", Answer(200, json.dumps(fresh).encode(), mode="slow"))
        code = f"import oauthdance; oauthdance.token('slow', creds={str(path)!r})"
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            env={**os.environ, "OAUTHDANCE_PROVIDERS": str(providers)},
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 10
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.02)  # until the refresh has been sent
        assert server.requests, "the refresh never reached the provider"
        proc.send_signal(signum)
        proc.wait(10)
    assert proc.returncode != 0  # it did stop, as asked
    token = json.loads(path.read_text())["slow"]["tokens"]["me"]
    assert token["refresh_token"] == "new-refresh"  # but not before writing the pair
    assert "refresh_started_at" not in token
