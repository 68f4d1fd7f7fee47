"""What a test leaves running, stopped after it whether it passed or not."""

from __future__ import annotations

from collections.abc import Callable

_unfinished: list[Callable[[], None]] = []


def stop_at_teardown(stop: Callable[[], None]) -> Callable[[], None]:
    """Have `isolated` call `stop` after the test; returns what cancels that."""
    _unfinished.append(stop)
    return lambda: _unfinished.remove(stop) if stop in _unfinished else None


def stop_what_is_left() -> None:
    """Stop, last registered first, whatever the test started and did not stop itself."""
    while _unfinished:
        _unfinished.pop()()
