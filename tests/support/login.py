"""Run `invoke auth.login` / `auth.device` in the background while the test plays the browser,
reading what the task tells the user on stderr, line by line.

`InvokeThread` runs the task in this process, in a thread; `InvokeProcess` in a real
process, for what only a process has (signals, a long-running server).
"""

from __future__ import annotations

import ctypes
import io
import json
import os
import queue
import re
import subprocess
import threading
from pathlib import Path

from tests.support.invoking import (
    captured_stream,
    captured_text,
    invoke_command,
    invoke_in_process,
    run_invoke,
)
from tests.support.teardown import stop_at_teardown


class _StderrLines:
    """Lines of stderr as they come: `wait_for` a pattern, then `finish`."""

    def __init__(self) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []

    def wait_for(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        """Read stderr until a line matches `pattern`."""
        for seen in self.seen:
            match = re.search(pattern, seen)
            if match:
                return match
        while True:
            line = self.lines.get(timeout=timeout)
            self.seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match

    def authorize_url(self) -> str:
        return self.wait_for(r"^\s+(http://\S+/login/oauth/authorize\?\S+)").group(1)

    def _all_stderr(self) -> str:
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "".join(self.seen)


class _LineWriter(io.TextIOBase):
    """A stderr that hands each finished line to a queue (the rest at `close`)."""

    def __init__(self, lines: queue.Queue[str]) -> None:
        super().__init__()
        self._lines, self._partial = lines, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *done, self._partial = (self._partial + text).split("\n")
        for line in done:
            self._lines.put(line + "\n")
        return len(text)

    def close(self) -> None:
        if self._partial:
            self._lines.put(self._partial)
            self._partial = ""
        super().close()


class InvokeThread(_StderrLines):
    """`invoke ARGS` running in this process in a background thread.

    stdin is a pipe the test writes to with `send` (closed at once without `stdin=True`,
    like /dev/null); stderr feeds `wait_for`.
    """

    def __init__(self, *args: str, env: dict[str, str] | None = None, stdin: bool = False):
        super().__init__()
        read_end, write_end = os.pipe()
        self._stdin = os.fdopen(read_end, "r", encoding="utf-8")
        self._to_stdin = os.fdopen(write_end, "w", encoding="utf-8")
        if not stdin:
            self._to_stdin.close()
        self._stdout, self._stderr = captured_stream(), _LineWriter(self.lines)
        self.returncode: int | None = None
        self._thread = threading.Thread(
            target=self._run, args=(list(args), env), daemon=True, name=f"invoke {args[0]}"
        )
        self._keep_running = stop_at_teardown(self.stop)
        self._thread.start()

    def _run(self, args: list[str], env: dict[str, str] | None) -> None:
        try:
            self.returncode = invoke_in_process(
                args, stdin=self._stdin, stdout=self._stdout, stderr=self._stderr, env=env
            )
        except BaseException:  # stopped by `stop` before the task could turn it into an exit
            self.returncode = 130
        finally:
            self._stderr.close()

    def send(self, text: str) -> None:
        self._to_stdin.write(text)
        self._to_stdin.flush()

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        """Wait for the task to end; (exit status, stdout, stderr) as a process gives them."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"{self._thread.name} still running after {timeout} s")
        self._keep_running()
        self._close_stdin()
        assert self.returncode is not None
        return self.returncode, captured_text(self._stdout), self._all_stderr()

    def stop(self) -> None:
        """Ctrl-C for a thread: end a task the test left waiting, so nothing outlives it."""
        if not self._to_stdin.closed:
            self._to_stdin.close()  # a paste prompt reads end-of-file
        if self._thread.is_alive() and self._thread.ident is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(self._thread.ident), ctypes.py_object(KeyboardInterrupt)
            )
        self._thread.join(10)
        self._close_stdin()

    def _close_stdin(self) -> None:
        for end in (self._to_stdin, self._stdin):
            if not end.closed:
                end.close()


class InvokeProcess(_StderrLines):
    """`invoke ARGS` running in a real background process; its stderr is read line by line."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, stdin: bool = False):
        super().__init__()
        self.proc = subprocess.Popen(
            invoke_command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()
        self._keep_running = stop_at_teardown(self.stop)

    def _pump(self) -> None:
        assert self.proc.stderr
        for line in self.proc.stderr:
            self.lines.put(line)

    def send(self, text: str) -> None:
        assert self.proc.stdin
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        self.proc.wait(timeout=timeout)
        self._keep_running()
        self._pump_thread.join(timeout=5)
        assert self.proc.stdout
        stdout = self.proc.stdout.read()
        return self.proc.returncode, stdout, self._all_stderr()

    def stop(self) -> None:
        """Kill a process the test left running."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def creds_record(path: Path, provider: str = "sandbox") -> dict:
    from oauthdance.store import CredentialsFile

    return CredentialsFile(path).record(provider)


def start_authorization(path: Path, provider: str = "sandbox") -> dict:
    """`auth.url --json`: the url and state of a new pending authorization."""
    done = run_invoke("auth.url", "-p", provider, "--creds", str(path), "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
