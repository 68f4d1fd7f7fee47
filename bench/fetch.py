"""Fetch speed: `invoke data.fetch` against the notebooks' way, in the same run.

The sandbox serves N items (100 per page) with an injected latency per request. Each
variant runs as its own process. Two times are shown: the whole command (start-up
included: invoke alone costs ~0.35 s here, which a notebook does not pay) and the fetch
itself (first request to last byte written, as the process reports it). Peak memory is
the process's maximum resident set.
Run: python bench/fetch.py [--items 20000] [--latency 0.02] [--workers 8]
Aim: at least 5x the baseline's speed; ndjson memory flat from 2,000 to 20,000 items.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from oauthdance.demo import sandbox_login  # noqa: E402
from oauthdance.sandbox import RunningSandbox, Sandbox  # noqa: E402
from oauthdance.store import CredentialsFile  # noqa: E402

# The notebooks' way: one requests.get per page, no session, follow Link, keep a list.
BASELINE = """
import json, sys, requests
import time
url, token, out = sys.argv[1:4]
started = time.perf_counter()
headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"}
items = []
while url:
    page = requests.get(url, headers=headers)
    items.extend(page.json())
    url = page.links.get("next", {}).get("url")
json.dump(items, open(out, "w"))
print(f"in {time.perf_counter() - started:.3f} s", file=sys.stderr)
"""

# Run one command as this wrapper's only child, then report its peak memory.
MEASURE = """
import re, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
seconds = time.perf_counter() - start
if done.returncode:
    sys.exit(done.stderr)
inner = re.findall(r"in ([0-9.]+) s", done.stderr)[-1]
print(seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, inner)
"""


def log_in(sandbox: RunningSandbox, creds: CredentialsFile) -> str:
    app = sandbox.model.register_app()
    return sandbox_login(creds, sandbox, app, scope="repo").token["access_token"]


# Bytecode cached as on a normal machine (see bench/startup.py).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(command: list[str]) -> tuple[float, float, float]:
    """(seconds for the whole command, peak MB, seconds the fetch itself took)."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *command],
        capture_output=True,
        text=True,
        check=True,
        env=ENV,
    )
    seconds, kilobytes, inner = done.stdout.split()
    return float(seconds), int(kilobytes) / 1024, float(inner)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=20000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    pages = -(-args.items // 100)

    model = Sandbox(auto_approve=True, rate_limit=10**9)
    with RunningSandbox(model) as sandbox, tempfile.TemporaryDirectory() as tmp:
        creds = CredentialsFile(Path(tmp) / "creds.json")
        token = log_in(sandbox, creds)
        invoke = [
            sys.executable,
            "-m",
            "invoke",
            "--search-root",
            str(ROOT),
            "data.fetch",
            "-p",
            "sandbox",
            "--creds",
            str(creds.path),
            "--path",
            "/user/repos",
            "--workers",
            str(args.workers),
        ]
        first = f"{sandbox.url}/api/v3/user/repos?per_page=100"

        def run(label: str, command: list[str], items: int) -> tuple[str, int, float, ...]:
            model.users["octocat"].repo_count = items
            return (label, items, *measure(command))

        out = Path(tmp)
        # Warm the sandbox's page cache with latency off, so every variant meets the same
        # server: one that answers in `latency` seconds, with no CPU cost of its own.
        model.faults.latency, model.users["octocat"].repo_count = 0, args.items
        for page in range(1, pages + 1):
            requests.get(
                f"{first}&page={page}", headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
        model.faults.latency = args.latency
        rows = [
            run(
                "baseline (requests.get per page)",
                [sys.executable, "-c", BASELINE, first, token, str(out / "b.json")],
                args.items,
            ),
            run(
                "data.fetch --format json",
                [*invoke, "--no-cache", "--out", str(out / "a.json")],
                args.items,
            ),
            run(
                "data.fetch --format ndjson",
                [*invoke, "--no-cache", "--format", "ndjson", "--out", str(out / "a.ndjson")],
                args.items,
            ),
            run(
                "data.fetch --format ndjson (2,000 items)",
                [*invoke, "--no-cache", "--format", "ndjson", "--out", str(out / "s.ndjson")],
                2000,
            ),
        ]
        run("(fill the ETag cache)", [*invoke, "--out", str(out / "c.json")], args.items)
        rows.append(
            run(
                "data.fetch re-run, all 304 (ETag cache)",
                [*invoke, "--out", str(out / "c.json")],
                args.items,
            )
        )
        same = json.loads((out / "b.json").read_text()) == json.loads((out / "a.json").read_text())

    _, _, base_total, _, base_fetch = rows[0]
    print(
        f"sandbox: {args.items:,} items, {pages} pages, {args.latency * 1000:.0f} ms latency "
        f"per request; {args.workers} workers"
    )
    print(
        f"{'variant':42} {'items':>7} {'pages':>5} | {'command s':>9} {'speed-up':>8} | "
        f"{'fetch s':>7} {'pages/s':>7} {'speed-up':>8} | {'peak MB':>7}"
    )
    for label, items, total, peak, fetch in rows:
        n_pages = -(-items // 100)
        comparable = items == args.items  # a speed-up only against the same amount of data
        total_ratio = f"{base_total / total:>7.1f}x" if comparable else f"{'-':>8}"
        fetch_ratio = f"{base_fetch / fetch:>7.1f}x" if comparable else f"{'-':>8}"
        print(
            f"{label:42} {items:>7,} {n_pages:>5} | {total:>9.2f} {total_ratio} | "
            f"{fetch:>7.2f} {n_pages / fetch:>7.1f} {fetch_ratio} | {peak:>7.1f}"
        )
    print(f"same items as the baseline: {same}")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"(bench took {time.perf_counter() - start:.1f} s)")
