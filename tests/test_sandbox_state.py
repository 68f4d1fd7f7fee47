"""`sandbox.serve`: its own port apart from the callback's, and state kept across restarts."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from conftest import run_invoke

from oauthdance.client import DEFAULT_REDIRECT_URI
from oauthdance.providers import get_provider
from oauthdance.tasks import namespace


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
