"""What multiprocessing children run. A spawned child imports the module its target lives
in, so these live here, away from pytest and the test modules (half a second a child)."""

from __future__ import annotations

from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

import oauthdance
from oauthdance.store import CredentialsFile


def write_rounds(path: str, worker: int, rounds: int) -> None:
    """Store `rounds` tokens one after another under this worker's own owner."""
    creds = CredentialsFile(path)
    for i in range(rounds):
        with creds.update() as data:
            tokens = data.setdefault("github", {}).setdefault("tokens", {})
            tokens[f"owner{worker}"] = {"access_token": f"gho_{worker}_{i}", "round": i}


def token_at_once(path: str, barrier: Barrier, out: Queue) -> None:
    """Wait for the other process, then ask for the sandbox token at the same moment."""
    barrier.wait()
    out.put(oauthdance.token("sandbox", creds=path))
