"""The rate-limit gate: no request leaves while a limit applies.

Primary limits wait for the reset (or stop, with --no-wait); secondary limits honour
`retry-after` or back off from 60 s; no wait is longer than `max_wait` (a longer one
stops, saying when to retry).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone

from oauthdance.base.advice import Face, asked, setting
from oauthdance.base.errors import ProviderError, RateLimited
from oauthdance.paging.options import LONGEST_WAIT
from oauthdance.paging.progress import Progress

SECONDARY_MIN_WAIT = 60.0
SECONDARY_MAX_WAIT = 900.0  # the longest our own back-off grows (without a retry-after)
MAX_SECONDARY_HITS = 6


class RateGate:
    """When the next request may leave, for one fetch (every request passes `through`)."""

    def __init__(
        self,
        wait: bool,
        max_wait: float,
        progress: Progress,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        self.wait, self.max_wait, self.progress = wait, max_wait, progress
        self.sleep, self.clock = sleep, clock
        self._until = 0.0  # no request leaves before this instant
        self._primary = False  # the gate waits for a primary-limit reset
        self._sent = 0  # requests that passed
        self._closed_after = 0  # requests that had passed when the gate last closed
        self._announced = 0.0
        self._secondary_hits = 0

    def through(self) -> int:
        """Wait until a request may leave (or stop, raising `RateLimited`); its number."""
        self._wait()
        self._sent += 1
        return self._sent

    def is_open(self) -> bool:
        return self._until <= self.clock()

    def accepted(self, headers: Mapping[str, str]) -> None:
        """A 200: the secondary back-off starts again; a spent limit closes the gate
        (polite: no further request leaves before the reset)."""
        self._secondary_hits = 0
        if headers.get("X-RateLimit-Remaining") == "0":
            self._close(self._reset_time(headers), primary=True)

    def refused(self, status: int, headers: Mapping[str, str], message: str, number: int) -> bool:
        """Whether a refusal of request `number` is a rate limit: the gate closes for it
        (the request is to be sent again, once through); False for any other refusal."""
        if status not in (403, 429):
            return False
        if headers.get("Retry-After"):
            self._secondary(self._retry_after(headers["Retry-After"]), number)
            return True
        if headers.get("X-RateLimit-Remaining") == "0":
            self._close(self._reset_time(headers), primary=True)
            return True
        if "secondary rate limit" in message.lower():
            self._secondary(None, number)
            return True
        return False

    def _secondary(self, retry_after: float | None, number: int) -> None:
        """Back off from a secondary limit: `retry-after`, else 60 s doubling with each
        refusal in a row. A request that left before the gate last closed met the limit
        already waited for (it was in flight with the one refused first): it is only sent
        again, with no back-off of its own."""
        if number <= self._closed_after:
            return
        self._secondary_hits += 1
        hits = self._secondary_hits
        if hits > MAX_SECONDARY_HITS:
            raise ProviderError(
                "secondary_rate_limit",
                "the provider keeps refusing: too many requests",
                f"wait a few minutes, or use fewer {setting('workers')}",
            )
        backoff = min(SECONDARY_MIN_WAIT * 2 ** (hits - 1), SECONDARY_MAX_WAIT)
        self._close(self.clock() + (backoff if retry_after is None else retry_after), False)

    def _retry_after(self, value: str) -> float | None:
        """Seconds from a `Retry-After` (delay-seconds or an HTTP date, RFC 9110 §10.2.3);
        None when it is neither, so the usual back-off applies."""
        value = value.strip()
        if value.isdigit():
            return min(float(value), LONGEST_WAIT)
        from email.utils import parsedate_to_datetime

        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            return None
        return min(max(moment.timestamp() - self.clock(), 0.0), LONGEST_WAIT)

    def _reset_time(self, headers: Mapping[str, str]) -> float:
        """When the primary limit resets (`X-RateLimit-Reset`, epoch seconds); a missing or
        unreadable value, or one more than a day away, means a minute from now."""
        value = str(headers.get("X-RateLimit-Reset") or "").strip()
        now = self.clock()
        if not value.isdigit() or float(value) > now + 86400:
            return now + 60
        # at least a second away: a reset the server rounds down, or a clock running ahead
        # of the server's, must not turn into a stream of requests that are sure to fail
        return max(float(value), now + 1)

    def _close(self, until: float, primary: bool) -> None:
        """No request leaves before `until`; a primary gate stops at once with --no-wait."""
        if until > self._until:
            self._until, self._primary = until, primary
            self._closed_after = self._sent

    def _wait(self) -> None:
        while True:
            until, primary = self._until, self._primary
            announce = until > self._announced
            if announce and self.wait:
                self._announced = until
            left = until - self.clock()
            if left <= 0:
                return
            stamp = datetime.fromtimestamp(until, timezone.utc).strftime("%H:%M:%S UTC")
            if not self.wait or left > self.max_wait:
                raise self._stop(primary, stamp, left, until)
            if announce:
                kind = "rate limit spent" if primary else "secondary rate limit"
                self.progress.note(f"{kind}: waiting {left:.0f} s (until {stamp})")
            self.sleep(min(left, 1.0))

    def _stop(self, primary: bool, stamp: str, left: float, until: float) -> RateLimited:
        """Stopping at a limit rather than waiting for it: why, and when to run it again."""
        kind = "the rate limit is spent" if primary else "a secondary rate limit applies"
        if not self.wait:
            why, instead = "", f"drop {_no_wait()} to wait for it"
        else:
            limit = setting("max_wait", f"{self.max_wait:g}")
            why, instead = f", longer than {limit} s", f"raise {setting('max_wait')}"
        return RateLimited(
            f"{kind}; it resets at {stamp} (in {left:.0f} s){why}",
            f"run the same command again after {stamp}, or {instead}",
            until,
        )


def _no_wait() -> str:
    """The switch that stops at a spent limit, as the face in use spells it."""
    return setting("wait", "False") if asked().face is Face.PYTHON else "--no-wait"
