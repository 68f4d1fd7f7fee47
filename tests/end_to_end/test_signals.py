"""`auth.login` stopped by a signal, in a real process (only a process receives signals): it
ends with a message and no traceback, and leaves no pending authorization (with its PKCE
verifier) behind. Ctrl-C (SIGINT) is in dance/test_login.py."""

from __future__ import annotations

import signal
import socket
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.support.login import InvokeProcess, creds_record
from tests.support.sandbox import browser_approve


def login_process(creds: Path, *extra: str, stdin: bool = False) -> InvokeProcess:
    return InvokeProcess(
        "auth.login", "-p", "sandbox", "--creds", str(creds), "--no-browser", *extra, stdin=stdin
    )


def assert_stopped_cleanly(running: InvokeProcess, creds: Path, name: str) -> None:
    code, _, stderr = running.finish()
    assert code == 130, stderr
    assert f"({name}: cancelling the login)" in stderr and "interrupted" in stderr
    assert "Traceback" not in stderr
    assert "pending" not in creds_record(creds)


def test_sigterm_while_waiting_for_the_redirect(configured_creds: Path) -> None:
    running = login_process(configured_creds)
    redirect_uri = parse_qs(urlsplit(running.authorize_url()).query)["redirect_uri"][0]
    running.wait_for("Waiting up to")
    running.proc.send_signal(signal.SIGTERM)
    assert_stopped_cleanly(running, configured_creds, "SIGTERM")
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", urlsplit(redirect_uri).port or 80)) != 0


@pytest.mark.parametrize("name", ["SIGHUP", "SIGTERM"])
def test_a_signal_while_waiting_for_the_paste(configured_creds: Path, name: str) -> None:
    """The terminal closed (SIGHUP) or the process was told to stop, at the paste prompt."""
    running = login_process(configured_creds, "--paste", stdin=True)
    running.wait_for("paste the address")
    running.proc.send_signal(getattr(signal, name))
    assert_stopped_cleanly(running, configured_creds, name)


def test_an_ignored_sighup_stays_ignored(configured_creds: Path) -> None:
    """Under `nohup` the login goes on when the terminal goes away."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # inherited by the child
    try:
        running = login_process(configured_creds)
    finally:
        signal.signal(signal.SIGHUP, previous)
    url = running.authorize_url()
    running.wait_for("Waiting up to")
    running.proc.send_signal(signal.SIGHUP)
    assert requests.get(browser_approve(url), timeout=10).status_code == 200
    code, stdout, stderr = running.finish()
    assert code == 0, stderr
    assert "logged in to sandbox as octocat" in stdout
