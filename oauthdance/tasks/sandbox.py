"""`sandbox.*` tasks: run the local GitHub-compatible provider in the foreground."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from invoke import Context

from oauthdance.base.advice import Command
from oauthdance.base.errors import ConfigError
from oauthdance.tasks.common import cli_task, target

if TYPE_CHECKING:
    from oauthdance.sandbox import App, Sandbox


CALLBACK = "http://127.0.0.1/callback"  # the pre-registered app's; any port on loopback


@cli_task(
    port="port on 127.0.0.1 (default 9876, apart from the login's callback on 8765; "
    "0 picks a free one)",
    state="keep apps, users and tokens in this JSON file (mode 0600), saved after every "
    "change and read at start, so tokens outlive a restart (default: in memory only)",
    auto_approve="approve every authorization at once as the default user (headless runs)",
    client_id="client ID of the pre-registered app (default: random; with --state, the one "
    "served last)",
    client_secret="client secret of the pre-registered app (default: random; with --state, "
    "the one served last)",
    configure="record the app as provider 'sandbox' in the credentials file (default on; "
    "--no-configure prints only masked values)",
    verbose="log every request",
)
def serve(
    c: Context,
    creds: str | None = None,
    port: int = 9876,
    state: str | None = None,
    auto_approve: bool = False,
    client_id: str | None = None,
    client_secret: str | None = None,
    configure: bool = True,
    verbose: bool = False,
) -> None:
    """Serve the sandbox provider on 127.0.0.1 until Ctrl-C (and configure it for you)."""
    from oauthdance.dance import flow
    from oauthdance.protocol.providers import get_provider
    from oauthdance.protocol.tokens import mask
    from oauthdance.sandbox import Sandbox
    from oauthdance.sandbox.server import SandboxServer
    from oauthdance.sandbox.state import StateFile, StateFileError

    model = Sandbox(auto_approve=auto_approve)
    try:
        server = SandboxServer(model, port, verbose)
    except OSError as exc:
        raise _unavailable_port(port, exc) from exc
    kept = StateFile(state, model) if state else None
    try:
        if kept is not None:
            try:
                kept.open()
            except StateFileError as exc:
                raise ConfigError(exc.message, exc.hint) from exc
        app, again = _served_app(model, client_id, client_secret)
        print(f"sandbox listening on {server.url} (Ctrl-C to stop)")
        print(
            f"{'serving again' if again else 'registered'} app {app.client_id} (secret "
            f"{mask(app.client_secret)}), callback {CALLBACK} on any port"
        )
        if kept is None:
            print("state: in memory, so tokens die with this process; --state FILE keeps them")
        else:
            print(
                f"state: {'continued from' if kept.restored else 'new in'} {kept.path} "
                f"({len(model.tokens)} tokens), saved after every change"
            )
        if configure:
            store = target(c, None, None, creds).store
            flow.configure(
                store,
                get_provider("sandbox"),
                client_id=app.client_id,
                client_secret=app.client_secret,
                host=server.url.split("//", 1)[1],
            )
            login = Command("auth.login", "sandbox")
            print(
                f"configured provider 'sandbox' in {store.location}: try {login} in another "
                "terminal",
                flush=True,
            )
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nsandbox stopped")
    finally:
        server.server_close()
        if kept is not None:
            kept.close()


def _served_app(
    model: Sandbox, client_id: str | None, client_secret: str | None
) -> tuple[App, bool]:
    """(the app to serve, whether the state already had it). A kept state's last app is
    served again, same client_id and secret, so the credentials file stays valid; a new
    one is registered where there is none, or where the flags name another."""
    known = model.apps.get(client_id) if client_id else next(reversed(model.apps.values()), None)
    if known is not None and client_secret in (None, known.client_secret):
        return known, True
    return model.register_app(CALLBACK, client_id=client_id, client_secret=client_secret), False


def _unavailable_port(port: int, exc: OSError) -> ConfigError:
    """A port the sandbox cannot listen on, said in terms of the flag that chose it."""
    if exc.errno == errno.EADDRINUSE:
        return ConfigError(
            f"port {port} on 127.0.0.1 is already in use (--port {port})",
            "stop what listens there (another `sandbox.serve`?), or pick another --port "
            "(0 picks a free one)",
        )
    return ConfigError(
        f"cannot listen on 127.0.0.1:{port} (--port {port}): {exc.strerror or exc}",
        "pick another --port (0 picks a free one)",
    )
