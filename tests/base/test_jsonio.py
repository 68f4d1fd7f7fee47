"""The bulk JSON codec: fast where it can be, exact always."""

from __future__ import annotations

import json

import pytest

from oauthdance.base import jsonio

BEYOND_64_BITS = [10**30, 2**64, -(2**63) - 1, 12345678901234567890123.5]
WITHIN = [2**64 - 1, -(2**63), 2**63, 0, -1, 1.5, 1e300]


@pytest.mark.parametrize("number", BEYOND_64_BITS + WITHIN)
def test_every_number_comes_back_exactly(number: float) -> None:
    text = json.dumps([number, {"n": number}])
    assert jsonio.loads(text.encode()) == json.loads(text)
    assert jsonio.loads(text) == json.loads(text)
    assert type(jsonio.loads(text)[0]) is type(number)


@pytest.mark.parametrize("number", BEYOND_64_BITS + WITHIN)
def test_every_number_is_written_exactly(number: float) -> None:
    """An item read exactly is written exactly: orjson refuses integers past 64 bits
    (a page `{"items": 1180591620717411303424}` ended a fetch in a TypeError)."""
    value = [number, {"n": number}]
    assert json.loads(jsonio.dumps(value)) == value


def test_a_page_of_many_items_still_takes_the_fast_way(monkeypatch: pytest.MonkeyPatch) -> None:
    if jsonio.orjson is None or jsonio.simdjson is None:
        pytest.skip("orjson and simdjson are not installed on this Python")
    slow: list[object] = []
    monkeypatch.setattr(jsonio.json, "loads", lambda *a, **k: slow.append(a))
    assert jsonio.loads(json.dumps([{"id": i} for i in range(100)]).encode())[99] == {"id": 99}
    assert slow == []


def test_what_is_not_json_is_a_value_error() -> None:
    for broken in (b"[1,", b"<html>", b"NaN", b"[Infinity]"):
        with pytest.raises(ValueError):
            jsonio.loads(broken)
