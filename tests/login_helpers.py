"""Drive `invoke auth.login` / `auth.device` in a subprocess, reading what it tells the user."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

from conftest import ROOT


class LoginProcess:
    """`invoke ARGS` running in the background; its stderr is read line by line."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, stdin: bool = False):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "invoke", "--search-root", str(ROOT), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()

    def _pump(self) -> None:
        assert self.proc.stderr
        for line in self.proc.stderr:
            self.lines.put(line)

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

    def send(self, text: str) -> None:
        assert self.proc.stdin
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        self.proc.wait(timeout=timeout)
        self._pump_thread.join(timeout=5)
        assert self.proc.stdout
        stdout = self.proc.stdout.read()
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return self.proc.returncode, stdout, "".join(self.seen)


def creds_record(path: Path, provider: str = "sandbox") -> dict:
    from oauthdance.store import CredentialsFile

    return CredentialsFile(path).record(provider)
