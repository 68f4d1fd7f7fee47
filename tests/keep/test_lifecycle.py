"""Expiry, refresh with rotation, races, revoke, logout, check, owners and env tokens."""

from __future__ import annotations

import json
import multiprocessing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

import oauthdance
from oauthdance.base.errors import NotLoggedIn
from oauthdance.keep import lifecycle
from oauthdance.protocol.providers import get_provider
from oauthdance.sandbox import App, RunningSandbox
from oauthdance.store import CredentialsFile
from tests.support.invoking import run_invoke
from tests.support.lifecycle import expire, logged_in
from tests.support.process_targets import token_at_once
from tests.support.sandbox import serving


def works(sandbox: RunningSandbox, access: str) -> bool:
    answer = requests.get(
        f"{sandbox.url}/api/v3/user", timeout=10, headers={"Authorization": f"Bearer {access}"}
    )
    return answer.status_code == 200


def refresh_form(app: App, refresh_token: str) -> dict:
    return {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    }


def sandbox_args(path: Path) -> list[str]:
    return ["-p", "sandbox", "--creds", str(path)]


def test_expiring_token_stores_absolute_times(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    token = logged_in(sandbox, app, tmp_path / "creds.json")
    created = datetime.fromisoformat(token["created_at"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00"))
    assert expires - created == timedelta(seconds=28800)
    assert token["refresh_token"].startswith("ghr_") and token["refresh_token_expires_at"]
    assert "expires_in" not in token


@pytest.mark.parametrize(
    "lifetime,left,due",
    [
        (28800, 61, False),
        (28800, 59, True),
        (60, 31, False),
        (60, 29, True),
        (None, 0, False),
    ],
)
def test_leeway_is_the_smaller_of_60s_and_half_the_lifetime(
    lifetime: int | None, left: int, due: bool
) -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
    token = {"created_at": "2026-11-28T00:00:00Z"}
    if lifetime:
        expires = now + timedelta(seconds=left)
        token = {
            "created_at": (expires - timedelta(seconds=lifetime)).isoformat(),
            "expires_at": expires.isoformat(),
        }
    assert lifecycle.needs_refresh(token, now) is due


def test_expired_token_is_refreshed_on_use_and_rotates(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    path = tmp_path / "creds.json"
    old = logged_in(sandbox, app, path)
    expire(path, sandbox)
    done = run_invoke("auth.token", *sandbox_args(path))
    assert done.returncode == 0, done.stderr
    fresh = CredentialsFile(path).record("sandbox")["tokens"]["octocat"]
    assert done.stdout.strip() == fresh["access_token"] != old["access_token"]
    assert fresh["refresh_token"] != old["refresh_token"]
    assert fresh["login"] == "octocat" and fresh["scope"] == ["repo"]
    assert works(sandbox, fresh["access_token"]) and not works(sandbox, old["access_token"])
    spent = requests.post(
        f"{sandbox.url}/login/oauth/access_token",
        timeout=10,
        data=refresh_form(app, old["refresh_token"]),
        headers={"Accept": "application/json"},
    ).json()
    assert spent["error"] == "bad_refresh_token"


def test_refused_refresh_asks_for_a_new_login(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    path = tmp_path / "creds.json"
    old = logged_in(sandbox, app, path)
    requests.post(
        f"{sandbox.url}/login/oauth/access_token",
        timeout=10,
        data=refresh_form(app, old["refresh_token"]),
    )  # someone else rotated it
    expire(path, sandbox)
    for _ in range(2):  # the second use fails at once, from the mark in the file
        done = run_invoke("auth.token", *sandbox_args(path))
        assert done.returncode != 0 and "Traceback" not in done.stderr
        assert f"`invoke auth.login -p sandbox -u octocat --creds {path}`" in done.stderr
    assert CredentialsFile(path).record("sandbox")["tokens"]["octocat"]["needs_login"]
    assert sandbox.model.refresh_requests == 2  # ours was tried once, not again


def test_old_refresh_token_is_kept_when_the_answer_omits_one(
    sandbox: RunningSandbox, app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "creds.json"
    old = logged_in(sandbox, app, path)
    from oauthdance.net import endpoints

    monkeypatch.setattr(
        endpoints,
        "request_token",
        lambda *a, **k: {
            "access_token": "gho_new",
            "token_type": "bearer",
            "expires_in": 3600,
            "refresh_token": None,
            "refresh_token_expires_in": None,
            "scope": [],
            "id_token": None,
        },
    )
    fresh = lifecycle.refresh_token(
        CredentialsFile(path), get_provider("sandbox"), "octocat", force=True
    )
    assert fresh["access_token"] == "gho_new"
    assert fresh["refresh_token"] == old["refresh_token"]
    assert fresh["scope"] == old["scope"]


def test_two_processes_racing_refresh_only_once(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    path = tmp_path / "creds.json"
    logged_in(sandbox, app, path)
    expire(path, sandbox)
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=token_at_once, args=(str(path), barrier, out)) for _ in range(2)]
    for proc in procs:
        proc.start()
    tokens = [out.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    assert sandbox.model.refresh_requests == 1
    assert tokens[0] == tokens[1] and works(sandbox, tokens[0])


def test_revoke_kills_the_token_at_the_provider(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    path = tmp_path / "creds.json"
    token = logged_in(sandbox, app, path)
    done = run_invoke("auth.revoke", *sandbox_args(path))
    assert done.returncode == 0, done.stderr
    assert not works(sandbox, token["access_token"])
    assert "tokens" not in CredentialsFile(path).record("sandbox")


def test_logout_forgets_locally_but_the_token_still_works(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    path = tmp_path / "creds.json"
    token = logged_in(sandbox, app, path)
    done = run_invoke("auth.logout", *sandbox_args(path))
    assert done.returncode == 0 and "still works at the provider" in done.stderr
    assert works(sandbox, token["access_token"])
    assert "tokens" not in CredentialsFile(path).record("sandbox")


def test_check_says_valid_then_invalid(sandbox: RunningSandbox, app: App, tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    token = logged_in(sandbox, app, path, scope="repo")
    done = run_invoke("auth.check", *sandbox_args(path))
    assert done.returncode == 0 and done.stdout.startswith("valid")
    sandbox.model.tokens[token["access_token"]].revoked = True
    done = run_invoke("auth.check", *sandbox_args(path))
    assert done.returncode == 1 and done.stdout.startswith("invalid")
    assert "auth.login" in done.stderr


def test_owners_default_use_and_environment(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    path = tmp_path / "creds.json"
    octocat = logged_in(sandbox, app, path, "octocat", scope="repo")
    hubot = logged_in(sandbox, app, path, "hubot", scope="repo")
    creds = CredentialsFile(path)
    assert oauthdance.token("sandbox", creds=path) == octocat["access_token"]
    assert run_invoke("auth.use", *sandbox_args(path), "--user", "hubot").returncode == 0
    assert creds.record("sandbox")["default_user"] == "hubot"
    assert oauthdance.token("sandbox", creds=path) == hubot["access_token"]
    env = {"OAUTHDANCE_USER": "octocat"}
    done = run_invoke("auth.token", *sandbox_args(path), env=env)
    assert done.stdout.strip() == octocat["access_token"]
    done = run_invoke("auth.token", *sandbox_args(path), "--user", "hubot", env=env)
    assert done.stdout.strip() == hubot["access_token"]
    done = run_invoke("auth.use", *sandbox_args(path), "--user", "nobody")
    assert done.returncode != 0 and "stored owners: hubot, octocat" in done.stderr


def test_environment_token_wins_and_status_warns(
    sandbox: RunningSandbox, app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "creds.json"
    stored = logged_in(sandbox, app, path, scope="repo")
    monkeypatch.setenv("SANDBOX_TOKEN", "gho_fromtheenvironment0000")
    assert oauthdance.token("sandbox", creds=path) == "gho_fromtheenvironment0000"
    assert oauthdance.token("sandbox", "octocat", creds=path) == stored["access_token"]
    done = run_invoke("auth.status", "--creds", str(path), "--json")
    assert "shadows the stored ones" in done.stderr
    rows = json.loads(done.stdout)
    assert {r["source"] for r in rows} == {"environment (SANDBOX_TOKEN)", "file"}
    assert "gho_fromtheenvironment0000" not in done.stdout


@pytest.mark.usefixtures("instant_retries")
def test_session_sends_headers_refreshes_after_401_and_retries_5xx(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    path = tmp_path / "creds.json"
    first = logged_in(sandbox, app, path)
    session = oauthdance.session("sandbox", creds=path)
    assert session.get("/user").json()["login"] == "octocat"
    sandbox.model.advance(28800)  # the provider's clock passes expiry; ours does not know
    answer = session.get("/user")
    assert answer.status_code == 200 and sandbox.model.refresh_requests == 1
    stored = CredentialsFile(path).record("sandbox")["tokens"]["octocat"]
    assert stored["access_token"] != first["access_token"]
    sandbox.model.faults.fail_next_api = 2
    assert session.get("/user/repos").status_code == 200
    assert sandbox.model.faults.fail_next_api == 0


def test_not_logged_in_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NotLoggedIn, match="no sandbox token is stored yet"):
        oauthdance.token("sandbox", creds=tmp_path / "creds.json")


def test_github_app_mode_issues_expiring_tokens_and_verify_refreshes(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    app = sandbox.model.register_app("http://127.0.0.1/callback", expiring_tokens=True)
    path = tmp_path / "creds.json"
    old = logged_in(sandbox, app, path, scope="repo")
    assert old["access_token"].startswith("ghu_") and old["expires_at"]
    expire(path, sandbox)
    done = run_invoke("auth.verify", *sandbox_args(path))
    assert done.returncode == 0, done.stderr
    fresh = CredentialsFile(path).record("sandbox")["tokens"]["octocat"]
    assert fresh["access_token"] != old["access_token"] and works(sandbox, fresh["access_token"])


def test_session_sends_the_token_to_its_own_api_only(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    path = tmp_path / "creds.json"
    logged_in(sandbox, app, path, scope="repo")
    session = oauthdance.session("sandbox", creds=path)
    seen: list[str | None] = []
    with serving() as other:  # another host: same code, other port
        session.hooks["response"].append(
            lambda r, *a, **k: seen.append(r.request.headers.get("Authorization"))
        )
        assert session.get(f"{other.url}/api/v3/user").status_code == 401
        assert session.get("/user").status_code == 200
    assert seen[0] is None and seen[1].startswith("Bearer gho_")


def test_many_workers_seeing_401_spend_one_refresh(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "creds.json"
    logged_in(sandbox, app, path)
    session = oauthdance.session("sandbox", creds=path)
    assert session.get("/user").status_code == 200
    sandbox.model.advance(28800)  # every worker's next request meets an expired token
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: session.get("/user").status_code, range(8)))
    assert codes == [200] * 8 and sandbox.model.refresh_requests == 1
