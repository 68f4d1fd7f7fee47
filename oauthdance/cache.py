"""ETags per URL, so a re-fetch of unchanged data is a 304 that costs no rate limit.

One small JSON file per URL in a folder beside the credentials file, keyed by provider,
owner and URL (different owners see different data). Files are private (0600): they
hold API answers.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .jsonio import dumps, loads


@dataclass(frozen=True)
class Cached:
    etag: str
    body: Any
    links: dict[str, str]


class ETagCache:
    def __init__(self, folder: str | os.PathLike[str], scope: str) -> None:
        self.folder = Path(folder)
        self.unwritable = False
        self.scope = scope  # e.g. "github/octocat"

    @classmethod
    def beside(cls, creds_path: Path, provider: str, owner: str | None) -> ETagCache:
        folder = creds_path.expanduser().resolve().parent / ".oauthdance-cache"
        return cls(folder, f"{provider}/{owner or 'environment-token'}")

    def _path(self, url: str) -> Path:
        digest = hashlib.sha256(f"{self.scope} {url}".encode()).hexdigest()
        return self.folder / digest[:2] / f"{digest}.json"

    def get(self, url: str) -> Cached | None:
        try:
            data = loads(self._path(url).read_bytes())
            return Cached(data["etag"], data["body"], data.get("links") or {})
        except (OSError, ValueError, KeyError):
            return None  # no entry, or a damaged one: fetch afresh

    def put(self, url: str, etag: str, body: Any, links: dict[str, str]) -> None:
        """Keep a page for next time; a folder that cannot be written only costs the cache
        (the fetch goes on, and says so once)."""
        path = self._path(url)
        try:
            for folder in (self.folder, path.parent):  # each made 0700: it holds API answers
                folder.mkdir(exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        except OSError as exc:
            if not self.unwritable:
                self.unwritable = True
                print(
                    f"warning: cannot keep ETags in {self.folder} ({exc.strerror}); "
                    "fetching without the cache",
                    file=sys.stderr,
                )
            return
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(dumps({"url": url, "etag": etag, "body": body, "links": links}))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
