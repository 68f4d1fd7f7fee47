"""A real Jupyter kernel for a test, driven as a notebook frontend drives it.

`running_kernel(env=..., cwd=...)` starts ipykernel with this venv's python and an
environment of the test's own (nothing of the developer's OAUTHDANCE_*/GITHUB_* variables,
no DISPLAY); `Kernel.run(code)` executes code as a cell does and returns what the cell
showed, answering `input()` through the stdin channel as a frontend would; `run_notebook`
runs a notebook's code cells in order. Every wait has a deadline, so a kernel that dies or
hangs fails the test instead of holding up the suite.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

KERNEL_NAME = "oauthdance-test"
START_TIMEOUT = 60.0  # seconds for the kernel to answer its first kernel_info
CELL_TIMEOUT = 60.0
POLL = 0.02  # seconds between looks at the iopub and stdin channels
# What the kernel may inherit from the test's environment: enough to run python, nothing
# that changes what oauthdance does.
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT", "TMPDIR", "TEMP", "TMP")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class KernelError:
    """An exception the cell raised, as the kernel reported it."""

    ename: str
    evalue: str
    traceback: str  # without terminal colours

    def __str__(self) -> str:
        return f"{self.ename}: {self.evalue}\n{self.traceback}"


@dataclass
class Shown:
    """What a cell showed: text (streams, and each display's text/plain), html (each
    display's text/html), the prompts it asked with `input()`, and its error if any."""

    text: str = ""
    html: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    error: KernelError | None = None

    @property
    def everything(self) -> str:
        """Text and html together: where a test looks for a link."""
        return self.text + "\n".join(self.html)


class KernelTimeout(AssertionError):
    """The kernel did not finish within the deadline (or died): what it showed so far."""


class Kernel:
    """A started kernel and a blocking client on its channels, stdin allowed."""

    def __init__(self, manager: KernelManager, client: BlockingKernelClient) -> None:
        self.manager = manager
        self.client = client

    def run(
        self,
        code: str,
        on_input: Callable[[str], str | None] | None = None,
        on_output: Callable[[str], None] | None = None,
        timeout: float = CELL_TIMEOUT,
        allow_stdin: bool = True,
    ) -> Shown:
        """Execute `code` as a cell; return what it showed once the kernel is idle again.

        Each piece of output is given to `on_output` as it arrives (the test may act on it
        while the cell still runs: approve a link, interrupt); an `input()` is answered
        with `on_input(prompt)` (a cell that asks without `on_input` fails the test); an
        `on_input` that returns None sends no answer (the user who interrupts instead).
        `allow_stdin=False` is a frontend that cannot answer `input()` (nbclient's default).
        """
        shown = Shown()
        msg_id = self.client.execute(code, allow_stdin=allow_stdin, stop_on_error=True)
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:
                raise KernelTimeout(f"the cell ran past {timeout:g} s; it showed:\n{shown.text}")
            self._answer_input(msg_id, shown, on_input)
            try:
                message = self.client.get_iopub_msg(timeout=POLL)
            except queue.Empty:
                if not self.manager.is_alive():
                    raise KernelTimeout(f"the kernel died; it showed:\n{shown.text}") from None
                continue
            if message["parent_header"].get("msg_id") != msg_id:
                continue  # another cell's late output, or the kernel's own start-up
            if _take(message, shown, on_output):
                return shown

    def _answer_input(
        self, msg_id: str, shown: Shown, on_input: Callable[[str], str | None] | None
    ) -> None:
        if not self.client.stdin_channel.msg_ready():
            return
        request = self.client.get_stdin_msg(timeout=POLL)
        if request["msg_type"] != "input_request":
            return
        prompt = request["content"].get("prompt", "")
        shown.prompts.append(prompt)
        if on_input is None:
            raise AssertionError(f"the cell asked for input ({prompt!r}) and no answer was set")
        answer = on_input(prompt)
        if answer is not None:
            self.client.input(answer)

    def interrupt(self) -> None:
        """What Jupyter's "interrupt kernel" does (SIGINT, for an ipykernel)."""
        self.manager.interrupt_kernel()


def _take(message: dict[str, Any], shown: Shown, on_output: Callable[[str], None] | None) -> bool:
    """Record one iopub message; True when it says the cell is done (the kernel is idle)."""
    kind, content = message["msg_type"], message["content"]
    if kind == "status":
        return bool(content["execution_state"] == "idle")
    if kind == "error":
        shown.error = KernelError(
            content["ename"], content["evalue"], ANSI.sub("", "\n".join(content["traceback"]))
        )
        return False
    if kind == "stream":
        text, html = content["text"], ""
    elif kind in ("display_data", "execute_result", "update_display_data"):
        text = content["data"].get("text/plain", "") + "\n"
        html = content["data"].get("text/html", "")
    else:
        return False
    shown.text += text
    if html:
        shown.html.append(html)
    if on_output:
        on_output(text + html)
    return False


def kernel_environment(env: Mapping[str, str], home: Path) -> dict[str, str]:
    """The kernel's environment: this machine's PATH and locale, `home` as HOME (so no
    IPython profile or ~/.netrc of the developer's), and what the test gives."""
    passed = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    return {
        **passed,
        "HOME": str(home),
        "IPYTHONDIR": str(home / ".ipython"),
        "PYTHONUNBUFFERED": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # debugpy's warning on frozen modules
        **env,
    }


def _kernel_spec(folder: Path) -> KernelSpecManager:
    """A spec of our own that starts ipykernel with this venv's python, whatever kernels
    the machine has installed."""
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "oauthdance tests", "language": "python"})
    )
    return KernelSpecManager(kernel_dirs=[str(folder / "kernels")], ensure_native_kernel=False)


@contextlib.contextmanager
def running_kernel(cwd: Path, env: Mapping[str, str] | None = None) -> Iterator[Kernel]:
    """A kernel working in `cwd` with `env` (over `kernel_environment`), shut down after,
    however the block ends."""
    manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=_kernel_spec(cwd))
    manager.connection_file = str(cwd / "kernel-connection.json")
    if sys.platform != "win32":  # local sockets: no TCP port in plain text, no warning
        manager.transport = "ipc"
        manager.ip = str(cwd / "kernel-ipc")
    manager.start_kernel(env=kernel_environment(env or {}, cwd), cwd=str(cwd))
    client: BlockingKernelClient | None = None
    try:
        client = manager.client()
        client.allow_stdin = True
        client.start_channels()
        client.wait_for_ready(timeout=START_TIMEOUT)
        yield Kernel(manager, client)
    finally:
        if client is not None:
            client.stop_channels()
        manager.shutdown_kernel(now=True)
        manager.cleanup_resources()


def code_cells(path: Path) -> list[str]:
    """The sources of a notebook's code cells, in order."""
    notebook = nbformat.read(path, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def run_notebook(
    kernel: Kernel,
    path: Path,
    on_input: Callable[[str], str | None] | None = None,
    on_output: Callable[[str], None] | None = None,
    timeout: float = CELL_TIMEOUT,
) -> list[Shown]:
    """Run `path`'s code cells in order in `kernel`; fail with the cell and its error."""
    shown: list[Shown] = []
    for number, source in enumerate(code_cells(path), start=1):
        cell = kernel.run(source, on_input=on_input, on_output=on_output, timeout=timeout)
        if cell.error:
            raise AssertionError(
                f"{path.name}, code cell {number} failed:\n{source}\n--- it showed:\n"
                f"{cell.text}\n--- error:\n{cell.error}"
            )
        shown.append(cell)
    return shown
