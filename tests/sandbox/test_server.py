"""The sandbox behaves as GitHub documents: the rules the client relies on, checked directly."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from oauthdance.sandbox import App, RunningSandbox
from oauthdance.sandbox.model import Sandbox, pkce_s256, redirect_allowed
from oauthdance.sandbox.server import SandboxServer
from tests.support.sandbox import browser_approve


@pytest.mark.parametrize(
    "callback,uri,allowed",
    [
        ("http://127.0.0.1/callback", "http://127.0.0.1:51004/callback", True),
        ("http://127.0.0.1/callback", "http://127.0.0.1:51004/callback/sub", True),
        ("http://127.0.0.1/callback", "http://127.0.0.1:51004/other", False),
        ("http://127.0.0.1/callback", "http://localhost:51004/callback", False),
        ("https://example.com/cb", "https://example.com/cb/x", True),
        ("https://example.com/cb", "https://example.com:8443/cb", False),
        ("https://example.com/cb", "http://example.com/cb", False),
        ("https://example.com/cb", "https://example.com/cbx", False),
    ],
)
def test_redirect_uri_rule(callback: str, uri: str, allowed: bool) -> None:
    assert redirect_allowed(callback, uri) is allowed


def authorize_url(sandbox: RunningSandbox, app: App, **extra: str) -> str:
    params = {
        "client_id": app.client_id,
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "scope": "repo",
        "state": "s1",
        **extra,
    }
    return f"{sandbox.url}/login/oauth/authorize?{urlencode(params)}"


def token(sandbox: RunningSandbox, accept_json: bool = True, **form: str) -> requests.Response:
    headers = {"Accept": "application/json"} if accept_json else {}
    return requests.post(
        f"{sandbox.url}/login/oauth/access_token", data=form, headers=headers, timeout=10
    )


def test_consent_page_is_accessible_html_without_external_assets(
    sandbox: RunningSandbox, app: App
) -> None:
    page = requests.get(authorize_url(sandbox, app), timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert '<html lang="en">' in html and "<title>" in html
    assert ">Authorize</button>" in html and ">Deny</button>" in html
    assert '<label for="login">' in html
    assert "http" not in html.split("<body>")[1].replace(app.client_id, "").split("<form")[0]
    assert "<script" not in html and "<link" not in html


def test_unknown_client_gets_a_not_found_page(sandbox: RunningSandbox, app: App) -> None:
    page = requests.get(authorize_url(sandbox, app, client_id="nope"), timeout=10)
    assert page.status_code == 404 and "client_id" in page.text


def test_suspended_app_is_sent_back_with_an_error(sandbox: RunningSandbox, app: App) -> None:
    app.suspended = True
    location = browser_approve(authorize_url(sandbox, app))
    assert parse_qs(urlsplit(location).query)["error"] == ["application_suspended"]


def test_code_works_once_answers_form_by_default(sandbox: RunningSandbox, app: App) -> None:
    verifier = "v" * 50
    location = browser_approve(
        authorize_url(
            sandbox, app, code_challenge=pkce_s256(verifier), code_challenge_method="S256"
        )
    )
    code = parse_qs(urlsplit(location).query)["code"][0]
    form = {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "code": code,
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "code_verifier": verifier,
    }
    first = token(sandbox, accept_json=False, **form)
    assert first.status_code == 200
    assert first.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    answer = parse_qs(first.text)
    assert answer["access_token"][0].startswith("gho_") and answer["scope"] == ["repo"]
    again = token(sandbox, **form)
    assert again.status_code == 200 and again.json()["error"] == "bad_verification_code"


def test_basic_client_authentication_is_accepted(sandbox: RunningSandbox, app: App) -> None:
    code = parse_qs(urlsplit(browser_approve(authorize_url(sandbox, app))).query)["code"][0]
    answer = requests.post(
        f"{sandbox.url}/login/oauth/access_token",
        data={"code": code, "redirect_uri": "http://127.0.0.1:8765/callback"},
        auth=(app.client_id, app.client_secret),
        headers={"Accept": "application/json"},
        timeout=10,
    )
    assert answer.json()["token_type"] == "bearer"


def test_unverified_email_is_refused(sandbox: RunningSandbox, app: App) -> None:
    sandbox.model.users["octocat"].email_verified = False
    code = parse_qs(urlsplit(browser_approve(authorize_url(sandbox, app))).query)["code"][0]
    answer = token(
        sandbox,
        client_id=app.client_id,
        client_secret=app.client_secret,
        code=code,
        redirect_uri="http://127.0.0.1:8765/callback",
    )
    assert answer.json()["error"] == "unverified_user_email"


def issue_token(sandbox: RunningSandbox, app: App, scope: str = "repo") -> dict:
    location = browser_approve(authorize_url(sandbox, app, scope=scope))
    code = parse_qs(urlsplit(location).query)["code"][0]
    return token(
        sandbox,
        client_id=app.client_id,
        client_secret=app.client_secret,
        code=code,
        redirect_uri="http://127.0.0.1:8765/callback",
    ).json()


def test_user_endpoint_reports_scopes_and_rate_limit(sandbox: RunningSandbox, app: App) -> None:
    access = issue_token(sandbox, app, "repo read:org")["access_token"]
    answer = requests.get(
        f"{sandbox.url}/api/v3/user", timeout=10, headers={"Authorization": f"Bearer {access}"}
    )
    assert answer.json()["login"] == "octocat"
    assert answer.headers["X-OAuth-Scopes"] == "repo, read:org"
    assert answer.headers["X-RateLimit-Limit"] == "5000"
    assert answer.headers["X-RateLimit-Remaining"] == "4999"
    bad = requests.get(
        f"{sandbox.url}/api/v3/user", timeout=10, headers={"Authorization": "Bearer gho_wrong"}
    )
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"


def test_repos_paginate_with_link_headers(sandbox: RunningSandbox, app: App) -> None:
    access = issue_token(sandbox, app)["access_token"]
    sandbox.model.users["octocat"].repo_count = 250
    url, seen, pages = f"{sandbox.url}/api/v3/user/repos?per_page=100", [], 0
    while url:
        answer = requests.get(url, headers={"Authorization": f"Bearer {access}"}, timeout=10)
        seen += [repo["name"] for repo in answer.json()]
        url = answer.links.get("next", {}).get("url")
        pages += 1
        if pages == 1:
            assert answer.links["last"]["url"].endswith("page=3")
    assert pages == 3 and len(seen) == 250 == len(set(seen))
    assert seen == sorted(seen)


def test_rate_limit_is_enforced(sandbox: RunningSandbox, app: App) -> None:
    sandbox.model.rate_limit = 2
    access = issue_token(sandbox, app)["access_token"]
    headers = {"Authorization": f"Bearer {access}"}
    codes = [
        requests.get(f"{sandbox.url}/api/v3/user", headers=headers, timeout=10) for _ in range(3)
    ]
    assert [c.status_code for c in codes] == [200, 200, 403]
    assert codes[2].headers["X-RateLimit-Remaining"] == "0"


def test_connect_latency_is_paid_once_per_connection(sandbox: RunningSandbox, app: App) -> None:
    headers = {"Authorization": f"Bearer {issue_token(sandbox, app)['access_token']}"}
    faults = sandbox.model.faults
    faults.connect_latency = 0.001
    with requests.Session() as kept_alive:
        for _ in range(2):
            assert kept_alive.get(f"{sandbox.url}/api/v3/user", headers=headers, timeout=10).ok
    assert faults.connections_delayed == 1
    for _ in range(2):  # no session: a new connection each time
        assert requests.get(f"{sandbox.url}/api/v3/user", headers=headers, timeout=10).ok
    assert faults.connections_delayed == 3


def test_check_and_revoke_application_token(sandbox: RunningSandbox, app: App) -> None:
    access = issue_token(sandbox, app)["access_token"]
    url = f"{sandbox.url}/api/v3/applications/{app.client_id}/token"
    auth = (app.client_id, app.client_secret)
    assert requests.post(url, json={"access_token": access}, auth=auth, timeout=10).ok
    assert (
        requests.post(
            url, json={"access_token": access}, auth=(app.client_id, "x"), timeout=10
        ).status_code
        == 401
    )
    assert (
        requests.delete(url, json={"access_token": access}, auth=auth, timeout=10).status_code
        == 204
    )
    assert (
        requests.post(url, json={"access_token": access}, auth=auth, timeout=10).status_code == 404
    )


def test_offline_access_gives_expiring_tokens_that_rotate(
    sandbox: RunningSandbox, app: App
) -> None:
    first = issue_token(sandbox, app, "repo offline_access")
    assert first["access_token"].startswith("ghu_") and first["expires_in"] == 28800
    assert first["refresh_token"].startswith("ghr_") and first["scope"] == "repo"
    form = {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": first["refresh_token"],
    }
    second = token(sandbox, **form).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert token(sandbox, **form).json()["error"] == "bad_refresh_token"
    old = requests.get(
        f"{sandbox.url}/api/v3/user",
        timeout=10,
        headers={"Authorization": f"Bearer {first['access_token']}"},
    )
    assert old.status_code == 401


def test_a_client_that_hangs_up_mid_answer_leaves_no_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = SandboxServer(Sandbox())
    try:
        for failure in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset")):
            try:
                raise failure
            except ConnectionError:
                server.handle_error(None, ("127.0.0.1", 1))
        try:
            raise ValueError("a bug of the sandbox's own")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 1))
    finally:
        server.server_close()
    shown = capsys.readouterr().err
    assert shown.count("Traceback") == 1 and "a bug of the sandbox's own" in shown
    assert "Broken pipe" not in shown and "reset" not in shown
