"""`sandbox.*` tasks: run the local GitHub-compatible provider in the foreground."""

from __future__ import annotations

from invoke import Context

from .common import cli_task


@cli_task(
    **{
        "port": "port on 127.0.0.1 (default 8765; 0 picks a free one)",
        "auto_approve": "approve every authorization at once as the default user (headless runs)",
        "client_id": "client ID of the pre-registered app (default: random)",
        "client_secret": "client secret of the pre-registered app (default: random)",
        "verbose": "log every request",
    }
)
def serve(
    c: Context,
    port: int = 8765,
    auto_approve: bool = False,
    client_id: str | None = None,
    client_secret: str | None = None,
    verbose: bool = False,
) -> None:
    """Serve the sandbox provider on 127.0.0.1 until Ctrl-C."""
    from ..sandbox import Sandbox
    from ..sandbox.server import SandboxServer

    model = Sandbox(auto_approve=auto_approve)
    app = model.register_app(
        "http://127.0.0.1/callback", client_id=client_id, client_secret=client_secret
    )
    try:
        server = SandboxServer(model, port, verbose)
    except OSError as exc:
        from ..errors import ConfigError

        raise ConfigError(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror}",
            "pick another --port (0 picks a free one)",
        ) from exc
    host = server.url.split("//", 1)[1]
    print(f"sandbox listening on {server.url} (Ctrl-C to stop)")
    print("registered app: callback http://127.0.0.1/callback (any port)")
    print("configure it with:")
    print(
        f"  invoke auth.configure -p sandbox --host {host} --client-id {app.client_id} "
        f"--client-secret {app.client_secret}",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nsandbox stopped")
    finally:
        server.server_close()
