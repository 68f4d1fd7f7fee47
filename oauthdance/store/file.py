"""The credentials file (the default store): the only code that opens it.

JSON or YAML by extension, the same structure in both. Reads never write; every update
happens under a lock, re-reads the file inside the lock, and replaces it atomically
(temporary file in the same folder, fsync, rename) with mode 0600, so concurrent steps
never lose each other's work and a crash never leaves half a file.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from oauthdance.base.advice import setting
from oauthdance.base.atomic import write_private
from oauthdance.base.errors import CredentialsFileError
from oauthdance.store.base import Change, RefreshTurn, Store, T, apply_change
from oauthdance.store.record import upgrade

LOCK_TIMEOUT_SECONDS = 30.0


class CredentialsFile(Store):
    """A credentials file on disk: `read()` for a snapshot, `change()` to change a record
    (`update()` is the whole file under its lock, which `change` uses)."""

    kind = "file"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def local_folder(self) -> Path:
        return self.path.expanduser().resolve().parent

    def change(self, provider: str, change: Change[T]) -> T:
        """One attempt under the file's lock: nobody else writes meanwhile."""
        with self.update() as data:
            return apply_change(data, provider, change)[0]

    @contextmanager
    def refresh_turn(self, provider: str, owner: str) -> Iterator[RefreshTurn]:
        """Refreshes take turns on a lock of their own beside the file, so other steps only
        wait for the short writes, never for the provider."""
        with self.held("refresh"):
            yield RefreshTurn()

    def describe(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"backend": self.kind, "location": str(self.path)}
        try:
            info = self.path.stat()
        except OSError:
            facts["exists"] = False
            return facts
        facts["exists"] = True
        facts["mode"] = f"{info.st_mode & 0o777:04o}"
        facts["readable_by"] = _readers(info)
        return facts

    @property
    def is_yaml(self) -> bool:
        return self.path.suffix.lower() in (".yaml", ".yml")

    def read(self) -> dict[str, Any]:
        """The whole file as a dict (empty if the file does not exist yet)."""
        text = self._read_text()
        if text is None:
            return {}
        _warn_if_readable_by_others(self.path)
        return {name: upgrade(rec) for name, rec in self._parse(text).items()}

    def record(self, provider: str) -> dict[str, Any]:
        """One provider's record (a copy; empty if there is none)."""
        return self.read().get(provider) or {}

    @contextmanager
    def update(self) -> Iterator[dict[str, Any]]:
        """Lock, re-read, yield the data to mutate, and write it back if it changed.

        If the body raises, nothing is written: the file stays exactly as it was. A folder
        that cannot be created or written is a `CredentialsFileError`, never an `OSError`.
        """
        with self.held():
            raw = self._parse_raw()
            data = {name: upgrade(rec) for name, rec in raw.items()}
            before = copy.deepcopy(raw)
            yield data
            if data != before:
                with self._unwritable_as_error():
                    self._write(data)

    @contextmanager
    def held(self, purpose: str = "") -> Iterator[None]:
        """The file's lock (`.creds.json.lock`), or with a `purpose` a lock of its own
        beside it, for work that must take turns across processes without holding the
        file's lock meanwhile (a refresh's HTTP call)."""
        name = f".{self.path.name}.{purpose}.lock" if purpose else f".{self.path.name}.lock"
        with ExitStack() as held:
            with self._unwritable_as_error():
                self.path.parent.mkdir(parents=True, exist_ok=True)
                held.enter_context(_exclusive_lock(self.path.with_name(name)))
            yield

    @contextmanager
    def _unwritable_as_error(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise CredentialsFileError(
                f"cannot write {self.path}: {exc.strerror or exc}",
                "check that its folder exists and is writable by you (it was not changed), "
                f"or point {setting('creds')} at another file",
            ) from exc

    def _parse_raw(self) -> dict[str, Any]:
        text = self._read_text()
        return {} if text is None else self._parse(text)

    def _read_text(self) -> str | None:
        """The file's text; None if it does not exist yet."""
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CredentialsFileError(
                f"cannot read {self.path}: {exc.strerror}", "check the path and its permissions"
            ) from exc

    def _parse(self, text: str) -> dict[str, Any]:
        if not text.strip():
            return {}
        if self.is_yaml:
            from oauthdance.base import yamlio

            try:
                data = yamlio.load(text)
            except yamlio.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
                problem = getattr(exc, "problem", None) or str(exc)
                raise self._corrupt(f"is not valid YAML{where}: {problem}") from exc
        else:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise self._corrupt(
                    f"is not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
                ) from exc
        if not isinstance(data, dict) or not all(
            isinstance(rec, dict) or rec is None for rec in data.values()
        ):
            raise self._corrupt("must map each provider name to a record of settings")
        return {name: rec or {} for name, rec in data.items()}

    def _corrupt(self, what: str) -> CredentialsFileError:
        return CredentialsFileError(
            f"{self.path} {what}",
            f"fix the file by hand (it was not changed), or point {setting('creds')} at "
            "another file",
        )

    def _write(self, data: dict[str, Any]) -> None:
        if self.is_yaml:
            from oauthdance.base import yamlio

            text = yamlio.dump(data)
        else:
            text = json.dumps(data, indent=2) + "\n"
        _sweep_stale_temporaries(self.path)
        write_private(self.path, text)


@contextmanager
def _exclusive_lock(lock_path: Path) -> Iterator[None]:
    """An advisory lock held by this process until the block ends.

    POSIX `flock` where it exists (released by the kernel even if the process dies, and
    cheap to import); the `filelock` package elsewhere (Windows).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        from filelock import FileLock, Timeout

        try:
            with FileLock(str(lock_path), timeout=LOCK_TIMEOUT_SECONDS):
                yield
        except Timeout as exc:
            raise _lock_timeout(lock_path) from exc
        return
    try:  # never through a link: one planted in a shared folder would aim our write elsewhere
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        if not lock_path.is_symlink():
            raise  # an unwritable folder: the caller says so
        raise CredentialsFileError(
            f"the lock file {lock_path} is a symbolic link; oauthdance never follows one",
            "remove it if you did not make it, and check who can write to that folder",
        ) from exc
    if hasattr(os, "getuid") and os.fstat(fd).st_uid != os.getuid():
        os.close(fd)
        raise CredentialsFileError(
            f"the lock file {lock_path} belongs to another user",
            "keep credentials in a folder only you can write to (or remove that file)",
        )
    try:
        deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise _lock_timeout(lock_path) from None
                time.sleep(0.005)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


STALE_TEMPORARY_SECONDS = 60.0
_warned_readable: set[Path] = set()


def _warn_if_readable_by_others(path: Path) -> None:
    """As ssh does for keys: a credentials file others can read is worth a word (once per
    process); the next write makes it 0600 again."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return
    if mode & 0o077 and path not in _warned_readable:
        _warned_readable.add(path)
        print(
            f"warning: {path} is readable by others (mode {mode:04o}); oauthdance writes it "
            f"0600 on its next change (or run: chmod 600 {path})",
            file=sys.stderr,
        )


def _readers(info: os.stat_result) -> str:
    """Who may read a file of this mode, in words."""
    mode = info.st_mode
    try:
        import pwd

        owner = pwd.getpwuid(info.st_uid).pw_name
    except (ImportError, KeyError):
        owner = str(info.st_uid)
    if mode & 0o004:
        return "everyone on this machine"
    if mode & 0o040:
        return f"{owner} and group {info.st_gid}"
    return f"{owner} only"


def _sweep_stale_temporaries(path: Path) -> None:
    """Remove temporary copies (they hold secrets) that writers killed mid-write left
    behind. Called under the lock, so a temporary older than a minute has no live writer."""
    cutoff = time.time() - STALE_TEMPORARY_SECONDS
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if stale.lstat().st_mtime < cutoff:
                stale.unlink()
        except OSError:
            pass  # gone already, or not ours to remove


def _lock_timeout(lock_path: Path) -> CredentialsFileError:
    return CredentialsFileError(
        f"the credentials file is locked by another process ({lock_path})",
        "wait for the other step to finish and try again",
    )
