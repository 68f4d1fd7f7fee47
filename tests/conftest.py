"""Fixtures for every folder: an isolated working folder, a live sandbox, a real OpenBao.

What tests import (running invoke, serving a sandbox, the fake servers) is in the
`tests.support` package; a fixture that serves one folder only is in that folder's
conftest.py.
"""

from __future__ import annotations

import functools
import os
import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3.util.retry

from oauthdance.protocol.providers import load_providers
from oauthdance.sandbox import App, RunningSandbox
from tests.support.invoking import run_invoke
from tests.support.openbao import Bao, start_bao, unavailable
from tests.support.sandbox import configure_args, serving
from tests.support.teardown import stop_what_is_left

# A suite started as a background job of a script (`cmd &`) inherits SIGINT ignored, and
# under `nohup` SIGHUP; so would every process it starts, and the signal tests' Ctrl-C and
# closed terminal would reach nothing. (test_signals ignores SIGHUP on purpose, per test.)
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker more than the cores. About a fifth of the suite's time is
    spent waiting (timeouts run out, child processes start), which the extra worker fills:
    54 s instead of 60 s on 2 cores."""
    return (os.cpu_count() or 1) + 1


# -- isolation --------------------------------------------------------------------------------

# What the package reads from the environment besides each provider's own variables (those
# come from the provider list: see `provider_variables`). Proxy variables are matched by
# suffix, as urllib's getproxies() reads them: any `*_proxy`, in any case.
OWN_PREFIXES = ("OAUTHDANCE_", "INVOKE_", "VAULT_", "BAO_")  # VAULT_/BAO_: the Vault store
UNPREFIXED = (
    "SSH_CONNECTION",  # login.is_remote_session
    "SSH_CLIENT",
    "SSH_TTY",
    "DISPLAY",  # login.has_display
    "WAYLAND_DISPLAY",
    "BROWSER",  # webbrowser, behind `auth.url --open` and the login's browser
    "REQUESTS_CA_BUNDLE",  # api.read_environment_once, and requests itself
    "CURL_CA_BUNDLE",
)


@functools.cache
def provider_variables() -> tuple[tuple[str, ...], frozenset[str]]:
    """(`<PREFIX>_` of every preset, every preset's token variable): what providers read.

    Called once the OAUTHDANCE_* variables are gone, so these are the presets only.
    """
    providers = load_providers().values()
    prefixes = tuple(sorted({f"{p.env_prefix}_" for p in providers}))
    return prefixes, frozenset(name for p in providers for name in p.token_env)


def leaks_in(name: str) -> bool:
    """Would this variable of the outer environment change what the package does?"""
    prefixes, token_names = provider_variables()
    return (
        name.startswith(OWN_PREFIXES + prefixes)
        or name in token_names
        or name in UNPREFIXED
        or name.lower().endswith("_proxy")
    )


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test works in its own folder, which is also HOME (so no ~/.invoke.yaml, no
    ~/.netrc), with no provider settings, proxies or session hints leaking in."""
    for key in [k for k in os.environ if k.startswith(OWN_PREFIXES)]:
        monkeypatch.delenv(key)  # first: provider_variables() must not read OAUTHDANCE_PROVIDERS
    for key in [k for k in os.environ if leaks_in(k)]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    stop_what_is_left()  # a test that failed half-way leaves nothing running for the next


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with serving() as running:
        yield running


@pytest.fixture
def app(sandbox: RunningSandbox) -> App:
    return sandbox.model.register_app("http://127.0.0.1/callback")


class _NoWaitTime:
    """The `time` module as urllib3's Retry sees it, but its backoff sleeps return at once."""

    @staticmethod
    def sleep(seconds: float) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def instant_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib3 retries without its backoff sleeps: up to 0.3, 0.6 and 1.2 s (plus jitter) of
    real time for every request it retries. What is retried, and how often, is unchanged."""
    monkeypatch.setattr(urllib3.util.retry, "time", _NoWaitTime())


@pytest.fixture
def configured_creds(sandbox: RunningSandbox, app: App, tmp_path: Path) -> Path:
    """creds.json with the sandbox's app configured by `auth.configure`, no token yet."""
    path = tmp_path / "creds.json"
    done = run_invoke(*configure_args(sandbox, app, path))
    assert done.returncode == 0, done.stderr
    return path


# -- a real OpenBao server, for the Vault store -----------------------------------------------


@pytest.fixture(scope="session")
def bao_server() -> Iterator[Bao | str]:
    """One OpenBao dev server per test process (xdist worker), started on first use; the
    reason it could not start otherwise (tests then skip, or fail under CI)."""
    try:
        server = start_bao()
    except (RuntimeError, OSError) as exc:
        yield str(exc)
        return
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bao(bao_server: Bao | str, monkeypatch: pytest.MonkeyPatch) -> Bao:
    """The server, with its root token in VAULT_TOKEN for this test."""
    if isinstance(bao_server, str):
        unavailable(bao_server)
    assert isinstance(bao_server, Bao)
    monkeypatch.setenv("VAULT_TOKEN", bao_server.token)
    return bao_server


@pytest.fixture
def vault_creds(bao: Bao) -> str:
    """A `--creds vault+http://...` of the test's own, under a fresh prefix."""
    return bao.creds(f"t-{secrets.token_hex(6)}")
