"""The writers on their own: CSV's every-column header in flat memory, formats from file
names, one object for data.user, and failures to write (a closed pipe, a bad path)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oauthdance.base.errors import OAuthDanceError, UsageError
from oauthdance.paging.output import ItemWriter, flatten, format_for
from tests.support.invoking import captured_stream, captured_text

# The case that lost columns: the header came from the first item only.
SCALAR_THEN_OBJECT = [
    {"license": None},
    {"license": {"key": "mit", "name": "MIT License"}, "homepage": "x"},
]
EVERY_COLUMN = "license,license.key,license.name,homepage\r\n,,,\r\n,mit,MIT License,x\r\n"


def write(out: str | None, fmt: str, pages: list[list[Any]], **options: Any) -> None:
    writer = ItemWriter(out, fmt, **options)
    for page in pages:
        writer.write_many(page)
    writer.close()


def write_to_stdout(fmt: str, pages: list[list[Any]], **options: Any) -> io.TextIOWrapper:
    """What `write` puts on a stdout as a task sees it: text, with a `.buffer` for bytes."""
    stream = captured_stream()
    with contextlib.redirect_stdout(stream):
        write(None, fmt, pages, **options)
    return stream


def raw(stream: io.TextIOWrapper) -> str:
    """What was written, line ends as they are (CSV's are \\r\\n)."""
    stream.flush()
    return stream.buffer.getvalue().decode()  # type: ignore[attr-defined]


@pytest.mark.parametrize("paged", [True, False], ids=["a page each", "one page"])
def test_csv_file_has_every_column_of_every_item(tmp_path: Path, paged: bool) -> None:
    out = tmp_path / "repos.csv"
    pages = [[item] for item in SCALAR_THEN_OBJECT] if paged else [SCALAR_THEN_OBJECT]
    write(str(out), "csv", pages)
    assert out.read_bytes().decode() == EVERY_COLUMN
    assert [p.name for p in tmp_path.iterdir()] == ["repos.csv"]  # no temporary file left


@pytest.mark.parametrize("paged", [True, False], ids=["a page each", "one page"])
def test_csv_stdout_has_every_column_of_every_item(paged: bool) -> None:
    pages = [[item] for item in SCALAR_THEN_OBJECT] if paged else [SCALAR_THEN_OBJECT]
    assert raw(write_to_stdout("csv", pages)) == EVERY_COLUMN


def test_csv_object_then_scalar_keeps_both(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    write(str(out), "csv", [[{"license": {"key": "mit"}}], [{"license": "custom text"}]])
    rows = list(csv.DictReader(out.open(newline="")))
    assert rows == [
        {"license.key": "mit", "license": ""},
        {"license.key": "", "license": "custom text"},
    ]


def test_csv_cells_are_written_as_json_writes_them() -> None:
    row = flatten(
        {"private": True, "fork": False, "home": None, "topics": ["a", "b"], "meta": {}, "n": 3}
    )
    assert row == {
        "private": "true",
        "fork": "false",
        "home": None,
        "topics": '["a","b"]',
        "meta": "{}",
        "n": 3,
    }
    assert flatten([1, True]) == {"value": "[1,true]"}
    assert flatten(False) == {"value": "false"}


def test_csv_file_rewritten_keeps_its_mode_and_long_cells(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    out.write_text("")
    out.chmod(0o640)
    long_text = "line one\nline, two " + "x" * 300_000  # past csv's default field limit
    write(str(out), "csv", [[{"a": long_text}], [{"a": "short", "b": True}]])
    assert out.stat().st_mode & 0o777 == 0o640
    assert out.read_bytes().decode() == f'a,b\r\n"{long_text}",\r\nshort,true\r\n'
    assert csv.field_size_limit() == 131072  # put back as it was


ITEMS, PER_PAGE = 6_000, 100


def repo_pages() -> Iterator[list[dict[str, Any]]]:
    """6,000 large repository-like items (about 6 MB of CSV), a page at a time; the very
    last brings a new column."""
    for start in range(0, ITEMS, PER_PAGE):
        page = []
        for i in range(start, start + PER_PAGE):
            item: dict[str, Any] = {
                "id": i,
                "name": f"repo-{i:05d}",
                "private": i % 3 == 0,
                "owner": {"login": "octocat", "id": 1},
                "description": f"Sandbox repository number {i} " + "·" * 400,
                "license": None if i % 2 else {"key": "mit", "name": "MIT License"},
            }
            if i == ITEMS - 1:
                item["homepage"] = "https://example.com"
            page.append(item)
        yield page


@pytest.mark.parametrize("to_stdout", [False, True], ids=["file", "stdout"])
def test_csv_memory_stays_flat_at_scale(tmp_path: Path, to_stdout: bool) -> None:
    out = tmp_path / "repos.csv"
    with contextlib.ExitStack() as stack:
        if to_stdout:  # a real file behind stdout, so what was written is not in memory
            stdout = stack.enter_context(out.open("w", encoding="utf-8", newline=""))
            stack.enter_context(contextlib.redirect_stdout(stdout))
        tracemalloc.start()
        stack.callback(tracemalloc.stop)
        writer = ItemWriter(None if to_stdout else str(out), "csv")
        for page in repo_pages():
            writer.write_many(page)
        writer.close()
        _, peak = tracemalloc.get_traced_memory()
    size = out.stat().st_size
    assert size > 5_000_000
    print(f"peak {peak:,} bytes for {size:,} bytes of CSV")
    assert peak < size / 10, f"peak {peak:,} bytes for {size:,} bytes of CSV"
    with out.open(newline="", encoding="utf-8") as written:
        rows = csv.reader(written)
        header = next(rows)
        assert header[-1] == "homepage" and "license.key" in header
        widths = [len(row) for row in rows]
    assert widths == [len(header)] * ITEMS and row_end(out) == ",https://example.com\r\n"


def row_end(path: Path) -> str:
    """The file's last row's end."""
    with path.open("rb") as written:
        written.seek(-22, 2)
        return written.read().decode()


def test_json_and_ndjson(tmp_path: Path) -> None:
    pages = [[{"a": 1}, {"a": True}], [], [{"b": None}]]
    write(str(tmp_path / "r.json"), "json", pages)
    write(str(tmp_path / "r.ndjson"), "ndjson", pages)
    write(str(tmp_path / "none.json"), "json", [])
    items = [{"a": 1}, {"a": True}, {"b": None}]
    assert json.loads((tmp_path / "r.json").read_text()) == items
    assert [json.loads(x) for x in (tmp_path / "r.ndjson").read_text().splitlines()] == items
    assert json.loads((tmp_path / "none.json").read_text()) == []


def test_one_object_is_written_on_its_own() -> None:
    stdout = write_to_stdout("json", [[{"login": "octocat"}]], one=True)
    assert json.loads(captured_text(stdout)) == {"login": "octocat"}


def test_one_object_that_is_not_one_stays_an_array(tmp_path: Path) -> None:
    write(str(tmp_path / "two.json"), "json", [[1, 2]], one=True)
    write(str(tmp_path / "none.json"), "json", [], one=True)
    assert json.loads((tmp_path / "two.json").read_text()) == [1, 2]
    assert json.loads((tmp_path / "none.json").read_text()) == []


def test_an_incomplete_run_that_wrote_nothing_leaves_nothing(tmp_path: Path) -> None:
    for fmt in ("json", "ndjson", "csv"):
        ItemWriter(str(tmp_path / f"r.{fmt}"), fmt).close(complete=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("out", "given", "expected"),
    [
        (None, None, "json"),
        ("r.json", None, "json"),
        ("R.JSONL", None, "ndjson"),
        ("r.ndjson", None, "ndjson"),
        ("r.csv", None, "csv"),
        ("r.txt", "csv", "csv"),
        ("r", "ndjson", "ndjson"),
    ],
)
def test_format_from_flag_or_extension(out: str | None, given: str | None, expected: str) -> None:
    assert format_for(out, given) == expected


@pytest.mark.parametrize("out", ["repos.txt", "repos", "repos.json.gz"])
def test_an_extension_that_names_no_format_is_refused(out: str) -> None:
    with pytest.raises(UsageError) as caught:
        format_for(out, None)
    assert f"--out '{out}'" in str(caught.value)
    assert "--format json|ndjson|csv" in str(caught.value.hint)
    with pytest.raises(UsageError, match="unknown --format 'xml'"):
        format_for(out, "xml")


class ClosedPipe(io.RawIOBase):
    """The write end of a pipe whose reader has gone: every write fails."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
def test_a_closed_pipe_propagates_once(monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    """BrokenPipeError reaches the task (which exits 141); `close` in the `finally` after it
    raises nothing more that would mask it. CSV meets the closed pipe in `close` itself."""
    monkeypatch.setattr("sys.stdout", io.TextIOWrapper(ClosedPipe(), write_through=True))
    writer = ItemWriter(None, fmt)
    with pytest.raises(BrokenPipeError) as caught:
        try:
            for _ in range(3):
                writer.write_many([{"a": "x" * 10_000}])
        finally:
            writer.close(complete=False)
    assert caught.value.__context__ is None  # not raised again while handling the first
    writer.close()  # and again: nothing


def test_an_output_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"cannot write .*missing/r.json: No such file"):
        ItemWriter(str(tmp_path / "missing" / "r.json"), "json").write_many([1])
    full = ItemWriter("/dev/full", "ndjson")
    with pytest.raises(OAuthDanceError, match="could not write to /dev/full: No space left"):
        try:
            full.write_many([{"a": "x" * 100_000}])
        finally:
            full.close(complete=False)
