"""A sandbox for a test: served from a thread, configured with `auth.configure`, approved
in a scripted browser."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from oauthdance.sandbox import App, RunningSandbox, Sandbox
from oauthdance.sandbox.browser import approve


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
