"""Switches that make the sandbox misbehave on purpose, so tests meet a provider's failures.

Kept apart from the model's state: a fault is how the sandbox answers, not what it knows.
Tests flip them directly, e.g. `sandbox.model.faults.latency = 0.02`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Faults:
    """The failures the sandbox injects; the server reads them on every request."""

    fail_next_api: int = 0  # answer this many API requests with 502 (transient failures)
    secondary_limit_next: int = 0  # answer this many API requests with a secondary limit
    retry_after: int | None = 1  # seconds, sent with secondary-limit answers (None: absent)
    primary_limit_status: int = 403  # GitHub answers 403 (sometimes 429) when spent
    latency: float = 0.0  # seconds added to every API request
    # seconds added before answering the first request on each new connection (a TLS
    # handshake, say), on top of `latency`: keep-alive reuse pays it once per connection
    connect_latency: float = 0.0
    connections_delayed: int = 0  # how many connections have paid `connect_latency`
    id_token_fault: str | None = None  # "signature", "audience", "expired" or "nonce"
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take_injected_failure(self) -> bool:
        """True if this API request should fail with a transient 502."""
        return self._take("fail_next_api")

    def take_secondary_limit(self) -> bool:
        """True if this API request should hit a secondary rate limit."""
        return self._take("secondary_limit_next")

    def take_connect_latency(self) -> float:
        """Seconds a new connection waits before its first answer (counted when not 0)."""
        with self._lock:
            if self.connect_latency > 0:
                self.connections_delayed += 1
            return self.connect_latency

    def _take(self, counter: str) -> bool:
        """Spend one from a counter of injected faults, if any are left; concurrent
        requests must not both spend the last one."""
        with self._lock:
            left = getattr(self, counter)
            if left > 0:
                setattr(self, counter, left - 1)
            return left > 0
