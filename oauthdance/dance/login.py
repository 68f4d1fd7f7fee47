"""`auth.login` and `oauthdance.login()`: the whole dance in one call — loopback callback
and browser, paste, or the device flow; from a terminal or a Jupyter kernel.

It runs the same steps as the separate tasks (url → code → exchange → verify), so every
check they make applies here too. `--timeout` is a deadline whichever way the redirect
comes. A login that does not end with a token removes its pending authorization (and its
PKCE verifier) however it ends: an error, a timeout, Ctrl-C, SIGTERM or SIGHUP.
"""

from __future__ import annotations

import contextlib
import os
import queue
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from oauthdance.base.advice import PLACEHOLDER, Command, Hint, setting
from oauthdance.base.errors import (
    AuthorizationError,
    ConfigError,
    LoginTimeout,
    UsageError,
    printable,
)
from oauthdance.dance import flow
from oauthdance.dance.callback import CallbackServer
from oauthdance.dance.kernel import (
    browser_elsewhere,
    in_kernel,
    read_in_kernel,
    show_link,
    where_phrase,
)
from oauthdance.protocol.client import DEFAULT_REDIRECT_URI, Client
from oauthdance.protocol.providers import Provider
from oauthdance.protocol.urls import is_loopback
from oauthdance.store import Store

DEFAULT_TIMEOUT = 300.0


def is_remote_session(environ: Mapping[str, str] = os.environ) -> bool:
    """An SSH session: the browser runs elsewhere, so our loopback is not its loopback."""
    return any(environ.get(k) for k in ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"))


def has_display(environ: Mapping[str, str] = os.environ) -> bool:
    """Can a browser window open here? (Linux needs an X or Wayland display.)"""
    if sys.platform in ("darwin", "win32"):
        return not is_remote_session(environ)
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")) and not (
        is_remote_session(environ)
    )


def open_browser(url: str) -> bool:
    """Try to open `url`; a browser that fails to start is not fatal."""
    try:
        import webbrowser

        return bool(webbrowser.open(url))
    except Exception:  # any failure here only means: the user opens it by hand
        return False


def browser_can_start(environ: Mapping[str, str] | None = None) -> bool:
    """Can `webbrowser` start a browser here? A display, or a BROWSER command to run (which
    a test sets to a script that plays the click; over SSH, a browser of the remote side)."""
    environ = os.environ if environ is None else environ
    return bool(environ.get("BROWSER")) or has_display(environ)


def receivable(client: Client) -> bool:
    """Can the redirect come back to this process? Only to plain http on loopback."""
    return is_loopback(_host(client.redirect_uri)) and client.redirect_uri.startswith("http:")


MODES = ("auto", "browser", "paste", "device")


@dataclass(frozen=True)
class Decision:
    """How a login gets its redirect ("browser", "paste" or "device"), and why, in one
    sentence shown before it starts."""

    mode: str
    why: str


def check_mode(mode: object, provider: str | None = None) -> None:
    """`mode` is one of `MODES`, else a usage error that says which and what to run."""
    if mode not in MODES:
        login = Command("auth.login", provider)
        raise UsageError(
            f"{setting('mode', repr(printable(mode, 40)))} is not one of {', '.join(MODES)}",
            Hint(
                "let the login decide: {login}, or paste the address: {paste}",
                login=login,
                paste=login.with_flags(paste=None),
            ),
        )


def decide_mode(
    mode: str,
    client: Client,
    *,
    port: int | None,
    environ: Mapping[str, str],
    kernel: bool,
) -> Decision:
    """What `mode` means for this client on this machine, and why (a pure function).

    "auto" receives the redirect on a loopback callback unless none can arrive: a
    redirect_uri that is not loopback http, an SSH session, or a Jupyter kernel whose
    browser is elsewhere (`kernel.browser_elsewhere`) — then the user pastes it. An
    explicit `port` means one was forwarded here, so the callback is used. The device flow
    is never chosen (GitHub enables it per app), only offered.
    """
    provider = client.provider
    check_mode(mode, provider.name)
    paste = Command("auth.login", provider.name).with_flags(paste=None)
    if mode == "browser":
        if not receivable(client):
            raise ConfigError(
                f"the redirect_uri {printable(client.redirect_uri)} is not http on loopback, "
                "so the redirect cannot come back here",
                Hint(
                    "run {configure} to receive it here, or log in with {paste}",
                    configure=Command("auth.configure", provider.name).with_flags(
                        redirect_uri=DEFAULT_REDIRECT_URI
                    ),
                    paste=paste,
                ),
            )
        return Decision("browser", "browser: as asked")
    if mode == "paste":
        return Decision("paste", "paste: as asked")
    if mode == "device":
        if not provider.device_url:
            raise ConfigError(
                f"{provider.name} has no device flow (no device authorization endpoint)",
                Hint("log in with {paste} instead", paste=paste),
            )
        return Decision("device", "device: as asked")
    if not receivable(client):
        return Decision(
            "paste",
            f"paste: the redirect_uri {printable(client.redirect_uri)} is not http on "
            "loopback, so the redirect cannot arrive here",
        )
    if port is None and kernel and (place := browser_elsewhere(environ)):
        also = (
            Hint(
                "; {device} also works if the app has the device flow enabled",
                device=Command("auth.device", provider.name),
            ).render()
            if provider.device_url
            else ""
        )
        return Decision(
            "paste",
            f"paste: {where_phrase(place)}, so the browser cannot reach its loopback "
            f"callback{also}",
        )
    if port is None and is_remote_session(environ):
        return Decision(
            "paste",
            "paste: an SSH session cannot receive the redirect here (forward a port and "
            f"give {setting('port', PLACEHOLDER)} to receive it)",
        )
    return Decision("browser", "browser: the redirect comes back to a callback on 127.0.0.1")


def run_login(
    creds: Store,
    provider: Provider,
    *,
    user: str | None = None,
    scope: str | None = None,
    port: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    browser: bool = True,
    mode: str = "auto",
    stdin: TextIO | None = None,
    stderr: TextIO | None = None,
    opener: Callable[[str], bool] = open_browser,
) -> flow.Verified:
    """Run the whole dance; return the verified owner.

    `mode` ("auto", "browser", "paste", "device") is decided by `decide_mode`, and an
    "auto" decision is shown before the login starts. The redirect comes to a one-shot
    server on 127.0.0.1, or the user pastes it: on stdin, or in a Jupyter kernel through
    `input()` (ipykernel's stdin channel). `timeout` is a deadline for the callback, the
    device flow and the paste on stdin; a paste in a kernel waits until the user answers
    or interrupts (Jupyter cannot withdraw an input request). However the login ends
    short of a token (an error, Ctrl-C or Jupyter's interrupt, SIGTERM, SIGHUP), its
    pending authorization — and PKCE verifier — is removed.
    """
    kernel = in_kernel()
    paste_in_kernel = kernel and stdin is None  # a kernel's sys.stdin is not the user's
    stdin, stderr = stdin or sys.stdin, stderr or sys.stderr  # as they are now, not at import
    app = flow.current_client(creds, provider).require_client_id()
    decision = decide_mode(mode, app, port=port, environ=os.environ, kernel=kernel)
    if mode == "auto":
        print(f"({decision.why})", file=stderr, flush=True)
    command = Command("auth.login", provider.name, user)
    if decision.mode == "device":
        from oauthdance.dance.device import device_login

        return device_login(
            creds,
            provider,
            scope=scope,
            user=user,
            stderr=stderr,
            opener=opener if browser and browser_can_start() else None,
            timeout=timeout,
        )
    paste = decision.mode == "paste"
    server: CallbackServer | None = None
    started: flow.Authorization | None = None
    with _Stopping() as stopping:
        try:
            if not paste:
                server = CallbackServer(
                    app.redirect_uri, port, app.provider.any_loopback_port, command
                )
            with stopping.held():  # a signal waits until `started` names what was written
                started = flow.start_authorization(
                    creds,
                    provider,
                    scope=scope,
                    redirect_uri=server.redirect_uri if server else None,
                    extra_params={"login": user} if user else None,
                )
            show_link(f"Open this URL to authorize:\n\n  {started.url}\n", started.url, stderr)
            if browser and not paste and browser_can_start() and not opener(started.url):
                print("(could not start a browser: open the URL above by hand)", file=stderr)
            if server:
                print(
                    f"Waiting up to {timeout:g} s for the redirect on {server.redirect_uri} "
                    f"({'interrupt the kernel' if kernel else 'Ctrl-C'} to cancel)...",
                    file=stderr,
                    flush=True,
                )
                redirect = server.wait(started.state, timeout, stderr)
            elif paste_in_kernel:
                redirect = _read_pasted_in_kernel(provider, command)
            else:
                redirect = _read_pasted(stdin, stderr, timeout, command)
            url, code = flow.pasted(redirect)  # the address, or a bare code
            flow.store_code(
                creds, provider, url=url, code=code, state=started.state, for_login=True
            )
            return flow.exchange_and_verify(
                creds, provider, state=started.state, fallback_owner=user
            )
        except Stopped as exc:
            print(f"({exc.signal_name}: cancelling the login)", file=stderr, flush=True)
            raise
        finally:
            with stopping.held():  # a second signal waits for the cleanup
                if server:
                    server.close()
                if started:  # consumed if the login succeeded; else forgotten now
                    flow.discard_pending(creds, provider, started.state)


class Stopped(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP during a login. A KeyboardInterrupt, so no `except Exception`
    on the way swallows it, and the task reports it as it reports Ctrl-C."""

    def __init__(self, signum: int) -> None:
        self.signal_name = signal.Signals(signum).name
        # What a notebook shows after Jupyter's interrupt: a sentence, not a signal number.
        super().__init__(f"{self.signal_name}: the login was cancelled; nothing is left pending")
        self.signum = signum


class _Stopping:
    """For the duration of a login: SIGINT, SIGTERM and SIGHUP raise `Stopped`, so each
    unwinds through the login's cleanup. Inside `held()` a signal waits for the block's end.

    Handlers are only installed from the main thread (`signal.signal` fails elsewhere, and
    only it receives signals); a signal ignored when the login starts (`nohup`) stays
    ignored; the previous handlers are restored after.
    """

    SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")  # SIGHUP: the terminal or SSH session is gone

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}
        self._holding = 0
        self._caught: int | None = None

    def __enter__(self) -> _Stopping:
        if threading.current_thread() is threading.main_thread():
            for name in self.SIGNALS:
                signum = getattr(signal, name, None)  # no SIGHUP on Windows
                if signum is not None and signal.getsignal(signum) not in (signal.SIG_IGN, None):
                    self._previous[signum] = signal.signal(signum, self._stop)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _stop(self, signum: int, frame: object) -> None:
        if self._holding:
            self._caught = signum
        else:
            raise Stopped(signum)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1
        if self._caught is not None and not self._holding:
            signum, self._caught = self._caught, None
            raise Stopped(signum)


MAX_PASTE = 64 * 1024  # bytes: a redirect URL is far shorter; a pasted file is not read on


def _read_pasted(stdin: TextIO, stderr: TextIO, timeout: float, command: Command) -> str:
    print(
        "After approving, paste the address the browser shows (or just the code), "
        f"then press Enter (waiting up to {timeout:g} s):",
        file=stderr,
        flush=True,
    )
    line = _read_line(stdin, timeout)
    if line is None:
        raise LoginTimeout(
            f"nothing was pasted within {timeout:g} seconds",
            Hint(f"run {{login}} again with a longer {setting('timeout')}", login=command),
        )
    return _pasted(line, command)


PASTE_PROMPT = "After approving, paste the address the browser shows (or just the code): "


def _read_pasted_in_kernel(provider: Provider, command: Command) -> str:
    """The paste in a Jupyter kernel: `input()`, answered in the notebook, no deadline."""
    line = read_in_kernel(PASTE_PROMPT)
    if line is None:
        device = Command("auth.device", provider.name, command.user)
        raise UsageError(
            "this notebook's frontend cannot answer input(), so the address cannot be pasted",
            Hint(
                "log in with {device}, or in a terminal with {login}", device=device, login=command
            )
            if provider.device_url
            else Hint("log in in a terminal with {login}", login=command),
        )
    return _pasted(line, command)


def _pasted(line: str, command: Command) -> str:
    if not line.strip():
        raise AuthorizationError(
            "nothing was pasted",
            Hint("run {login} again and paste the redirected address", login=command),
        )
    return line.strip()


def _read_line(stdin: TextIO, timeout: float) -> str | None:
    """A line from stdin (a terminal or a pipe), or None if none came within `timeout`.

    Reads the descriptor itself, after `select`, so the deadline holds however little
    arrives and no thread is left blocked on stdin. Streams without one (in-memory, as in
    tests and notebooks) are read as they are: they cannot keep anyone waiting.
    """
    try:
        fd = stdin.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        try:
            return stdin.readline()
        except (AttributeError, OSError, ValueError):  # no stdin at all (`<&-`), or closed
            return ""
    encoding = getattr(stdin, "encoding", None) or "utf-8"
    if sys.platform == "win32":  # select() takes sockets only there
        return _read_line_in_thread(fd, timeout, encoding)
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data and len(data) <= MAX_PASTE:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        if select.select([fd], [], [], left)[0]:
            chunk = _read_some(fd)
            if not chunk:
                break
            data += chunk
    return data.decode(encoding, "replace").partition("\n")[0]


def _read_line_in_thread(fd: int, timeout: float, encoding: str) -> str | None:
    """Windows: the line is read by a thread that is abandoned at the deadline (it reads
    the descriptor, not `sys.stdin`, so it holds no lock the interpreter's exit needs)."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        data = b""
        while b"\n" not in data and len(data) <= MAX_PASTE:
            chunk = _read_some(fd)
            if not chunk:
                break
            data += chunk
        lines.put(data.decode(encoding, "replace").partition("\n")[0])

    threading.Thread(target=read, daemon=True, name="paste").start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return None


def _read_some(fd: int) -> bytes:
    """What the descriptor has; b"" at its end, or when it fails (a terminal that hung up)."""
    try:
        return os.read(fd, 4096)
    except OSError:
        return b""


def _host(uri: str) -> str | None:
    from urllib.parse import urlsplit

    return urlsplit(uri).hostname
