"""JSON for bulk data: orjson where it is installed (CPython), the standard library elsewhere.

Decoding pages and re-encoding their items is most of a fetch's CPU time; orjson does both
about 3-10x faster (bench/fetch.py), which matters because fetching is concurrent and
Python threads share one interpreter lock.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - PyPy and platforms without wheels
    orjson = None  # type: ignore[assignment]


def loads(data: bytes | str) -> Any:
    return orjson.loads(data) if orjson else json.loads(data)


def dumps(value: Any) -> bytes:
    """Compact JSON as UTF-8 bytes."""
    if orjson:
        return orjson.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
