"""Many machines, one Vault: exactly one refresh reaches the provider per expiry, whoever
races, and a claimant that dies mid-refresh only delays the others by its claim's life.

Each "machine" is a process with its own HOME and working folder, so no file lock can
help: only the claim on the token's secret coordinates them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from oauthdance.dance.demo import sandbox_login
from oauthdance.sandbox import App, RunningSandbox
from oauthdance.store import open_store
from oauthdance.store.vault import VaultStore
from tests.support.openbao import Bao

SUPPORT = Path(__file__).resolve().parents[1] / "support"  # fleet_child.py, run by path
# A live claimant never needs its claim to run out, so the others' claims are long (a
# loaded machine must not see a slow refresh overtaken); the doomed one's claim is short,
# and waiters honour the life a claim declares.
LONG_CLAIM, SHORT_CLAIM = "10", "1"


def about_to_expire(store: VaultStore, sandbox: RunningSandbox) -> dict:
    """Let the token's 8 hours pass, at the sandbox and in the stored record alike."""
    sandbox.model.advance(28800)

    def expired(record: dict) -> None:
        token = record["tokens"]["octocat"]
        token["created_at"], token["expires_at"] = "2020-01-01T00:00:00Z", "2020-01-01T08:00:00Z"

    store.change("sandbox", expired)
    return store.record("sandbox")["tokens"]["octocat"]


def machine(
    tmp: Path, name: str, creds: str, go: Path, bao: Bao, *extra: str, claim: str = LONG_CLAIM
) -> subprocess.Popen:
    home = tmp / name
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env |= {"HOME": str(home), "VAULT_TOKEN": bao.token, "OAUTHDANCE_CLAIM_SECONDS": claim}
    process = subprocess.Popen(
        [sys.executable, str(SUPPORT / "fleet_child.py"), creds, str(go), *extra],
        cwd=home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process


def wait_for_line(process: subprocess.Popen, line: str) -> None:
    assert process.stdout is not None
    got = process.stdout.readline().strip()
    assert got == line, f"{got!r} {process.stderr.read() if process.poll() is not None else ''}"


def finish(processes: list[subprocess.Popen]) -> list[str]:
    tokens = []
    for process in processes:
        out, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        tokens.append(out.strip().splitlines()[-1])
    return tokens


def test_four_machines_race_and_one_refresh_reaches_the_provider(
    sandbox: RunningSandbox, app: App, vault_creds: str, bao: Bao, tmp_path: Path
) -> None:
    store = open_store(vault_creds)
    assert isinstance(store, VaultStore)
    sandbox_login(store, sandbox, app, scope="repo offline_access")
    old = about_to_expire(store, sandbox)
    before = sandbox.model.refresh_requests
    go = tmp_path / "go"
    fleet = [machine(tmp_path, f"m{i}", vault_creds, go, bao) for i in range(4)]
    for process in fleet:
        wait_for_line(process, "ready")
    go.touch()  # all at once
    tokens = finish(fleet)
    assert sandbox.model.refresh_requests - before == 1
    assert len(set(tokens)) == 1 and tokens[0] != old["access_token"]
    assert sandbox.model.token_for(tokens[0]) is not None  # it works at the provider
    stored = store.record("sandbox")["tokens"]["octocat"]
    assert stored["access_token"] == tokens[0] and "refresh_claim" not in stored


def test_a_claimant_killed_mid_refresh_costs_the_others_one_claim_life(
    sandbox: RunningSandbox, app: App, vault_creds: str, bao: Bao, tmp_path: Path
) -> None:
    store = open_store(vault_creds)
    sandbox_login(store, sandbox, app, scope="repo offline_access")
    old = about_to_expire(store, sandbox)
    before = sandbox.model.refresh_requests
    now, go = tmp_path / "now", tmp_path / "go"
    now.touch()
    doomed = machine(tmp_path, "doomed", vault_creds, now, bao, "slow", claim=SHORT_CLAIM)
    others = [machine(tmp_path, f"m{i}", vault_creds, go, bao) for i in range(2)]
    wait_for_line(doomed, "ready")
    wait_for_line(doomed, "claimed")  # its claim is written; its request never left
    assert store.record("sandbox")["tokens"]["octocat"]["refresh_claim"]
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(5)
    for process in others:
        wait_for_line(process, "ready")
    go.touch()  # they all find the dead claim, wait out its life, and one refreshes
    started = time.monotonic()
    tokens = finish(others)
    assert time.monotonic() - started < 10
    assert sandbox.model.refresh_requests - before == 1  # the dead one never reached it
    assert len(set(tokens)) == 1 and tokens[0] != old["access_token"]
    assert sandbox.model.token_for(tokens[0]) is not None
    assert "refresh_claim" not in store.record("sandbox")["tokens"]["octocat"]
