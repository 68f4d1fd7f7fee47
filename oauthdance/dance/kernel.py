"""Running inside a Jupyter kernel: where its browser is, links it can click, the paste.

A notebook's kernel is often not on the machine whose browser shows the notebook
(JupyterHub, Colab, a cloud VM, VS Code remote): the login's loopback callback would
listen where no browser can reach it. `browser_elsewhere` says when this can be told from
the environment, and why, so the login can choose the paste (or the device flow) and say
so. In a kernel the authorize link and the device code are shown as a clickable link.

IPython is never imported here: a kernel has imported it already, and a plain `python`
process that has not is not a kernel.
"""

from __future__ import annotations

import html
import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO

# Variables whose presence says the browser runs on another machine, and what to call
# that place in a sentence ("this kernel runs in {place}"). The first one set wins.
ELSEWHERE: tuple[tuple[str, str], ...] = (
    ("SSH_CONNECTION", "an SSH session"),
    ("SSH_CLIENT", "an SSH session"),
    ("SSH_TTY", "an SSH session"),
    ("JUPYTERHUB_API_URL", "JupyterHub"),
    ("COLAB_RELEASE_TAG", "Colab"),
    ("CODESPACES", "a Codespace"),
    ("REMOTE_CONTAINERS", "a VS Code remote container"),
    ("VSCODE_REMOTE_CONTAINERS_SESSION", "a VS Code remote container"),
    ("BINDER_SERVICE_HOST", "Binder"),
    ("KAGGLE_KERNEL_RUN_TYPE", "Kaggle"),
)
NO_DISPLAY = "no display"  # Linux without X or Wayland, and no BROWSER to run instead
MODULES_ELSEWHERE: tuple[tuple[str, str], ...] = (("google.colab", "Colab"),)


def in_kernel(modules: Mapping[str, Any] | None = None) -> bool:
    """Is this code running in an IPython kernel (Jupyter, VS Code, Colab)? IPython's own
    terminal shell is not one: it has no `kernel`, and its user has a terminal's stdin."""
    ipython = (sys.modules if modules is None else modules).get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    if get_ipython is None:
        return False
    try:
        shell = get_ipython()
    except Exception:  # a half-imported or stubbed IPython: not a kernel we can talk to
        return False
    return getattr(shell, "kernel", None) is not None


def browser_elsewhere(
    environ: Mapping[str, str] | None = None,
    modules: Mapping[str, Any] | None = None,
    platform: str | None = None,
) -> str | None:
    """Where this process runs, when that says the user's browser is on another machine
    ("JupyterHub", "an SSH session", …, or `NO_DISPLAY`); None when nothing says so."""
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    platform = sys.platform if platform is None else platform
    for name, place in ELSEWHERE:
        if environ.get(name):
            return place
    for module, place in MODULES_ELSEWHERE:
        if module in modules:
            return place
    if platform.startswith("linux") and not any(
        environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER")
    ):
        return NO_DISPLAY
    return None


def where_phrase(place: str) -> str:
    """`browser_elsewhere`'s answer in a sentence about this kernel."""
    return "this machine has no display" if place == NO_DISPLAY else f"this kernel runs in {place}"


def link_html(text: str, url: str) -> str:
    """`text` as HTML, with `url` in it a link that opens in a new tab. Only an http(s)
    URL becomes a link (a provider's `javascript:` stays text); everything is escaped."""
    shown = html.escape(text)
    if url.startswith(("https://", "http://")) and url in text:
        anchor = (
            f'<a href="{html.escape(url, quote=True)}" target="_blank" '
            f'rel="noopener noreferrer">{html.escape(url)}</a>'
        )
        shown = shown.replace(html.escape(url), anchor)
    return f'<pre style="white-space: pre-wrap">{shown}</pre>'


def show_link(text: str, url: str, stderr: TextIO, *, kernel: bool | None = None) -> None:
    """Show `text` (already made printable) with `url` in it: in a kernel as a clickable
    link, through IPython's display; elsewhere as plain text on `stderr`, as a terminal
    shows it."""
    if in_kernel() if kernel is None else kernel:
        from IPython.display import display  # imported already: this is a kernel

        stderr.flush()  # what was said before the link is shown before it
        display({"text/plain": text, "text/html": link_html(text, url)}, raw=True)
    else:
        print(text, file=stderr, flush=True)


def read_in_kernel(prompt: str) -> str | None:
    """The pasted address, asked for with `input()`: ipykernel sends the prompt to the
    frontend on its stdin channel and returns the user's answer; None when the frontend
    cannot answer `input()` (one run with stdin disabled, as nbclient by default).

    There is no deadline here: Jupyter offers no way to withdraw an input request, so the
    paste in a kernel waits until the user answers or interrupts the kernel (the login's
    cleanup then runs as for Ctrl-C).
    """
    from IPython.core.error import StdinNotImplementedError  # imported already: a kernel

    try:
        return input(prompt)
    except StdinNotImplementedError:
        return None
