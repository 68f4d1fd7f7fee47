"""JSON for bulk data: orjson and simdjson where they are installed (CPython), the
standard library elsewhere.

Decoding pages and re-encoding their items is most of a fetch's CPU time; orjson does both
about 3-10x faster (bench/fetch.py), which matters because on a fast link a fetch is
bound by its own CPU, on one thread. A page written out as it came is only checked:
simdjson validates it without building Python objects, about 10x faster than decoding it.
"""

from __future__ import annotations

import importlib
import json
import threading
from types import ModuleType
from typing import Any


def _optional(name: str) -> ModuleType | None:
    """The module, or None where it is not installed (the standard library then serves)."""
    try:
        return importlib.import_module(name)
    except ImportError:  # pragma: no cover - PyPy and platforms without wheels
        return None


orjson = _optional("orjson")
simdjson = _optional("simdjson")


def loads(data: bytes | str) -> Any:
    """JSON to Python; `ValueError` if it is not JSON."""
    if orjson is not None:
        try:
            return orjson.loads(data)
        except ValueError:
            pass  # valid JSON orjson declines (integers past 64 bits): the slow way decides
    try:
        return json.loads(data, parse_constant=_not_json)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python's json reads NaN and Infinity


_parsers = threading.local()  # a simdjson parser is reused, and is not thread-safe


def array_length(data: bytes) -> int | None:
    """How many items a JSON array holds, None for any other JSON value, and `ValueError`
    if `data` is not JSON at all: checked whole, but no Python objects are built."""
    if simdjson is not None:
        parser = getattr(_parsers, "parser", None) or simdjson.Parser()
        _parsers.parser = parser
        try:
            document = parser.parse(data)
            return len(document) if isinstance(document, simdjson.Array) else None
        except (ValueError, RuntimeError):
            pass  # not JSON, or JSON simdjson declines (huge integers): decode to decide
    value = loads(data)
    return len(value) if isinstance(value, list) else None


def dumps(value: Any) -> bytes:
    """Compact JSON as UTF-8 bytes."""
    if orjson is not None:
        return orjson.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
