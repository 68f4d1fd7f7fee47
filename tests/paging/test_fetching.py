"""Data fetching against the sandbox: pagination, limits, retries, 304s, formats, chaining."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import oauthdance
from oauthdance.base.advice import Asked, Command, Face, asking
from oauthdance.base.errors import (
    NetworkError,
    NotLoggedIn,
    ProviderError,
    RateLimited,
    TokenRejected,
    UsageError,
)
from oauthdance.keep.target import resolve_target
from oauthdance.paging.authenticated import open_fetch
from oauthdance.paging.engine import Fetcher
from oauthdance.paging.gate import SECONDARY_MIN_WAIT
from oauthdance.paging.options import FetchOptions
from oauthdance.paging.source import AnsweredAtOnce
from oauthdance.paging.window import Window
from oauthdance.sandbox import App, RunningSandbox, rest
from oauthdance.tasks.options import whole_number
from tests.support.invoking import run_invoke, run_script
from tests.support.lifecycle import logged_in


@pytest.fixture
def creds(repo_creds: Path) -> Path:
    return repo_creds


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

    opened = open_fetch(resolve_target("sandbox", None, creds), FetchOptions(workers=1))
    opened.fetcher.gate.sleep, opened.fetcher.gate.clock = sleep, lambda: now[0]
    items = list(opened.fetcher.items(opened.url("/orgs/octo-org/repos")))
    assert len(items) == 12
    assert sum(slept) == pytest.approx(SECONDARY_MIN_WAIT * 3)  # 60 s, then 120 s


def test_requests_in_flight_when_a_secondary_limit_hits_share_one_back_off(
    sandbox: RunningSandbox, creds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight pages in flight, all refused: one wait of 60 s, then every page; not a
    back-off that doubles for each of them (nor giving up after six)."""
    monkeypatch.setattr(Window, "delivered", lambda self: setattr(self, "size", self.cap))
    now, slept = [1_000_000.0], []

    def sleep(seconds: float) -> None:  # meanwhile, the requests in flight arrive
        deadline = time.monotonic() + 10
        while sandbox.model.faults.secondary_limit_next and time.monotonic() < deadline:
            time.sleep(0.01)
        slept.append(seconds)
        now[0] += seconds

    opened = open_fetch(
        resolve_target("sandbox", None, creds), FetchOptions(workers=8, cache=False)
    )
    opened.fetcher.gate.sleep, opened.fetcher.gate.clock = sleep, lambda: now[0]
    pages = opened.fetcher.pages(opened.url("/user/repos"))
    first = next(pages)  # it names the last page; nothing else is in flight yet
    sandbox.model.faults.secondary_limit_next, sandbox.model.faults.retry_after = 8, None
    items = first.items + [item for page in pages for item in page.items]
    assert names(items) == EXPECTED
    assert sum(slept) == pytest.approx(SECONDARY_MIN_WAIT)


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
    assert "needs one of the scopes repo" in done.stderr
    assert f"`invoke auth.login -p sandbox -u octocat --creds {path} --scope repo`" in done.stderr
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
    assert json.loads(me.stdout)["login"] == "octocat"


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
    opened = open_fetch(resolve_target("sandbox", None, creds), FetchOptions(workers=1))
    with pytest.raises(ProviderError, match="http_404"):
        list(opened.fetcher.items(opened.url("/orgs/nope/repos")))
    sandbox.model.rate_limit = 0
    opened = open_fetch(
        resolve_target("sandbox", None, creds), FetchOptions(wait=False, cache=False)
    )
    with pytest.raises(RateLimited):
        list(opened.fetcher.items(opened.url("/user")))


def test_revoked_token_says_how_to_log_in_again(sandbox: RunningSandbox, creds: Path) -> None:
    for token in sandbox.model.tokens.values():
        token.revoked = True
    done = fetch(creds, "--path", "/user")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert f"`invoke auth.login -p sandbox -u octocat --creds {creds}`" in done.stderr


@pytest.mark.parametrize("scope", ["repo", "repo offline_access"], ids=["classic", "refreshable"])
def test_a_revoked_token_raises_token_rejected_with_the_python_login(
    sandbox: RunningSandbox, app: App, tmp_path: Path, scope: str
) -> None:
    """Classic: nothing to refresh. Refreshable: its refresh token is refused with it."""
    path = tmp_path / "creds.json"
    logged_in(sandbox, app, path, scope=scope)
    for token in list(sandbox.model.tokens.values()):
        sandbox.model.revoke_token(token)
    with pytest.raises(TokenRejected) as caught:
        list(oauthdance.fetch("/user/repos", provider="sandbox", creds=path))
    assert isinstance(caught.value, NotLoggedIn)  # every `except NotLoggedIn` still catches it
    assert f'`oauthdance.login("sandbox", user="octocat", creds="{path}")`' in str(caught.value)
    login = Command("auth.login", "sandbox", "octocat")
    assert (
        caught.value.hint
        == f"log in again: {login.render(Asked.of(Face.PYTHON, 'sandbox', None, path))}"
    )


def test_a_refused_environment_token_keeps_its_own_hint(
    sandbox: RunningSandbox, app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logged_in(sandbox, app, tmp_path / "creds.json")
    monkeypatch.setenv("SANDBOX_TOKEN", "gho_not_a_token_the_sandbox_knows")
    with pytest.raises(TokenRejected) as caught:
        list(oauthdance.fetch("/user", provider="sandbox", creds=tmp_path / "creds.json"))
    assert caught.value.hint is not None and "SANDBOX_TOKEN" in caught.value.hint
    assert "auth.login" not in caught.value.hint


def test_progress_line_shows_pages_items_and_rate_limit(creds: Path) -> None:
    import io

    from oauthdance.paging.progress import Progress

    screen = io.StringIO()
    progress = Progress(enabled=True, stream=screen)
    progress.MIN_INTERVAL = 0
    opened = open_fetch(
        resolve_target("sandbox", None, creds), FetchOptions(workers=4, cache=False), progress
    )
    assert len(list(opened.fetcher.items(opened.url("/user/repos")))) == 1234
    progress.close()
    last = screen.getvalue().rsplit("\r", 1)[-1]
    assert "pages 13/13 · items 1,234 · rate limit left" in last
    quiet = io.StringIO()
    silent = open_fetch(
        resolve_target("sandbox", None, creds), FetchOptions(cache=False), Progress(stream=quiet)
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


def test_user_is_one_object(creds: Path, tmp_path: Path) -> None:
    common = ["-p", "sandbox", "--creds", str(creds)]
    me = run_invoke("data.user", *common, "--out", str(tmp_path / "me.json"))
    assert me.returncode == 0, me.stderr
    assert json.loads((tmp_path / "me.json").read_text())["login"] == "octocat"
    as_csv = run_invoke("data.user", *common, "--format", "csv")
    assert [row["login"] for row in csv.DictReader(io.StringIO(as_csv.stdout))] == ["octocat"]


def licensed_repo(login: str, owner_id: int, index: int) -> dict[str, Any]:
    """The sandbox's repositories, with a license and a homepage from the 151st on only."""
    item = dict(REPO(login, owner_id, index))
    item["license"] = {"key": "mit", "name": "MIT License"} if index >= 150 else None
    if index >= 150:
        item["homepage"] = f"https://example.com/{index}"
    return item


REPO = rest.repo


@pytest.mark.parametrize("to_file", [True, False], ids=["file", "stdout"])
def test_csv_has_the_columns_that_come_on_later_pages(
    creds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, to_file: bool
) -> None:
    monkeypatch.setattr(rest, "repo", licensed_repo)
    out = tmp_path / "repos.csv"
    where = ["--out", str(out)] if to_file else ["--format", "csv"]
    done = fetch(creds, "--path", "/user/repos", "--max-pages", "3", *where)
    assert done.returncode == 0, done.stderr
    text = out.read_bytes().decode() if to_file else done.stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 300 and list(rows[0])[-3:] == ["license.key", "license.name", "homepage"]
    assert rows[0]["license"] == rows[0]["license.key"] == rows[0]["homepage"] == ""
    assert rows[0]["private"] == "true" and rows[1]["private"] == "false"
    assert (rows[150]["license.key"], rows[150]["homepage"]) == ("mit", "https://example.com/150")


@pytest.mark.parametrize(
    ("flag", "value", "accepted"),
    [
        ("--max-pages", "0", "give --max-pages 1 or more, or leave it out"),
        ("--max-pages", "-1", "give --max-pages 1 or more, or leave it out"),
        ("--max-pages", "two", "e.g. --max-pages 10"),
        ("--workers", "0", "give --workers from 1 to 100"),
        ("--workers", "101", "give --workers from 1 to 100"),
        ("--page-limit", "0", "give --page-limit 1 or more"),
        ("--max-wait", "-1", "give --max-wait from 0 to 86400"),
        ("--out", "repos.txt", "--format json|ndjson|csv"),
    ],
)
def test_flags_out_of_range_are_usage_errors(
    sandbox: RunningSandbox, creds: Path, flag: str, value: str, accepted: str
) -> None:
    spent = sum(counter.used for counter in sandbox.model.rate.values())
    done = fetch(creds, "--path", "/user/repos", f"{flag}={value}")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    error, advice = done.stderr.splitlines()
    assert error.startswith(f"error: {flag} ") and advice.startswith("  next: ")
    assert accepted in advice
    assert done.stdout == "" and not Path("repos.txt").exists()
    assert sum(counter.used for counter in sandbox.model.rate.values()) == spent  # no request


def test_an_output_that_cannot_be_written_is_a_clear_error(creds: Path, tmp_path: Path) -> None:
    done = fetch(creds, "--path", "/user", "--out", str(tmp_path / "no" / "such" / "me.json"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "cannot write" in done.stderr and "No such file or directory" in done.stderr


def test_a_huge_last_page_needs_max_pages(
    sandbox: RunningSandbox, creds: Path, tmp_path: Path
) -> None:
    sandbox.model.users["octocat"].repo_count = 100 * 1_000_000_000  # last page: 10**9
    out = tmp_path / "repos.json"
    done = fetch(creds, "--path", "/user/repos", "--out", str(out))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "/user/repos has more than 10,000 pages" in done.stderr
    assert "last page is page 1,000,000,000" in done.stderr
    assert "next: fetch the first N pages with --max-pages N" in done.stderr
    assert not out.exists()  # refused before anything was written
    bounded = fetch(creds, "--path", "/user/repos", "--max-pages", "2", "--out", str(out))
    assert bounded.returncode == 0, bounded.stderr
    assert len(json.loads(out.read_text())) == 200


@pytest.mark.parametrize(("limit", "ok"), [("12", False), ("13", True)])
def test_page_limit_flag(creds: Path, limit: str, ok: bool) -> None:
    done = fetch(creds, "--path", "/user/repos", "--page-limit", limit, "--format", "ndjson")
    assert (done.returncode == 0) is ok, done.stderr
    assert len(done.stdout.splitlines()) == (1234 if ok else 0)


class EndlessPages:
    """A session whose every page links to a next one, and never names a last page."""

    def __init__(self, escape: bool = False) -> None:
        self.escape = escape

    def get(self, url: str, headers: dict[str, str]) -> Any:
        number = int(url.rsplit("=", 1)[1])
        later = f"https://api.example/items?page={number + 1}"
        if self.escape and number == 2:  # back to the start, with a terminal escape
            later = "https://api.example/items\x1b[2J?page=1"
        return SimpleNamespace(
            status_code=200,
            headers={},
            content=json.dumps([{"page": number}]).encode(),
            links={"next": {"url": later}},
        )


def test_next_links_past_the_page_limit_stop_with_advice() -> None:
    first = "https://api.example/items?page=1"
    fetcher = Fetcher(
        AnsweredAtOnce(EndlessPages().get), FetchOptions(page_limit=5, workers=1), cache=None
    )
    seen: list[Any] = []
    with pytest.raises(UsageError, match="more than 5 pages") as caught:
        seen.extend(fetcher.items(first))
    assert [item["page"] for item in seen] == [1, 2, 3, 4, 5]
    assert "--max-pages N" in str(caught.value.hint)
    bounded = Fetcher(
        AnsweredAtOnce(EndlessPages().get), FetchOptions(page_limit=5, max_pages=7), cache=None
    )
    assert len(list(bounded.items(first))) == 7  # --max-pages bounds it anyway
    looped = Fetcher(AnsweredAtOnce(EndlessPages(escape=True).get), cache=None)
    with pytest.raises(NetworkError) as broken:
        list(looped.items(first.replace("page=1", "page=2") + "&x=1"))
    assert "\x1b" not in str(broken.value) and "items?[2J" in str(broken.value)


@pytest.mark.usefixtures("sandbox_time")
@pytest.mark.parametrize(("max_wait", "ok"), [(None, False), ("2100", True)])
@pytest.mark.parametrize("workers", ["1", "8"])  # by next links; asked for ahead
def test_primary_reset_beyond_max_wait_stops_saying_when(
    sandbox: RunningSandbox, creds: Path, max_wait: str | None, ok: bool, workers: str
) -> None:
    sandbox.model.rate_limit, sandbox.model.rate_window = 3, 2000
    sandbox.model.rate.clear()
    longer = ["--max-wait", max_wait] if max_wait else []
    done = fetch(
        creds, "--path", "/user/repos", "--workers", workers, "--format", "ndjson", *longer
    )
    if ok:
        assert done.returncode == 0, done.stderr
        assert len(done.stdout.splitlines()) == 1234 and "rate limit spent: waiting" in done.stderr
        return
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert "the rate limit is spent; it resets at" in done.stderr
    assert "longer than --max-wait 900 s; saved 300 items to stdout" in done.stderr
    assert "next: run the same command again after" in done.stderr
    assert "or raise --max-wait" in done.stderr and len(done.stdout.splitlines()) == 300


@pytest.mark.usefixtures("sandbox_time")
@pytest.mark.parametrize(
    ("retry_after", "max_wait", "ok"),
    [(1200, None, False), (1200, "1200", True), (None, "30", False), (None, None, True)],
    ids=["retry-after past the cap", "retry-after within", "back-off past", "back-off within"],
)
def test_secondary_wait_beyond_max_wait_stops(
    sandbox: RunningSandbox, creds: Path, retry_after: int | None, max_wait: str | None, ok: bool
) -> None:
    sandbox.model.faults.secondary_limit_next, sandbox.model.faults.retry_after = 1, retry_after
    longer = ["--max-wait", max_wait] if max_wait else []
    done = fetch(creds, "--path", "/orgs/octo-org/repos", *longer)
    if ok:
        assert done.returncode == 0, done.stderr
        assert len(json.loads(done.stdout)) == 12 and "secondary rate limit: waiting" in done.stderr
        return
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert "a secondary rate limit applies; it resets at" in done.stderr
    assert f"longer than --max-wait {max_wait or 900} s" in done.stderr
    assert done.stdout == ""


def answer(status: int, body: Any, headers: dict[str, str] | None = None, **links: str) -> Any:
    """A response as the fetcher reads one."""
    return SimpleNamespace(
        status_code=status,
        headers=headers or {},
        content=json.dumps(body).encode(),
        json=lambda: body,
        links={rel: {"url": url} for rel, url in links.items()},
    )


class SpentWhileFailing:
    """Page 1 names ten pages; pages 3 and on find the rate limit spent for 30 s, and page 2
    fails (a moment later) while the workers fetching them wait for the reset."""

    def get(self, url: str, headers: dict[str, str]) -> Any:
        number = int(url.rsplit("=", 1)[1])
        if number == 1:
            return answer(200, [{"page": 1}], last="https://api.example/items?page=10")
        if number == 2:
            time.sleep(0.3)
            return answer(404, {"message": "Not Found"})
        spent = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 30)}
        return answer(403, {"message": "API rate limit exceeded"}, spent)


def test_an_error_does_not_wait_for_workers_waiting_for_a_reset() -> None:
    fetcher = Fetcher(AnsweredAtOnce(SpentWhileFailing().get), FetchOptions(workers=4), cache=None)
    started = time.monotonic()
    with pytest.raises(ProviderError, match="http_404"):
        list(fetcher.items("https://api.example/items?page=1"))
    assert time.monotonic() - started < 5  # not the 30 s until the reset


def test_a_page_that_is_not_json_is_named_printably() -> None:
    html = SimpleNamespace(status_code=200, headers={}, content=b"<html>\x1b[2J", links={})
    session = SimpleNamespace(get=lambda url, headers: html)
    with pytest.raises(NetworkError) as caught:
        Fetcher(AnsweredAtOnce(session.get), cache=None).get_page(
            "https://api.example/\x1b[2Jitems?page=1"
        )
    assert "\x1b" not in str(caught.value) and "api.example/?[2Jitems" in str(caught.value)
    assert "'<html>?[2J'" in str(caught.value)


LOGIN_FOR_SCOPE = "auth.login -p sandbox -u octocat --creds alt.json --scope repo"


@pytest.mark.parametrize(
    ("face", "spelt"),
    [
        (Face.INVOKE, f"invoke {LOGIN_FOR_SCOPE}"),
        (Face.CONSOLE, f"oauthdance {LOGIN_FOR_SCOPE}"),
        (
            Face.PYTHON,
            'oauthdance.login("sandbox", user="octocat", creds="alt.json", scope="repo")',
        ),
    ],
)
def test_a_missing_scope_is_advised_for_the_face_in_use(face: Face, spelt: str) -> None:
    """The engine names the step (`Command`), never its spelling: each face spells it, with
    the --creds the user gave."""
    headers = {"X-Accepted-OAuth-Scopes": "repo", "X-OAuth-Scopes": "read:user"}
    refused = answer(404, {"message": "Not Found"}, headers)
    login = Command("auth.login", provider="sandbox", user="octocat")
    fetcher = Fetcher(AnsweredAtOnce(lambda url, headers: refused), login=login)
    with asking(face, creds="alt.json"), pytest.raises(ProviderError) as caught:
        fetcher.get_page("https://api.example/repos/o/r/issues")
    with asking(face, creds="alt.json"):
        hint = caught.value.hint
    assert hint == f"log in again asking for it: `{spelt}`"


def test_the_python_api_meets_the_tasks_bounds_in_its_own_words() -> None:
    """`oauthdance.fetch()` and the tasks check through the same `FetchOptions`; each face
    names the option as its user types it."""
    with pytest.raises(UsageError, match=r"^workers=0 is out of range") as caught:
        next(oauthdance.fetch("/user/repos", workers=0))
    assert (
        caught.value.hint == "give workers from 1 to 100 (GitHub's limit for concurrent requests)"
    )
    with pytest.raises(UsageError, match=r"(?s)^page_limit=0 .*bound the fetch with max_pages"):
        next(oauthdance.fetch("/user/repos", page_limit=0))
    with pytest.raises(UsageError, match=r"^--max-pages 0 is out of range"):
        FetchOptions(max_pages=0)  # outside the Python API: a task's flags
    with asking(Face.CONSOLE), pytest.raises(UsageError) as shell:
        FetchOptions(page_limit=0)
    assert shell.value.hint == "give --page-limit 1 or more, or bound the fetch with --max-pages"


@pytest.mark.parametrize(
    ("value", "message", "hint"),
    [
        ("http", "--port takes a whole number, not 'http'", "e.g. --port 10"),
        ("70000", "--port 70000 is out of range", "give --port from 0 to 65535"),
        ("-1", "--port -1 is out of range", "give --port from 0 to 65535"),
    ],
)
def test_one_whole_number_parser_for_every_flag(value: str, message: str, hint: str) -> None:
    with pytest.raises(UsageError) as caught:
        whole_number("--port", value, 0, 65535)
    assert (caught.value.message, caught.value.hint) == (message, hint)
    assert whole_number("--port", " 8765 ", 0, 65535) == 8765
    assert whole_number("--max-pages", None) is None
