"""A refresh coordinated across machines by a claim on the token's own record.

On a store many machines share (Vault), no lock spans them; instead the process that wins
the check-and-set write of a claim (`refresh_claim: {by, seconds}`) onto the token is the
one that refreshes. Everyone else sees the claim, polls until the claimant writes the new
pair, and uses it. A claim's life is measured on each waiter's own clock from when it first
saw that claim, so clocks that disagree between machines do not matter; a claimant that
died leaves a claim that simply runs out, after which the next process may refresh.
"""

from __future__ import annotations

import os
import platform
import random
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from oauthdance.base.advice import Command, Hint
from oauthdance.base.errors import StoreConflict
from oauthdance.protocol.tokens import TokenRecord, marked_claimed
from oauthdance.store.base import RefreshTurn

# A little over the 20 s deadline of a refresh request: a live claimant has either written
# its result or given up by then.
CLAIM_SECONDS = 25.0
CLAIM_VARIABLE = "OAUTHDANCE_CLAIM_SECONDS"
POLL_SECONDS = 0.1


def claim_seconds(given: float | None = None) -> float:
    """The claim's life: `given`, else OAUTHDANCE_CLAIM_SECONDS, else 25 s."""
    if given is not None:
        return float(given)
    try:
        return float(os.environ.get(CLAIM_VARIABLE) or CLAIM_SECONDS)
    except ValueError:
        return CLAIM_SECONDS


class ClaimTurn(RefreshTurn):
    """Our turn to refresh, as one of several machines: busy while another live claim is
    on the token; `claimed` puts ours on it (written by the store's check-and-set)."""

    def __init__(
        self,
        location: str,
        seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.location, self.seconds = location, seconds
        self.claimant = f"{platform.node() or 'host'}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.clock, self.sleep = clock, sleep
        self.started = clock()
        self.seen: dict[str, float] = {}

    def busy(self, token: Mapping[str, Any]) -> bool:
        claim = token.get("refresh_claim")
        if not isinstance(claim, dict) or claim.get("by") == self.claimant:
            return False
        first = self.seen.setdefault(str(claim.get("by")), self.clock())
        try:
            life = min(max(float(claim.get("seconds") or self.seconds), 0.0), 300.0)
        except (TypeError, ValueError):
            life = self.seconds
        return self.clock() - first < life

    def claimed(self, token: Mapping[str, Any], now: datetime) -> TokenRecord:
        return marked_claimed(token, now, self.claimant, self.seconds)

    def wait(self) -> None:
        """Sleep a poll interval (jittered); past three claim lives, give up."""
        if self.clock() - self.started > 3 * self.seconds + 5:
            raise StoreConflict(
                f"waited {self.clock() - self.started:.0f} s for other processes' refreshes "
                f"of this token in {self.location}, and they keep claiming it",
                Hint(
                    "try again; if it persists, see who runs refreshes in a loop ({status} "
                    "shows the token's versions)",
                    status=Command("store.status"),
                ),
            )
        self.sleep(POLL_SECONDS * (0.5 + random.random()))
