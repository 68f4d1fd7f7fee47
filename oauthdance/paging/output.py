"""Streaming writers for fetched items: JSON (one array), NDJSON and CSV.

Items are written as they arrive and memory stays flat however much is fetched: JSON
streams its array, NDJSON holds one page at a time, and CSV keeps its rows on disk, as
its header (every column any item has) is known only once the last item is in.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol

from oauthdance.base.errors import OAuthDanceError, UsageError, printable
from oauthdance.base.jsonio import dumps

FORMATS = ("json", "ndjson", "csv")
EXTENSIONS = {".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson", ".csv": "csv"}


def format_for(out: str | None, given: str | None) -> str:
    """--format, else the output file's extension (stdout is JSON): a file whose extension
    names no format is refused rather than quietly written as JSON."""
    if given:
        if given not in FORMATS:
            raise UsageError(
                f"unknown --format {printable(given, 40)!r}", f"use one of: {', '.join(FORMATS)}"
            )
        return given
    if not out:
        return "json"
    suffix = Path(out).suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    *known, last = EXTENSIONS
    what = f"its extension {printable(suffix, 40)!r} names" if suffix else "no extension names"
    raise UsageError(
        f"--out {printable(out)!r}: {what} a format",
        f"end the file name in {', '.join(known)} or {last}, or add --format {'|'.join(FORMATS)}",
    )


class Page(Protocol):
    """What a writer reads of a fetched page (`paging.page.Page`)."""

    body: bytes  # the JSON as it came
    count: int
    array: bool  # the body is a JSON array of the items

    @property
    def items(self) -> list[Any]: ...  # decoded when first asked for


class ItemWriter:
    """Writes items to a file (or stdout) in one format; `count` says how many so far.

    JSON and NDJSON are written as bytes (encoded once, by `jsonio`); CSV as text, by a
    `CsvTable`. With `one` (data.user) a single item is written as JSON on its own, not as
    an array of one. A failed write (a closed pipe, a full disk) propagates, and `close`
    then writes nothing more, so that failure is the one reported.
    """

    def __init__(self, out: str | None, fmt: str, *, one: bool = False) -> None:
        self.out, self.format, self.count = out, fmt, 0
        self._stream: Any = None  # opened with the first item: a failure before it
        self._table: CsvTable | None = None  # leaves no file behind
        self._held: list[Any] | None = [] if one and fmt == "json" else None
        self._failed = False
        writers = {"json": self._json, "ndjson": self._ndjson, "csv": self._csv}
        self._write = self._held.extend if self._held is not None else writers[fmt]

    @property
    def target(self) -> str:
        return self.out or "stdout"

    def _open(self) -> Any:
        if self._stream is None:
            try:
                if self.format == "csv":
                    self._table = CsvTable(self.out)
                    self._stream = self._table.sink if self.out else sys.stdout
                else:
                    self._stream = open(self.out, "wb") if self.out else sys.stdout.buffer  # noqa: SIM115
            except OSError as exc:
                raise UsageError(
                    f"cannot write {self.target}: {exc.strerror or exc}",
                    "give --out a file in a folder you can write to",
                ) from exc
        return self._stream

    def write_page(self, page: Page) -> None:
        """Write a fetched page: a JSON array goes out as it came (only the brackets between
        pages change), so JSON output never decodes an item."""
        if self.format == "json" and self._held is None and page.array:
            if page.count:
                inner = page.body.strip()[1:-1].strip()
                with self._failing():
                    self._open().write((b"[\n" if not self.count else b",\n") + inner)
                self.count += page.count
            return
        self.write_many(page.items)

    def write_many(self, items: list[Any]) -> None:
        """Write a page of items in one call (cheaper than one write per item)."""
        if not items:
            return
        with self._failing():
            self._write(items)
        self.count += len(items)

    def _json(self, items: list[Any]) -> None:
        self._open().write(_array_part(items, first=not self.count))

    def _ndjson(self, items: list[Any]) -> None:
        self._open().write(b"".join(dumps(item) + b"\n" for item in items))

    def _csv(self, items: list[Any]) -> None:
        self._open()
        assert self._table is not None
        self._table.write([flatten(item) for item in items])

    def close(self, complete: bool = True) -> None:
        """Finish the output; an incomplete run that wrote nothing leaves nothing."""
        if self._failed or (not complete and not self.count):
            self._release()
            return
        with self._failing():
            try:
                self._finish()
            finally:
                self._release()

    def _finish(self) -> None:
        if self._held is not None:
            held = self._held
            self._open().write(
                dumps(held[0]) + b"\n" if len(held) == 1 else _array_part(held, True) + b"\n]\n"
            )
        elif self.format == "json":
            self._open().write(b"\n]\n" if self.count else b"[]\n")
        elif self._table is not None:
            self._table.finish()
        else:
            self._open()  # no items: an empty file
        if not self.out:
            self._stream.flush()

    def _release(self) -> None:
        """Close what was opened (never stdout), writing nothing."""
        stream, self._stream = self._stream, None
        if self._table is not None:
            self._table.close()
        elif self.out and stream is not None:
            stream.close()

    @contextlib.contextmanager
    def _failing(self) -> Iterator[None]:
        """A closed pipe propagates as it is; other failures to write become a clear error."""
        try:
            yield
        except BrokenPipeError:
            self._failed = True
            raise
        except OSError as exc:
            self._failed = True
            raise OAuthDanceError(
                f"could not write to {self.target}: {exc.strerror or exc}",
                "make room (or pick another --out) and run the same command again",
            ) from exc


def _array_part(items: list[Any], first: bool) -> bytes:
    """Items as part of one JSON array: the opening bracket first, a comma after that."""
    return (b"[" if first else b",") + b",".join(b"\n  " + dumps(item) for item in items)


class CsvTable:
    """CSV whose header is every column any row has, in first-seen order, in flat memory.

    The header comes first but is complete only at the end, so rows go to a sink as they
    come: the output file itself, or for stdout (which cannot be rewritten) a temporary
    file. The sink starts with the columns the first page knows, and each row is as wide
    as the columns known when it is written (new ones are added at the end). At the end,
    if no column came late the sink is the result (copied to stdout); else the result is
    written once more: the full header, then every row padded to it.
    """

    def __init__(self, out: str | None) -> None:
        self.out = out
        self.sink: IO[str] = (
            open(out, "w+", encoding="utf-8", newline="")  # noqa: SIM115
            if out
            else tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115
        )
        self._writer = csv.writer(self.sink)
        self._columns: dict[str, None] = {}
        self._names: list[str] = []
        self._header = -1  # how many columns the sink's header names; -1: none written yet

    def write(self, rows: list[dict[str, Any]]) -> None:
        columns = self._columns
        for row in rows:
            if not columns.keys() >= row.keys():
                columns.update(dict.fromkeys(row))  # known ones keep their place
        if len(columns) != len(self._names):
            self._names = list(columns)
        if self._header < 0:
            self._writer.writerow(self._names)
            self._header = len(self._names)
        names = self._names
        self._writer.writerows([row.get(name) for name in names] for row in rows)

    def finish(self) -> None:
        """Write the finished CSV: to stdout, or over the output file if columns came late."""
        if self.out is None:
            self._copy(sys.stdout)
            return
        if len(self._names) == self._header:
            return  # the file is already what it should be
        path = Path(self.out).resolve()  # a symbolic link stays one: its target is rewritten
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".oauthdance-", suffix=".csv")
        try:
            with open(handle, "w", encoding="utf-8", newline="") as dest:
                self._copy(dest)
            shutil.copymode(path, temporary)
            self.sink.close()  # before the rename, which some systems refuse on open files
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def _copy(self, dest: IO[str]) -> None:
        """The sink to `dest`: as it is, or with the full header and rows padded to it."""
        self.sink.seek(0)
        if len(self._names) == self._header:
            shutil.copyfileobj(self.sink, dest)
            return
        width = len(self._names)
        old_limit = csv.field_size_limit()
        csv.field_size_limit(2**31 - 1)  # a row is read back whole, however long its cells
        try:
            rows = csv.reader(self.sink)
            next(rows, None)  # the first header
            writer = csv.writer(dest)
            writer.writerow(self._names)
            writer.writerows(row + [""] * (width - len(row)) for row in rows)
        finally:
            csv.field_size_limit(old_limit)

    def close(self) -> None:
        """Close the sink; a temporary one is deleted with it."""
        self.sink.close()


def flatten(item: Any, prefix: str = "") -> dict[str, Any]:
    """Nested objects become dotted columns (`owner.login`), an empty one `{}`; lists become
    JSON text; booleans are `true`/`false` as in JSON, and null is an empty cell.

    Values are as JSON decodes them (exact types, tested by identity: twice as fast as
    `isinstance`, and this runs for every field of every item)."""
    if not isinstance(item, dict):
        return {prefix or "value": _cell(item)}
    row: dict[str, Any] = {}
    for key, value in item.items():
        name = f"{prefix}{key}"
        kind = value.__class__
        if kind is dict and value:
            row.update(flatten(value, name + "."))
        elif kind is bool or kind is list or kind is dict:
            row[name] = _cell(value)
        else:
            row[name] = value
    return row


def _cell(value: Any) -> Any:
    """A value as a CSV cell, written the way JSON writes it where Python's `str` differs."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return value
