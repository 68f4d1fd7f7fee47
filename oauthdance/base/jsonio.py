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
    """JSON to Python, every number exact; `ValueError` if it is not JSON."""
    if orjson is not None and _fits_64_bits(data):
        try:
            return orjson.loads(data)
        except ValueError:
            pass  # JSON orjson declines: the standard library decides
    try:
        return json.loads(data, parse_constant=_not_json)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python's json reads NaN and Infinity


_parsers = threading.local()  # a simdjson parser is reused, and is not thread-safe


def _parser() -> Any:
    parser = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = simdjson.Parser()  # type: ignore[union-attr]  # callers check
    return parser


def _fits_64_bits(data: bytes | str) -> bool:
    """Does every integer in `data` fit in 64 bits? orjson turns larger ones into floats
    without a word (10**30 comes back as 1e+30); simdjson refuses them, and its check
    costs a seventh of orjson's decoding. Without simdjson: no, so the exact way decides."""
    if simdjson is None:
        return False
    try:
        _parser().parse(data.encode() if isinstance(data, str) else data)
    except (ValueError, RuntimeError):
        return False  # not JSON, or numbers simdjson declines: the exact way decides
    return True


def array_length(data: bytes) -> int | None:
    """How many items a JSON array holds, None for any other JSON value, and `ValueError`
    if `data` is not JSON at all: checked whole, but no Python objects are built."""
    if simdjson is not None:
        try:
            document = _parser().parse(data)
            return len(document) if isinstance(document, simdjson.Array) else None
        except (ValueError, RuntimeError):
            pass  # not JSON, or JSON simdjson declines (huge integers): decode to decide
    value = loads(data)
    return len(value) if isinstance(value, list) else None


def dumps(value: Any) -> bytes:
    """Compact JSON as UTF-8 bytes, every number exact."""
    if orjson is not None:
        try:
            return orjson.dumps(value)
        except TypeError:  # an integer past 64 bits, which `loads` read exactly: json writes it
            pass
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
