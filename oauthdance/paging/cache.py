"""ETags per URL, so a re-fetch of unchanged data is a 304 that costs no rate limit.

One small file per URL in a folder beside the credentials file, keyed by provider, owner
and URL (different owners see different data): a line of JSON (the ETag and the page's
links), then the page's body as it came, so a 304 replays the bytes without re-encoding
anything. Files are private (0600, folders 0700): they hold API answers.

Writing is off the fetch's path: `put` hands the page to one background writer, and
`flush` (at the end of a fetch) waits for it, so a slow disk never holds up a request.
"""

from __future__ import annotations

import hashlib
import os
import queue
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from oauthdance.base.jsonio import dumps, loads

FORMAT = ".page"  # the first format kept a decoded body (`.json`): those entries are ignored


@dataclass(frozen=True)
class Cached:
    etag: str
    body: bytes
    links: dict[str, str]


class ETagCache:
    def __init__(self, folder: str | os.PathLike[str], scope: str) -> None:
        self.folder = Path(folder)
        self.unwritable = False
        self.scope = scope  # e.g. "github/octocat"
        self._pending: queue.SimpleQueue[tuple[Path, bytes] | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._lock = threading.Lock()

    @classmethod
    def beside(cls, creds_path: Path, provider: str, owner: str | None) -> ETagCache:
        folder = creds_path.expanduser().resolve().parent / ".oauthdance-cache"
        return cls(folder, f"{provider}/{owner or 'environment-token'}")

    def _path(self, url: str) -> Path:
        digest = hashlib.sha256(f"{self.scope} {url}".encode()).hexdigest()
        return self.folder / digest[:2] / f"{digest}{FORMAT}"

    def get(self, url: str) -> Cached | None:
        try:
            head, _, body = self._path(url).read_bytes().partition(b"\n")
            meta = loads(head)
            return Cached(meta["etag"], body, meta.get("links") or {})
        except (OSError, ValueError, KeyError, TypeError):
            return None  # no entry, or a damaged one: fetch afresh

    def put(self, url: str, etag: str, body: bytes, links: dict[str, str]) -> None:
        """Keep a page for next time, written by the background writer."""
        if self.unwritable:
            return
        entry = dumps({"url": url, "etag": etag, "links": links}) + b"\n" + body
        with self._lock:
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_all, name="oauthdance-etags", daemon=True
                )
                self._writer.start()
        self._pending.put((self._path(url), entry))

    def flush(self) -> None:
        """Wait until every page handed to `put` is on disk (or the cache gave up)."""
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            self._pending.put(None)
            writer.join()

    def _write_all(self) -> None:
        while (job := self._pending.get()) is not None:
            if not self.unwritable:
                self._write(*job)

    def _write(self, path: Path, entry: bytes) -> None:
        """One entry, atomically; a folder that cannot be written only costs the cache (the
        fetch goes on, and says so once)."""
        try:
            for folder in (self.folder, path.parent):  # each made 0700: it holds API answers
                folder.mkdir(exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        except OSError as exc:
            self.unwritable = True
            print(
                f"warning: cannot keep ETags in {self.folder} ({exc.strerror}); "
                "fetching without the cache",
                file=sys.stderr,
            )
            return
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(entry)
            os.replace(tmp, path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)  # a full disk costs this entry only
