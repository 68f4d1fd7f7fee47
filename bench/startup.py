"""Start-up cost: `invoke auth.url` against `invoke --version`, measured alternately.

Run: python bench/startup.py [--rounds N]. Prints each median and the ratio (aim: at most 1.3x).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, env=ENV)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=21)
    rounds = parser.parse_args().rounds
    invoke = [sys.executable, "-m", "invoke", "--search-root", str(ROOT)]
    with tempfile.TemporaryDirectory() as tmp:
        creds = Path(tmp) / "creds.json"
        creds.write_text(json.dumps({"github": {"client_id": "Iv1.bench"}}))
        baseline_cmd = [*invoke, "--version"]
        url_cmd = [*invoke, "auth.url", "--creds", str(creds)]
        timed(baseline_cmd, tmp), timed(url_cmd, tmp)  # warm the caches
        baseline, url = [], []
        for _ in range(rounds):
            baseline.append(timed(baseline_cmd, tmp))
            url.append(timed(url_cmd, tmp))
    base_ms, url_ms = statistics.median(baseline) * 1000, statistics.median(url) * 1000
    print(f"rounds: {rounds} each, alternating")
    print(f"invoke --version   median {base_ms:7.1f} ms  (baseline)")
    print(f"invoke auth.url    median {url_ms:7.1f} ms")
    print(f"ratio auth.url / --version: {url_ms / base_ms:.2f}x  (aim: <= 1.30x)")


if __name__ == "__main__":
    main()
