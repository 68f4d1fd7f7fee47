"""Streaming writers for fetched items: JSON (one array), NDJSON and CSV.

Items are written as they arrive; NDJSON and CSV hold one item at a time, and JSON
streams its array too, so memory stays flat however much is fetched.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

from .jsonio import dumps

FORMATS = ("json", "ndjson", "csv")


def format_for(out: str | None, given: str | None) -> str:
    """--format, else the output file's extension, else json."""
    if given:
        if given not in FORMATS:
            from .errors import UsageError

            raise UsageError(f"unknown --format {given!r}", f"use one of: {', '.join(FORMATS)}")
        return given
    suffix = Path(out).suffix.lower() if out else ""
    return {".ndjson": "ndjson", ".jsonl": "ndjson", ".csv": "csv"}.get(suffix, "json")


class ItemWriter:
    """Writes items to a file (or stdout) in one format; `count` says how many so far.

    JSON and NDJSON are written as bytes (encoded once, by `jsonio`); CSV as text.
    """

    def __init__(self, out: str | None, fmt: str) -> None:
        self.out, self.format, self.count = out, fmt, 0
        self._stream: Any = None  # opened with the first item: a failure before it
        self._csv: csv.DictWriter[str] | None = None  # leaves no file behind

    @property
    def target(self) -> str:
        return self.out or "stdout"

    def _open(self) -> Any:
        if self._stream is None:
            if self.format == "csv":
                self._stream = (
                    open(self.out, "w", encoding="utf-8", newline="")  # noqa: SIM115
                    if self.out
                    else sys.stdout
                )
            else:
                self._stream = open(self.out, "wb") if self.out else sys.stdout.buffer  # noqa: SIM115
            if self.format == "json":
                self._stream.write(b"[")
        return self._stream

    def write_many(self, items: list[Any]) -> None:
        """Write a page of items in one call (cheaper than one write per item)."""
        if not items:
            return
        stream = self._open()
        if self.format == "ndjson":
            stream.write(b"".join(dumps(item) + b"\n" for item in items))
        elif self.format == "json":
            lead = b"," if self.count else b""
            stream.write(lead + b",".join(b"\n  " + dumps(item) for item in items))
        else:
            rows = [flatten(item) for item in items]
            if self._csv is None:
                self._csv = csv.DictWriter(stream, fieldnames=list(rows[0]), extrasaction="ignore")
                self._csv.writeheader()
            self._csv.writerows(rows)
        self.count += len(items)

    def close(self, complete: bool = True) -> None:
        """Finish the output; an incomplete run that wrote nothing leaves nothing."""
        if self._stream is None and not complete:
            return
        stream = self._open()
        if self.format == "json":
            stream.write(b"\n]\n" if self.count else b"]\n")
        if self.out:
            stream.close()
        else:
            stream.flush()


def flatten(item: Any, prefix: str = "") -> dict[str, Any]:
    """Nested objects become dotted columns (`owner.login`); lists become JSON text."""
    if not isinstance(item, dict):
        return {prefix or "value": item}
    row: dict[str, Any] = {}
    for key, value in item.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            row.update(flatten(value, name + "."))
        elif isinstance(value, list):
            row[name] = json.dumps(value, separators=(",", ":"))
        else:
            row[name] = value
    return row
