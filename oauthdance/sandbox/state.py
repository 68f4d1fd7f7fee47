"""The sandbox's state in a JSON file (`sandbox.serve --state FILE`), so tokens outlive it.

What is kept: apps, users, codes, device grants, tokens and refresh tokens, rate counters
and the clock's offset — what a token issued before a restart needs to keep working after
it. What is not: the id_token signing key (an id_token is checked once, at login; a new key
signs the next ones), injected faults, request counters, and the settings flags choose.

The model calls `save` under its lock after every change that matters (a code, a token, a
refresh, a revocation, an app, a user, the clock), so a client never holds a token the file
lacks, and writes come out in the order the changes were made. Rate counters change on
every API call: they ride along with the next save, and the last one at `close`.
Each save replaces the file atomically (temporary file beside it, fsync, rename) with mode
0600: it holds client secrets and tokens. A lock beside the file, held while the sandbox
runs, keeps a second sandbox from writing over the first's tokens. A file that cannot be
read as a sandbox state is refused and left as it was.

The sandbox shares nothing with the client package but its pages, so the atomic write
here is its own (the credentials file's is in `oauthdance.store`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from oauthdance.base.atomic import write_private
from oauthdance.sandbox.model import App, DeviceGrant, Grant, RateCounter, Sandbox, Token, User

FORMAT = "oauthdance-sandbox-state"
VERSION = 1
# The model's tables, each a dict of records (kept with refresh_index and clock_offset).
TABLES: dict[str, type] = {
    "apps": App,
    "users": User,
    "grants": Grant,
    "device_grants": DeviceGrant,
    "tokens": Token,
    "rate": RateCounter,
}


class StateFileError(Exception):
    """The state file cannot be used; `hint` says what to do (the tasks add `next:`)."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def snapshot(model: Sandbox) -> dict[str, Any]:
    """Everything `restore` needs, as JSON-ready data (taken under the model's lock)."""
    with model.lock:
        data: dict[str, Any] = {"format": FORMAT, "version": VERSION}
        for name in TABLES:
            data[name] = {key: dataclasses.asdict(v) for key, v in getattr(model, name).items()}
        data["refresh_index"] = dict(model.refresh_index)
        data["clock_offset"] = model.clock_offset
        return data


def restore(model: Sandbox, data: Any, source: str = "the state") -> None:
    """Replace the model's state with a snapshot's; `StateFileError` if it is not one."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _unusable(source, "is not a sandbox state file")
    if data.get("version") != VERSION:
        raise _unusable(source, f"has version {data.get('version')!r}; this sandbox reads 1")
    tables: dict[str, dict[str, Any]] = {}
    for name, kind in TABLES.items():
        try:
            tables[name] = {str(k): kind(**record) for k, record in data[name].items()}
        except (KeyError, TypeError, AttributeError) as exc:
            raise _unusable(source, f"has an unreadable {name!r} table ({exc})") from None
    refresh_index, clock_offset = data.get("refresh_index"), data.get("clock_offset")
    if not isinstance(refresh_index, dict) or not isinstance(clock_offset, (int, float)):
        raise _unusable(source, "has no readable refresh_index or clock_offset")
    with model.changing():
        for name, table in tables.items():
            setattr(model, name, table)
        model.refresh_index = {str(k): str(v) for k, v in refresh_index.items()}
        model.clock_offset = float(clock_offset)


def _unusable(source: str, why: str) -> StateFileError:
    return StateFileError(
        f"{source} {why}",
        "fix or move the file (it was not changed), or pass another --state FILE",
    )


class StateFile:
    """A model kept in a file from `open` to `close`: `with StateFile(path, model) as kept`."""

    def __init__(self, path: str | os.PathLike[str], model: Sandbox) -> None:
        self.path = Path(path).expanduser()
        self.model = model
        self.restored = False  # whether `open` found a state to continue from
        self._lock_fd: int | None = None
        self._warned = False

    def open(self) -> StateFile:
        """Claim the file, load what it holds into the model, save, and keep saving."""
        self._claim()
        try:
            self.restored = self._load()
            self.save(self.model)  # now: an unwritable folder is found before serving
        except BaseException:
            self._release()
            raise
        self.model.on_change = self._save_or_warn
        return self

    def close(self) -> None:
        """Save once more (what rode along) and let another sandbox have the file."""
        if self.model.on_change != self._save_or_warn:
            return  # not open
        try:
            self.model.persist()
        finally:
            self.model.on_change = None
            self._release()

    def __enter__(self) -> StateFile:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def save(self, model: Sandbox) -> None:
        """Replace the file with the model's state, atomically, mode 0600."""
        text = json.dumps(snapshot(model), indent=1) + "\n"
        try:
            write_private(self.path, text)
        except OSError as exc:
            raise StateFileError(
                f"cannot write the sandbox state {self.path}: {exc.strerror or exc}",
                "check that its folder is writable by you, or pass another --state FILE",
            ) from exc

    def _save_or_warn(self, model: Sandbox) -> None:
        """While serving, a failed save costs durability, not the request: say so once."""
        try:
            self.save(model)
            self._warned = False
        except StateFileError as exc:
            if not self._warned:
                print(
                    f"warning: {exc.message}; tokens live in memory until a save works",
                    file=sys.stderr,
                    flush=True,
                )
            self._warned = True

    def _load(self) -> bool:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return False
        except (OSError, UnicodeDecodeError) as exc:
            raise StateFileError(
                f"cannot read the sandbox state {self.path}: "
                f"{getattr(exc, 'strerror', None) or exc}",
                "check the path and its permissions, or pass another --state FILE",
            ) from None
        if not text.strip():
            return False  # an empty file holds nothing to lose
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _unusable(
                str(self.path), f"is not valid JSON at line {exc.lineno}, column {exc.colno}"
            ) from None
        restore(self.model, data, str(self.path))
        return True

    def _claim(self) -> None:
        """Hold a lock beside the file while this sandbox runs (POSIX; elsewhere, trust)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return
        lock = self.path.with_name(f".{self.path.name}.lock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as exc:
            raise StateFileError(
                f"cannot use the sandbox state {self.path}: {exc.strerror or exc} ({lock})",
                "check that its folder is yours and writable, or pass another --state FILE",
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateFileError(
                f"another sandbox is using the state {self.path}",
                "stop that one first (two would write over each other's tokens), "
                "or pass another --state FILE",
            ) from None
        self._lock_fd = fd
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            stale.unlink(missing_ok=True)  # a killed save's, holding secrets: ours to remove

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the lock
            self._lock_fd = None
