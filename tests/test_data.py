"""Data fetching against the sandbox: pagination, limits, retries, 304s, formats, chaining."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest
from conftest import run_invoke, run_script
from lifecycle_helpers import logged_in

from oauthdance.data import open_fetch
from oauthdance.errors import ProviderError, RateLimited
from oauthdance.fetcher import SECONDARY_MIN_WAIT
from oauthdance.sandbox import App, RunningSandbox
from oauthdance.target import resolve_target


@pytest.fixture
def creds(sandbox: RunningSandbox, app: App, tmp_path: Path) -> Path:
    path = tmp_path / "creds.json"
    logged_in(sandbox, app, path, scope="repo")
    sandbox.model.users["octocat"].repo_count = 1234
    return path


def fetch(creds: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_invoke("data.fetch", "-p", "sandbox", "--creds", str(creds), *args)


def names(items: list[dict]) -> list[str]:
    return [item["name"] for item in items]


EXPECTED = [f"repo-{i:05d}" for i in range(1, 1235)]


@pytest.mark.parametrize("workers", ["1", "8"])
def test_every_page_in_order_once(creds: Path, tmp_path: Path, workers: str) -> None:
    out = tmp_path / "repos.json"
    done = fetch(creds, "--path", "/user/repos", "--out", str(out), "--workers", workers)
    assert done.returncode == 0, done.stderr
    assert names(json.loads(out.read_text())) == EXPECTED
    assert "fetched 1234 items in 13 requests" in done.stderr


def test_max_pages_and_params(creds: Path) -> None:
    done = fetch(
        creds,
        "--path",
        "/user/repos",
        "--param",
        "per_page=10",
        "--max-pages",
        "3",
        "--format",
        "ndjson",
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert names(lines) == EXPECTED[:30]


def test_formats(creds: Path, tmp_path: Path) -> None:
    for name in ("r.json", "r.ndjson", "r.csv"):
        done = fetch(creds, "--path", "/orgs/octo-org/repos", "--out", str(tmp_path / name))
        assert done.returncode == 0, done.stderr
    as_json = json.loads((tmp_path / "r.json").read_text())
    as_ndjson = [json.loads(x) for x in (tmp_path / "r.ndjson").read_text().splitlines()]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text())))
    assert as_json == as_ndjson and len(rows) == 12
    assert rows[0]["owner.login"] == "octo-org" and rows[0]["name"] == as_json[0]["name"]
    assert fetch(creds, "--path", "/user", "--format", "xml").returncode != 0


@pytest.mark.usefixtures("sandbox_time")
def test_primary_limit_waits_for_the_reset(sandbox: RunningSandbox, creds: Path) -> None:
    sandbox.model.rate_limit, sandbox.model.rate_window = 4, 1.5
    sandbox.model.rate.clear()  # forget what logging in spent
    done = fetch(creds, "--path", "/user/repos", "--workers", "1", "--format", "ndjson")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1234
    assert "rate limit spent: waiting" in done.stderr


@pytest.mark.usefixtures("sandbox_time")
def test_primary_limit_429_is_understood_too(sandbox: RunningSandbox, creds: Path) -> None:
    sandbox.model.rate_limit, sandbox.model.rate_window = 5, 1.5
    sandbox.model.rate.clear()
    sandbox.model.faults.primary_limit_status = 429
    done = fetch(creds, "--path", "/user/repos", "--workers", "4", "--format", "ndjson")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1234


def test_no_wait_stops_keeping_what_was_fetched(
    sandbox: RunningSandbox, creds: Path, tmp_path: Path
) -> None:
    sandbox.model.rate_limit = 3
    sandbox.model.rate.clear()
    out = tmp_path / "repos.json"
    done = fetch(creds, "--path", "/user/repos", "--no-wait", "--workers", "1", "--out", str(out))
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert "the rate limit is spent; it resets at" in done.stderr
    assert f"saved 300 items to {out}" in done.stderr
    assert names(json.loads(out.read_text())) == EXPECTED[:300]


@pytest.mark.usefixtures("sandbox_time")
def test_secondary_limit_honours_retry_after(sandbox: RunningSandbox, creds: Path) -> None:
    sandbox.model.faults.secondary_limit_next, sandbox.model.faults.retry_after = 2, 1
    done = fetch(creds, "--path", "/orgs/octo-org/repos")
    assert done.returncode == 0, done.stderr
    assert "secondary rate limit: waiting 1 s" in done.stderr
    assert len(json.loads(done.stdout)) == 12


def test_secondary_limit_without_retry_after_waits_a_minute_then_backs_off(
    sandbox: RunningSandbox, creds: Path
) -> None:
    sandbox.model.faults.secondary_limit_next, sandbox.model.faults.retry_after = 2, None
    now = [1_000_000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    opened = open_fetch(resolve_target("sandbox", None, creds), workers=1)
    opened.fetcher.sleep, opened.fetcher.clock = sleep, lambda: now[0]
    items = list(opened.fetcher.items(opened.url("/orgs/octo-org/repos")))
    assert len(items) == 12
    assert sum(slept) == pytest.approx(SECONDARY_MIN_WAIT * 3)  # 60 s, then 120 s


@pytest.mark.usefixtures("instant_retries")
def test_transient_502s_are_retried(sandbox: RunningSandbox, creds: Path) -> None:
    sandbox.model.faults.fail_next_api = 3
    done = fetch(creds, "--path", "/orgs/octo-org/repos")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 12 and sandbox.model.faults.fail_next_api == 0


def test_unchanged_pages_are_304s_that_cost_no_rate_limit(
    sandbox: RunningSandbox, creds: Path
) -> None:
    assert fetch(creds, "--path", "/user/repos").returncode == 0
    spent = sum(counter.used for counter in sandbox.model.rate.values())
    again = fetch(creds, "--path", "/user/repos")
    assert again.returncode == 0
    assert "13 unchanged (304)" in again.stderr
    assert names(json.loads(again.stdout)) == EXPECTED
    assert sum(counter.used for counter in sandbox.model.rate.values()) == spent
    fresh = fetch(creds, "--path", "/user/repos", "--no-cache")
    assert "unchanged" not in fresh.stderr


def test_401_refreshes_once_then_succeeds(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    path = tmp_path / "creds.json"
    logged_in(sandbox, app, path, scope="repo offline_access")
    sandbox.model.advance(28800)  # the provider's clock passes expiry; ours does not know
    done = fetch(path, "--path", "/user")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["login"] == "octocat"
    assert sandbox.model.refresh_requests == 1


def test_missing_scope_is_named(sandbox: RunningSandbox, app: App, tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    logged_in(sandbox, app, path, scope="read:user")
    done = run_invoke(
        "data.issues", "-p", "sandbox", "--creds", str(path), "--repo", "octocat/repo-00001"
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "needs one of the scopes repo" in done.stderr and "--scope 'repo'" in done.stderr
    assert done.stdout == ""


def test_presets(creds: Path) -> None:
    common = ["-p", "sandbox", "--creds", str(creds), "--format", "ndjson"]
    issues = run_invoke("data.issues", *common, "--repo", "octocat/repo-00001", "--state", "closed")
    assert [json.loads(x)["number"] for x in issues.stdout.splitlines()] == [
        4,
        8,
        12,
        16,
        20,
        24,
        28,
        32,
    ]
    org = run_invoke("data.repos", *common, "--org", "octo-org")
    assert len(org.stdout.splitlines()) == 12
    me = run_invoke("data.user", "-p", "sandbox", "--creds", str(creds))
    assert json.loads(me.stdout)[0]["login"] == "octocat"


def test_chain_after_the_auth_steps(creds: Path, tmp_path: Path) -> None:
    out = tmp_path / "repos.json"
    common = ["-p", "sandbox", "--creds", str(creds)]
    done = run_invoke(
        "auth.verify", *common, "data.fetch", *common, "--path", "/user/repos", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert "verified sandbox token" in done.stdout and len(json.loads(out.read_text())) == 1234


def test_not_logged_in_fails_before_writing(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    done = run_invoke(
        "data.fetch", "--creds", str(tmp_path / "none.json"), "--path", "/user", "--out", str(out)
    )
    assert done.returncode != 0 and "auth.login" in done.stderr and not out.exists()


def test_python_fetch_and_the_example_script(sandbox: RunningSandbox, creds: Path) -> None:
    import oauthdance

    assert names(list(oauthdance.fetch("/user/repos", provider="sandbox", creds=creds))) == (
        EXPECTED
    )
    done = run_script("fetch_repos.py", creds)
    assert done.returncode == 0, done.stderr
    assert "1234 repositories; private: 412" in done.stdout


def test_fetch_error_types_are_ours(sandbox: RunningSandbox, creds: Path) -> None:
    opened = open_fetch(resolve_target("sandbox", None, creds), workers=1)
    with pytest.raises(ProviderError, match="http_404"):
        list(opened.fetcher.items(opened.url("/orgs/nope/repos")))
    sandbox.model.rate_limit = 0
    opened = open_fetch(resolve_target("sandbox", None, creds), wait=False, cache=False)
    with pytest.raises(RateLimited):
        list(opened.fetcher.items(opened.url("/user")))


def test_revoked_token_says_how_to_log_in_again(sandbox: RunningSandbox, creds: Path) -> None:
    for token in sandbox.model.tokens.values():
        token.revoked = True
    done = fetch(creds, "--path", "/user")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "`invoke auth.login -p sandbox -u octocat`" in done.stderr


def test_progress_line_shows_pages_items_and_rate_limit(creds: Path) -> None:
    import io

    from oauthdance.progress import Progress

    screen = io.StringIO()
    progress = Progress(enabled=True, stream=screen)
    progress.MIN_INTERVAL = 0
    opened = open_fetch(
        resolve_target("sandbox", None, creds), workers=4, progress=progress, cache=False
    )
    assert len(list(opened.fetcher.items(opened.url("/user/repos")))) == 1234
    progress.close()
    last = screen.getvalue().rsplit("\r", 1)[-1]
    assert "pages 13/13 · items 1,234 · rate limit left" in last
    quiet = io.StringIO()
    silent = open_fetch(
        resolve_target("sandbox", None, creds), progress=Progress(stream=quiet), cache=False
    )
    list(silent.fetcher.items(silent.url("/user")))
    assert quiet.getvalue() == ""  # not a terminal: nothing


@pytest.mark.usefixtures("instant_retries")
def test_unreachable_api_is_a_clear_error(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    path = tmp_path / "creds.json"
    logged_in(sandbox, app, path, scope="repo")
    data = json.loads(path.read_text())
    data["sandbox"]["host"] = "127.0.0.1:9"  # nothing listens there
    path.write_text(json.dumps(data))
    out = tmp_path / "out.json"
    done = fetch(path, "--path", "/user", "--out", str(out))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "could not fetch http://127.0.0.1:9/api/v3/user" in done.stderr
    assert not out.exists()
