"""A refresh that rotates the refresh token is the one write that cannot be redone: it must
not be lost to a signal or a crash, and it must not hold up every other step meanwhile."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import pytest
from conftest import run_invoke
from lifecycle_helpers import logged_in

from oauthdance import endpoints, lifecycle, store
from oauthdance.errors import NotLoggedIn
from oauthdance.providers import get_provider
from oauthdance.sandbox import App, RunningSandbox
from oauthdance.store import CredentialsFile

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
