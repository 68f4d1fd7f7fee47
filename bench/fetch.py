"""Fetch speed and memory (issue 14): curl's URL glob (the floor), a requests.Session loop,
the notebooks' loop, `invoke data.fetch` json/ndjson/csv (cold, and json with a warm ETag
cache) and the `oauthdance.fetch` iterator, against the sandbox at each latency.

Each variant is a fresh process, timed whole; rounds interleaved, medians shown, every
output checked against the Session loop's items; then peak memory at 2k/20k/200k items.
The sandbox runs in a process of its own: measured once against a thread of the bench's,
the curl floor was the same (0.145 vs 0.153 s for 200 pages at 0 ms, 4.37 vs 4.38 s at
20 ms), and a process keeps its GIL and its CPU apart from the bench's.

Run: python bench/fetch.py [--quick] [--items N] [--rounds N] [--workers N] [--only TEXT,...]
     [--latencies 0,0.02,0.02+0.04 (seconds per request + per new connection)]
Aims: data.fetch json <= 6.4x curl at 0 ms and <= 0.30x at 20 ms (also with 40 ms per
new connection); the iterator <= 4.9x curl at 0 ms; ndjson's peak memory grows < 8 MiB
from 2k to 200k items.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

PER_PAGE = 100
MEMORY_SIZES = (2_000, 20_000, 200_000)
CURL = "curl URL glob (floor)"
TOKEN_VARIABLE = "BENCH_TOKEN"  # how the scripts below get the token (never on argv)


def child_environment() -> dict[str, str]:
    """This environment, with bytecode cached as on a normal machine (see startup.py), no
    settings or tokens of the package's from outside, and the worktree's package first."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "PYTHONDONTWRITEBYTECODE"
        and not k.startswith("OAUTHDANCE_")
        and not k.endswith("_TOKEN")
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


ENV = child_environment()

# -- the scripts each variant runs ------------------------------------------------------------

# Run one command as this wrapper's only child: its output to files, its costs as JSON.
MEASURE = """
import json, resource, subprocess, sys, time
out, err, *command = sys.argv[1:]
with open(out, "wb") as stdout, open(err, "wb") as stderr:
    start = time.perf_counter()
    code = subprocess.run(command, stdout=stdout, stderr=stderr).returncode
    seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = usage.ru_utime + usage.ru_stime
print(json.dumps([seconds, cpu, usage.ru_maxrss / 1024, code]))
"""

# One requests.Session, follow Link next, keep a list, write JSON.
SESSION_LOOP = f"""
import time
started = time.perf_counter()
import json, os, sys, requests
url, out = sys.argv[1:3]
items = []
with requests.Session() as session:
    session.headers["Authorization"] = "Bearer " + os.environ["{TOKEN_VARIABLE}"]
    while url:
        page = session.get(url, timeout=60)
        page.raise_for_status()
        items.extend(page.json())
        url = page.links.get("next", {{}}).get("url")
with open(out, "w") as file:
    json.dump(items, file)
print(f"in {{time.perf_counter() - started:.3f}} s", file=sys.stderr)
"""

# The notebooks' way: one requests.get per page (a new connection each), no session.
NOTEBOOK_LOOP = f"""
import time
started = time.perf_counter()
import json, os, sys, requests
url, out = sys.argv[1:3]
headers = {{
    "Authorization": "Bearer " + os.environ["{TOKEN_VARIABLE}"],
    "Accept": "application/vnd.github+json",
}}
items = []
while url:
    page = requests.get(url, headers=headers)
    items.extend(page.json())
    url = page.links.get("next", {{}}).get("url")
json.dump(items, open(out, "w"))
print(f"in {{time.perf_counter() - started:.3f}} s", file=sys.stderr)
"""

# The Python API in a script: count the items, write nothing.
ITERATOR = """
import time
started = time.perf_counter()
import sys
import oauthdance
count = 0
for item in oauthdance.fetch(
    "/user/repos", provider="sandbox", creds=sys.argv[1], cache=False, workers=int(sys.argv[2])
):
    count += 1
print(count)
print(f"in {time.perf_counter() - started:.3f} s", file=sys.stderr)
"""

# The sandbox in a process of its own, told its faults and size one JSON line at a time.
SERVE = """
import json, sys, time
from oauthdance.dance.demo import sandbox_login
from oauthdance.sandbox import RunningSandbox, Sandbox
from oauthdance.store import CredentialsFile
model = Sandbox(auto_approve=True, rate_limit=10**9)
with RunningSandbox(model) as sandbox:
    app = model.register_app()
    verified = sandbox_login(CredentialsFile(sys.argv[1]), sandbox, app, scope="repo")
    print(sandbox.url, verified.token["access_token"], flush=True)
    for line in sys.stdin:
        faults, user = model.faults, model.users[model.default_login]
        for key, value in json.loads(line).items():
            setattr(user if key == "repo_count" else faults, key, value)
        spent = sum(counter.used for counter in model.rate.values())
        print(json.dumps([spent, faults.connections_delayed, time.process_time()]), flush=True)
"""

# -- the sandbox, in a process or on a thread -------------------------------------------------


class Served(Protocol):
    url: str
    token: str

    def set(self, **changes: float) -> tuple[int, int, float]:
        """Change faults (latency, connect_latency) or repo_count; (API answers that
        spent rate limit so far, connections that paid connect_latency so far, the
        sandbox's CPU seconds so far)."""
        ...


class ServedProcess:
    def __init__(self, creds: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(creds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        assert self.process.stdin and self.process.stdout
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        self.url, self.token = self.stdout.readline().split()

    def set(self, **changes: float) -> tuple[int, int, float]:
        self.stdin.write(json.dumps(changes) + "\n")
        self.stdin.flush()
        spent, connections, cpu = json.loads(self.stdout.readline())
        return spent, connections, cpu

    def close(self) -> None:
        self.stdin.close()
        self.process.wait(timeout=30)


class ServedThread:
    def __init__(self, creds: Path) -> None:
        from oauthdance.dance.demo import sandbox_login
        from oauthdance.sandbox import RunningSandbox, Sandbox
        from oauthdance.store import CredentialsFile

        self.model = Sandbox(auto_approve=True, rate_limit=10**9)
        self.sandbox = RunningSandbox(self.model).start()
        app = self.model.register_app()
        login = sandbox_login(CredentialsFile(creds), self.sandbox, app, scope="repo")
        self.url, self.token = self.sandbox.url, login.token["access_token"]

    def set(self, **changes: float) -> tuple[int, int, float]:
        faults, user = self.model.faults, self.model.users[self.model.default_login]
        for key, value in changes.items():
            setattr(user if key == "repo_count" else faults, key, value)
        spent = sum(counter.used for counter in self.model.rate.values())
        return spent, faults.connections_delayed, time.process_time()  # this process's

    def close(self) -> None:
        self.sandbox.stop()


@contextlib.contextmanager
def serving(how: str, creds: Path) -> Iterator[Served]:
    served = ServedProcess(creds) if how == "process" else ServedThread(creds)
    try:
        yield served
    finally:
        served.close()


# -- variants, runs and checks ----------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    name: str
    command: list[str]
    output: Path | None  # the file it writes (None: its stdout is what it fetched)
    kind: str  # how its output is checked: curl, json, ndjson, csv or count
    all_304: bool = False  # every page should come back 304 (costing no rate limit)


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu: float
    peak_mib: float
    own: float | None  # the seconds the process reports for its own work, if it does
    spent: int  # API answers that cost rate limit (a 304 costs none)
    connections: int  # new connections that paid connect_latency
    server_cpu: float  # the sandbox's CPU seconds meanwhile
    spread: float = 0.0  # of a median: (slowest - fastest) / median seconds


def variants(served: Served, folder: Path, creds: Path, workers: int) -> list[Variant]:
    first = f"{served.url}/api/v3/user/repos?per_page={PER_PAGE}"
    invoke = [
        *(sys.executable, "-m", "invoke", "--search-root", str(ROOT), "data.fetch"),
        *("-p", "sandbox", "--creds", str(creds), "--path", "/user/repos"),
        *("--workers", str(workers)),
    ]
    header = folder / "curl-header"  # so the token is on no command line
    header.write_text(f"Authorization: Bearer {served.token}\n")
    header.chmod(0o600)
    found: list[Variant] = []
    if shutil.which("curl"):
        found.append(
            Variant(
                CURL,
                [
                    *("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}\\n"),
                    *("-H", f"@{header}", f"{first}&page=[1-PAGES]"),
                ],
                None,
                "curl",
            )
        )
    python = sys.executable
    found += [
        Variant(
            "requests.Session loop",
            [python, "-c", SESSION_LOOP, first, str(folder / "session.json")],
            folder / "session.json",
            "json",
        ),
        Variant(
            "notebook loop (requests.get)",
            [python, "-c", NOTEBOOK_LOOP, first, str(folder / "notebook.json")],
            folder / "notebook.json",
            "json",
        ),
    ]
    for form in ("json", "ndjson", "csv"):
        out = folder / f"fetch.{form}"
        found.append(
            Variant(
                f"data.fetch {form}",
                [*invoke, "--no-cache", "--format", form, "--out", str(out)],
                out,
                form,
            )
        )
    warm = folder / "warm.json"
    found += [
        Variant(
            "data.fetch json, warm ETags",
            [*invoke, "--format", "json", "--out", str(warm)],
            warm,
            "json",
            all_304=True,
        ),
        Variant(
            "in-process iterator",
            [python, "-c", ITERATOR, str(creds), str(workers)],
            None,
            "count",
        ),
    ]
    return found


def sized(variant: Variant, items: int) -> list[str]:
    pages = str(-(-items // PER_PAGE))
    return [part.replace("[1-PAGES]", f"[1-{pages}]") for part in variant.command]


def measure(
    variant: Variant, served: Served, folder: Path, items: int
) -> tuple[Run, str, str, int]:
    """Run the variant once: (its costs, its stdout, its stderr, its exit code)."""
    out, err = folder / "stdout", folder / "stderr"
    before = served.set()
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(out), str(err), *sized(variant, items)],
        capture_output=True,
        text=True,
        check=True,
        env={**ENV, TOKEN_VARIABLE: served.token},
        cwd=folder,
    )
    seconds, cpu, peak, code = json.loads(done.stdout)
    after = served.set()
    stderr = err.read_text(errors="replace")
    own = re.findall(r"in ([0-9.]+) s", stderr)
    run = Run(
        seconds,
        cpu,
        peak,
        float(own[-1]) if own else None,
        after[0] - before[0],
        after[1] - before[1],
        after[2] - before[2],
    )
    return run, out.read_text(errors="replace"), stderr, code


def check(
    variant: Variant, stdout: str, stderr: str, code: int, items: int, expected: list[Any] | None
) -> str | None:
    """What is wrong with a run's output, if anything (compared to the Session loop's
    items when `expected` is given, else only counted)."""
    if code:
        return f"exit status {code}: {stderr.strip()[-300:]}"
    if variant.kind == "curl":
        pages = -(-items // PER_PAGE)
        ok = stdout.split().count("200")
        return None if ok == pages else f"{ok} of {pages} pages answered 200"
    if variant.kind == "count":
        got = stdout.strip()
        return None if got == str(items) else f"{got or 'no'} items, not {items}"
    assert variant.output is not None
    text = variant.output.read_text()
    if variant.kind == "csv":
        ids = [int(row["id"]) for row in csv.DictReader(io.StringIO(text, newline=""))]
        if len(ids) != items:
            return f"{len(ids)} rows, not {items}"
        same = expected is None or ids == [item["id"] for item in expected]
        return None if same else "not the Session loop's ids"
    data = (
        json.loads(text) if variant.kind == "json" else [json.loads(x) for x in text.splitlines()]
    )
    if len(data) != items:
        return f"{len(data)} items, not {items}"
    if expected is not None and data != expected:
        return "not the Session loop's items"
    return None


def session_items(served: Served) -> list[Any]:
    """The Session loop's items, fetched in this process: the reference every output meets."""
    url: str | None = f"{served.url}/api/v3/user/repos?per_page={PER_PAGE}"
    items: list[Any] = []
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {served.token}"
        while url:
            page = session.get(url, timeout=60)
            page.raise_for_status()
            items.extend(page.json())
            url = page.links.get("next", {}).get("url")
    return items


# -- reporting --------------------------------------------------------------------------------


def latency_label(latency: float, connect: float) -> str:
    label = f"{latency * 1000:g} ms"
    return label + (f" + {connect * 1000:g} ms per new connection" if connect else "")


def parse_latencies(text: str) -> list[tuple[float, float]]:
    pairs = []
    for part in text.split(","):
        latency, _, connect = part.strip().partition("+")
        pairs.append((float(latency), float(connect or 0)))
    return pairs


def median_run(runs: list[Run]) -> Run:
    seconds = [r.seconds for r in runs]
    owns = [r.own for r in runs if r.own is not None]
    return Run(
        statistics.median(seconds),
        statistics.median(r.cpu for r in runs),
        statistics.median(r.peak_mib for r in runs),
        statistics.median(owns) if owns else None,
        max(r.spent for r in runs),
        max(r.connections for r in runs),
        statistics.median(r.server_cpu for r in runs),
        (max(seconds) - min(seconds)) / statistics.median(seconds),
    )


def ratio(value: float, base: Run | None, width: int) -> str:
    return f"{value / base.seconds:{width}.2f}" if base else f"{'-':>{width}}"


def print_table(title: str, medians: dict[str, Run], pages: int) -> None:
    """One latency's medians; `spread` is (slowest - fastest) / median, `200s` the
    answers that cost rate limit (a 304 costs none), `conns` the new connections that
    paid the connection latency, `srv CPU` the sandbox's own CPU seconds."""
    session = medians.get("requests.Session loop")
    curl = medians.get(CURL)
    print(f"\n{title}")
    print(
        f"  {'variant':28} {'seconds':>7} {'spread':>6} {'own s':>6} {'pages/s':>7} "
        f"{'CPU s':>6} {'peak MiB':>8} {'xSession':>8} {'xcurl':>6} {'200s':>5} {'conns':>5} "
        f"{'srv CPU':>7}"
    )
    for name, run in medians.items():
        own = f"{run.own:6.3f}" if run.own is not None else f"{'-':>6}"
        print(
            f"  {name:28} {run.seconds:7.3f} {run.spread:6.0%} {own} {pages / run.seconds:7.1f} "
            f"{run.cpu:6.2f} {run.peak_mib:8.1f} {ratio(run.seconds, session, 8)} "
            f"{ratio(run.seconds, curl, 6)} {run.spent:5} {run.connections or '-':>5} "
            f"{run.server_cpu:7.3f}"
        )


def goal(label: str, value: float | None, limit: float, unit: str = "x") -> str:
    """A PASS/FAIL line: `value` at most `limit` (for MiB: below it)."""
    if value is None:
        return f"SKIP {label} (not measured in this run)"
    passed, aim = (value < limit, "<") if unit == " MiB" else (value <= limit, "<=")
    return f"{'PASS' if passed else 'FAIL'} {label}: {value:.2f}{unit} (aim {aim} {limit:g}{unit})"


def print_goals(
    tables: dict[tuple[float, float], dict[str, Run]],
    memory: dict[tuple[str, int], Run],
    items: int,
    sizes: tuple[int, ...],
) -> None:
    def versus_curl(key: tuple[float, float], name: str) -> float | None:
        table = tables.get(key, {})
        if name in table and CURL in table:
            return table[name].seconds / table[CURL].seconds
        return None

    json_name = "data.fetch json"
    lines = [
        goal("data.fetch json at 0 ms / curl", versus_curl((0, 0), json_name), 6.4),
        goal("data.fetch json at 20 ms / curl", versus_curl((0.02, 0), json_name), 0.30),
        goal(
            "data.fetch json at 20 ms + 40 ms per connection / curl",
            versus_curl((0.02, 0.04), json_name),
            0.30,
        ),
        goal("in-process iterator at 0 ms / curl", versus_curl((0, 0), "in-process iterator"), 4.9),
    ]
    small = memory.get(("data.fetch ndjson", 2_000))
    large = memory.get(("data.fetch ndjson", 200_000))
    growth = large.peak_mib - small.peak_mib if small and large else None
    lines.append(goal("ndjson peak memory growth 2k -> 200k items", growth, 8, " MiB"))
    judged = items == 20_000 and 200_000 in sizes
    print("\ngoals (issue 14" + ("" if judged else "; INFO: set for the default run") + "):")
    for line in lines:
        print("  " + (line if judged else re.sub("^(PASS|FAIL)", "INFO", line)))


def print_memory(memory: dict[tuple[str, int], Run]) -> None:
    print("\npeak memory, 0 ms, one run each (growth: over the smallest size)")
    print(f"  {'variant':20} {'items':>8} {'seconds':>8} {'peak MiB':>8} {'growth':>8}")
    smallest: dict[str, float] = {}
    for (name, items), run in sorted(memory.items()):
        smallest.setdefault(name, run.peak_mib)
        print(
            f"  {name:20} {items:>8,} {run.seconds:8.2f} {run.peak_mib:8.1f} "
            f"{run.peak_mib - smallest[name]:+8.1f}"
        )


# -- the bench --------------------------------------------------------------------------------


@dataclass
class Bench:
    served: Served
    folder: Path
    chosen: list[Variant]
    items: int
    problems: list[str]
    runs_checked: int = 0
    warmed: bool = False  # the ETag cache is filled after the first, untimed round

    def run(self, variant: Variant, items: int, expected: list[Any] | None) -> Run:
        run, stdout, stderr, code = measure(variant, self.served, self.folder, items)
        problem = check(variant, stdout, stderr, code, items, expected)
        if variant.all_304 and run.spent and not problem and self.warmed:
            problem = f"{run.spent} pages were not 304s"
        self.runs_checked += 1
        if problem:
            self.problems.append(f"{variant.name}, {items:,} items: " + problem)
        return run

    def rounds(self, rounds: int, expected: list[Any]) -> dict[str, Run]:
        """Every chosen variant once a round, in rotating order; the medians."""
        runs: dict[str, list[Run]] = {v.name: [] for v in self.chosen}
        for number in range(rounds):
            shift = number % len(self.chosen)
            for variant in self.chosen[shift:] + self.chosen[:shift]:
                runs[variant.name].append(self.run(variant, self.items, expected))
        return {name: median_run(found) for name, found in runs.items()}

    def memory(self, sizes: tuple[int, ...]) -> dict[tuple[str, int], Run]:
        """Peak memory of data.fetch ndjson and json at each size, 0 ms, one run each."""
        self.served.set(latency=0, connect_latency=0)
        found = {}
        forms = [v for v in self.chosen if v.name in ("data.fetch ndjson", "data.fetch json")]
        for items in sizes:
            self.served.set(repo_count=items)
            for variant in forms:
                found[(variant.name, items)] = self.run(variant, items, None)
        self.served.set(repo_count=self.items)
        return found


def check_package(folder: Path) -> None:
    """The processes must import this worktree's package, not another installed copy."""
    where = subprocess.run(
        [sys.executable, "-c", "import oauthdance; print(oauthdance.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        env=ENV,
        cwd=folder,
    ).stdout.strip()
    if not Path(where).resolve().is_relative_to(ROOT):
        sys.exit(f"the processes import oauthdance from {where}, not from {ROOT}")


def chosen_variants(everything: list[Variant], only: str | None) -> list[Variant]:
    """The variants whose name holds one of `only`'s comma-separated texts (all if none)."""
    texts = [t.strip().lower() for t in (only or "").split(",") if t.strip()]
    chosen = [v for v in everything if not texts or any(t in v.name.lower() for t in texts)]
    if not chosen:
        names = ", ".join(v.name for v in everything)
        sys.exit(f"--only {only!r} names no variant; they are: {names}")
    return chosen


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, help="items served (default 20,000; quick 2,000)")
    parser.add_argument("--rounds", type=int, help="rounds of every variant (default 5; quick 2)")
    parser.add_argument("--latencies", default="0,0.02,0.02+0.04")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument(
        "--only", help="run the variants whose name holds one of these comma-separated texts"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer rounds, items")
    parser.add_argument("--sandbox", choices=("process", "thread"), default="process")
    args = parser.parse_args()
    args.items = args.items or (2_000 if args.quick else 20_000)
    args.rounds = args.rounds or (2 if args.quick else 5)
    args.memory = MEMORY_SIZES[:2] if args.quick else MEMORY_SIZES
    return args


def main() -> None:
    args = arguments()
    latencies = parse_latencies(args.latencies)
    pages = -(-args.items // PER_PAGE)
    with tempfile.TemporaryDirectory(prefix="bench-fetch-") as tmp:
        folder = Path(tmp)
        check_package(folder)
        creds = folder / "creds.json"
        with serving(args.sandbox, creds) as served:
            everything = variants(served, folder, creds, args.workers)
            chosen = chosen_variants(everything, args.only)
            bench = Bench(served, folder, chosen, args.items, [])
            # Untimed, latency off: fill the sandbox's page cache for every URL each client
            # asks (and the ETag cache, and the OS's), so no variant pays the server's CPU.
            served.set(latency=0, connect_latency=0, repo_count=args.items)
            expected = session_items(served)
            for variant in chosen:
                bench.run(variant, args.items, expected)
            bench.warmed = True
            tables = {}
            for latency, connect in latencies:
                served.set(latency=latency, connect_latency=connect)
                tables[(latency, connect)] = bench.rounds(args.rounds, expected)
            memory = bench.memory(args.memory)
    print(
        f"sandbox: {args.items:,} items ({pages} pages of {PER_PAGE}) served from a "
        f"{args.sandbox}; {args.workers} workers; medians of {args.rounds} interleaved rounds; "
        f"every variant a process of its own"
    )
    print(
        "spread: (slowest - fastest) / median; own s: the time a process reports for its own "
        "work (the iterator's from before its import); 200s: answers that cost rate limit "
        "(a 304 costs none); conns: new connections that paid the connection latency; "
        "srv CPU: the sandbox's CPU seconds"
    )
    for (latency, connect), medians in tables.items():
        print_table(f"at {latency_label(latency, connect)}:", medians, pages)
    print_memory(memory)
    verdict = "all agreed" if not bench.problems else f"{len(bench.problems)} disagreed"
    print(
        f"\noutputs: {bench.runs_checked} runs checked against the Session loop's "
        f"{args.items:,} items (memory runs: counted): {verdict}"
    )
    for problem in bench.problems[:10]:
        print("  " + problem.replace(served.token, "***"))
    print_goals(tables, memory, args.items, args.memory)


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"\n(bench took {time.perf_counter() - started:.1f} s)")
