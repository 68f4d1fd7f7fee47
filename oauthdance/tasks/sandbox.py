"""`sandbox.*` tasks: run the local GitHub-compatible provider in the foreground."""

from __future__ import annotations

import errno

from invoke import Context

from ..errors import ConfigError
from .common import cli_task, target


@cli_task(
    port="port on 127.0.0.1 (default 9876, apart from the login's callback on 8765; "
    "0 picks a free one)",
    auto_approve="approve every authorization at once as the default user (headless runs)",
    client_id="client ID of the pre-registered app (default: random)",
    client_secret="client secret of the pre-registered app (default: random)",
    configure="record the app as provider 'sandbox' in the credentials file (default on; "
    "--no-configure prints only masked values)",
    verbose="log every request",
)
def serve(
    c: Context,
    creds: str | None = None,
    port: int = 9876,
    auto_approve: bool = False,
    client_id: str | None = None,
    client_secret: str | None = None,
    configure: bool = True,
    verbose: bool = False,
) -> None:
    """Serve the sandbox provider on 127.0.0.1 until Ctrl-C (and configure it for you)."""
    from .. import flow
    from ..providers import get_provider
    from ..sandbox import Sandbox
    from ..sandbox.server import SandboxServer
    from ..tokens import mask

    model = Sandbox(auto_approve=auto_approve)
    app = model.register_app(
        "http://127.0.0.1/callback", client_id=client_id, client_secret=client_secret
    )
    try:
        server = SandboxServer(model, port, verbose)
    except OSError as exc:
        raise _unavailable_port(port, exc) from exc
    host = server.url.split("//", 1)[1]
    print(f"sandbox listening on {server.url} (Ctrl-C to stop)")
    print(
        f"registered app {app.client_id} (secret {mask(app.client_secret)}), callback "
        "http://127.0.0.1/callback on any port"
    )
    if configure:
        store = target(c, None, None, creds).store
        flow.configure(
            store,
            get_provider("sandbox"),
            client_id=app.client_id,
            client_secret=app.client_secret,
            host=host,
        )
        print(
            f"configured provider 'sandbox' in {store.path}: try `invoke auth.login -p "
            "sandbox` in another terminal",
            flush=True,
        )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nsandbox stopped")
    finally:
        server.server_close()


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
