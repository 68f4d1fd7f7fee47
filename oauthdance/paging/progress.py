"""A one-line progress display on a terminal; silent when output is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    MIN_INTERVAL = 0.1  # seconds between redraws

    def __init__(self, enabled: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.pages = self.items = 0
        self.total_pages: int | None = None
        self.remaining: str | None = None
        self._drawn = 0.0

    def update(
        self,
        pages: int = 0,
        items: int = 0,
        remaining: str | None = None,
        total_pages: int | None = None,
    ) -> None:
        self.pages += pages
        self.items += items
        self.remaining = remaining or self.remaining
        self.total_pages = total_pages or self.total_pages
        now = time.monotonic()
        if self.enabled and now - self._drawn >= self.MIN_INTERVAL:
            self._drawn = now
            self._draw()

    def note(self, message: str) -> None:
        """A message that must be seen (waits, retries), terminal or not."""
        if self.enabled:
            self.stream.write("\r\033[K")
        self.stream.write(message + "\n")
        self.stream.flush()

    def _draw(self) -> None:
        total = f"/{self.total_pages}" if self.total_pages else ""
        left = f" · rate limit left {self.remaining}" if self.remaining else ""
        self.stream.write(f"\r\033[Kpages {self.pages}{total} · items {self.items:,}{left}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
