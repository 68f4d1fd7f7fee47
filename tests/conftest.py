"""Shared fixtures: an isolated working folder, a live sandbox, and ways to run invoke.

`run_invoke` runs the tasks in this process (milliseconds instead of half a second for a
fresh interpreter) and reports like a process: exit code, stdout, stderr. Tests where
separate processes are the point use `run_invoke_process` instead.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import pytest
import urllib3.util.retry
from invoke import Collection, Config, Program, Task
from invoke import __version__ as invoke_version
from lifecycle_helpers import logged_in
from openbao import Bao, start_bao, unavailable

import oauthdance.paging.authenticated
from oauthdance.paging.engine import Fetcher
from oauthdance.protocol.providers import load_providers
from oauthdance.sandbox import App, RunningSandbox, Sandbox
from oauthdance.sandbox.browser import approve
from oauthdance.tasks import namespace

ROOT = Path(__file__).resolve().parents[1]
STREAMS = ("stdin", "stdout", "stderr")


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
    while _unfinished:  # a test that failed half-way leaves nothing running for the next
        _unfinished.pop()()


_unfinished: list[Callable[[], None]] = []


def stop_at_teardown(stop: Callable[[], None]) -> Callable[[], None]:
    """Have `isolated` call `stop` after the test; returns what cancels that."""
    _unfinished.append(stop)
    return lambda: _unfinished.remove(stop) if stop in _unfinished else None


@contextlib.contextmanager
def serving(model: Sandbox | None = None) -> Iterator[RunningSandbox]:
    """A sandbox served from a background thread, like `with RunningSandbox()`, but polling
    for shutdown every 20 ms: the default half second was spent again on every test."""
    running = RunningSandbox(model or Sandbox())
    thread = threading.Thread(
        target=running.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield running
    finally:
        running.stop()
        thread.join()


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with serving() as running:
        yield running


@pytest.fixture
def app(sandbox: RunningSandbox) -> App:
    return sandbox.model.register_app("http://127.0.0.1/callback")


@pytest.fixture
def sandbox_time(sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fetchers tell time by the sandbox's clock, and a wait moves that clock on.

    A rate limit's reset (the sandbox's clock too) then comes without real seconds going
    by; the waiting logic runs all the same. Fetchers take `sleep` and `clock` for this.
    """
    model = sandbox.model

    class FetcherOnSandboxTime(Fetcher):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, sleep=model.advance, clock=model.now, **kwargs)

    monkeypatch.setattr(oauthdance.paging.authenticated, "Fetcher", FetcherOnSandboxTime)


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


@pytest.fixture(params=["json", "yaml"])
def creds_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return tmp_path / f"creds.{request.param}"


@pytest.fixture
def configured_creds(sandbox: RunningSandbox, app: App, tmp_path: Path) -> Path:
    """creds.json with the sandbox's app configured by `auth.configure`, no token yet."""
    path = tmp_path / "creds.json"
    done = run_invoke(*configure_args(sandbox, app, path))
    assert done.returncode == 0, done.stderr
    return path


REPOS = 1234  # octocat's repositories for the fetch tests: 13 pages of 100, the last short


@pytest.fixture
def repo_creds(sandbox: RunningSandbox, app: App, tmp_path: Path) -> Path:
    """creds.json logged in to the sandbox with the `repo` scope; octocat has REPOS."""
    path = tmp_path / "creds.json"
    logged_in(sandbox, app, path, scope="repo")
    sandbox.model.users["octocat"].repo_count = REPOS
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


# -- running invoke ---------------------------------------------------------------------------


class _NoSystemConfig(Config):
    """invoke's configuration without this machine's /etc/invoke.yaml (and, HOME being the
    test's folder, without the user's ~/.invoke.yaml)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("system_prefix", f"{Path.home()}/no-system-config/")
        super().__init__(*args, **kwargs)


def _tasks(collection: Collection) -> Iterator[Task]:
    yield from collection.tasks.values()
    for sub in collection.collections.values():
        yield from _tasks(sub)


# invoke pops a task's flag help out of `task.help` when it first builds the task's flags,
# which a process does once; every in-process run gets it back from this copy.
_FLAG_HELP = {id(task): dict(task.help) for task in _tasks(namespace())}


def fresh_namespace() -> Collection:
    """The project's tasks as a new process sees them (flag help included)."""
    collection = namespace()
    for task in _tasks(collection):
        task.help = dict(_FLAG_HELP[id(task)])
    return collection


def captured_stream(errors: str = "strict") -> io.TextIOWrapper:
    """A stdout/stderr to run tasks with: text, with a `.buffer` for the bytes they write."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors=errors, write_through=True)


def captured_text(stream: io.TextIOWrapper) -> str:
    """What was written, read the way `subprocess.run(text=True)` reads a pipe."""
    stream.flush()
    data = stream.buffer.getvalue()  # type: ignore[attr-defined]
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


@contextlib.contextmanager
def _environment(overrides: Mapping[str, str] | None) -> Iterator[None]:
    """`overrides` in os.environ for the duration (the tasks read it when they run)."""
    saved = {key: os.environ.get(key) for key in overrides or {}}
    os.environ.update(overrides or {})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _exit_status(code: object, stderr: TextIO) -> int:
    """The status a process would end with after `sys.exit(code)`."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=stderr)  # what Python prints for sys.exit("message")
    return 1


_one_at_a_time = threading.Lock()


def invoke_in_process(
    args: list[str],
    *,
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
    env: Mapping[str, str] | None = None,
) -> int:
    """`invoke ARGS` with this project's tasks, in this process; returns the exit status.

    Streams and environment are the process's own, so only one runs at a time. Anything
    but SystemExit escaping the tasks is reported as the interpreter would: a traceback
    on stderr and status 1.
    """
    if not _one_at_a_time.acquire(blocking=False):
        raise RuntimeError("an in-process invoke is already running (streams are process-wide)")
    saved = [getattr(sys, name) for name in STREAMS]
    try:
        with _environment(env):
            sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
            try:
                program = Program(  # named as `python -m invoke` names itself
                    namespace=fresh_namespace(),
                    name="Invoke",
                    binary="inv[oke]",
                    binary_names=["invoke", "inv"],
                    version=invoke_version,
                    config_class=_NoSystemConfig,
                )
                program.run(["invoke", *args], exit=True)
                status = 0
            except SystemExit as exc:
                status = _exit_status(exc.code, stderr)
            except Exception:
                traceback.print_exc(file=stderr)
                status = 1
            finally:
                sys.stdin, sys.stdout, sys.stderr = saved
                stdout.flush()
                stderr.flush()
    finally:
        _one_at_a_time.release()
    return status


def run_invoke(
    *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`invoke ARGS` in this process, from the test's folder, reported like a process."""
    stdout, stderr = captured_stream(), captured_stream("backslashreplace")
    status = invoke_in_process(
        list(args), stdin=io.StringIO(input or ""), stdout=stdout, stderr=stderr, env=env
    )
    return subprocess.CompletedProcess(
        ["invoke", *args], status, captured_text(stdout), captured_text(stderr)
    )


def invoke_command(*args: str) -> list[str]:
    """The command line of a real `invoke ARGS` with this project's tasks.py."""
    return [sys.executable, "-m", "invoke", "--search-root", str(ROOT), *args]


def run_invoke_process(
    *args: str, input: str | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`invoke ARGS` in a fresh process: for tests where a separate process is the point."""
    return subprocess.run(
        invoke_command(*args),
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def run_script(
    name: str, creds: Path, provider: str = "sandbox"
) -> subprocess.CompletedProcess[str]:
    """Run one of the README's example scripts in `scripts/` against `creds`."""
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / name),
            "--provider",
            provider,
            "--creds",
            str(creds),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def configure_args(
    sandbox: RunningSandbox, app: App, creds: Path, scope: str = "repo"
) -> list[str]:
    return [
        "auth.configure",
        "-p",
        "sandbox",
        "--creds",
        str(creds),
        "--host",
        sandbox.host,
        "--client-id",
        app.client_id,
        "--client-secret",
        app.client_secret,
        "--redirect-uri",
        "http://127.0.0.1:8765/callback",
        "--scope",
        scope,
    ]


# The scripted browser the demo and the benchmarks use: open the authorize URL, press a button.
browser_approve = approve
