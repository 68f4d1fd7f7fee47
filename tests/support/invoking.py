"""Ways to run invoke in tests: in this process, reported like a process, or as a real one.

`run_invoke` runs the tasks in this process (milliseconds instead of half a second for a
fresh interpreter) and reports like a process: exit code, stdout, stderr. Tests where
separate processes are the point use `run_invoke_process` instead.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from invoke import Collection, Config, Program, Task
from invoke import __version__ as invoke_version

from oauthdance.tasks import namespace

ROOT = Path(__file__).resolve().parents[2]  # the checkout: tasks.py, README.md, scripts/
STREAMS = ("stdin", "stdout", "stderr")


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
    name: str,
    creds: Path,
    provider: str | None = "sandbox",
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one of the README's example scripts in `scripts/` against `creds` (without
    `--provider` when `provider` is None; `env` added to this process's environment)."""
    named = [] if provider is None else ["--provider", provider]
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / name), *named, "--creds", str(creds)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
