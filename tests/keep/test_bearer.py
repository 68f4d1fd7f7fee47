"""A refused token is never silent in a session: the 401 is returned, as requests does, and
the first one warns (`TokenRejectedWarning`) naming the call that fixes it."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import oauthdance
from oauthdance.base.advice import Asked, Command, Face
from oauthdance.base.errors import TokenRejectedWarning
from oauthdance.sandbox import App, RunningSandbox
from tests.support.lifecycle import logged_in
from tests.support.sandbox import serving


def revoke_all(sandbox: RunningSandbox) -> None:
    """What revoking at the provider does (`auth.revoke`, or the app's settings page)."""
    for token in list(sandbox.model.tokens.values()):
        sandbox.model.revoke_token(token)


def python_login(path: Path) -> str:
    """The login a session made by `oauthdance.session("sandbox", creds=path)` suggests."""
    now = Asked.of(Face.PYTHON, "sandbox", None, str(path))
    return Command("auth.login", "sandbox", "octocat").render(now)


def rejected_warnings(caught: list[warnings.WarningMessage]) -> list[warnings.WarningMessage]:
    return [w for w in caught if issubclass(w.category, TokenRejectedWarning)]


@pytest.mark.parametrize("scope", ["repo", "repo offline_access"], ids=["classic", "refreshable"])
def test_a_revoked_token_warns_once_and_returns_the_401(
    sandbox: RunningSandbox, app: App, tmp_path: Path, scope: str
) -> None:
    """Classic: no refresh token, nothing to try. Refreshable: its refresh token is refused
    too (revoked with it), which is not an exception either: the 401 comes back."""
    path = tmp_path / "creds.json"
    token = logged_in(sandbox, app, path, scope=scope)
    session = oauthdance.session("sandbox", creds=path)
    revoke_all(sandbox)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = session.get("/user")  # the warning names this line
        second = session.get("/user/repos")
    assert first.status_code == 401 and second.status_code == 401
    said = rejected_warnings(caught)
    assert len(said) == 1, [str(w.message) for w in caught]
    assert said[0].filename == __file__ and said[0].lineno == first_get_line()
    text = str(said[0].message)
    assert "refused" in text and python_login(path) in text
    assert token["access_token"] not in text
    assert not token.get("refresh_token") or token["refresh_token"] not in text


def first_get_line() -> int:
    """The line of `first = session.get("/user")` above."""
    source = Path(__file__).read_text().splitlines()
    return next(n for n, line in enumerate(source, 1) if 'first = session.get("/user")' in line)


def test_a_401_that_survives_the_refresh_and_resend_warns(
    sandbox: RunningSandbox, app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "creds.json"
    logged_in(sandbox, app, path)
    session = oauthdance.session("sandbox", creds=path)
    monkeypatch.setattr(sandbox.model, "token_for", lambda access_token: None)  # refuses all
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        answer = session.get("/user")
    assert answer.status_code == 401 and sandbox.model.refresh_requests == 1
    assert len(answer.history) == 1 and answer.history[0].status_code == 401  # it did resend
    said = rejected_warnings(caught)
    assert len(said) == 1 and python_login(path) in str(said[0].message)


def test_a_refused_environment_token_names_its_variable(
    sandbox: RunningSandbox, app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logged_in(sandbox, app, tmp_path / "creds.json")
    monkeypatch.setenv("SANDBOX_TOKEN", "gho_not_a_token_the_sandbox_knows")
    session = oauthdance.session("sandbox", creds=tmp_path / "creds.json")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert session.get("/user").status_code == 401
    said = rejected_warnings(caught)
    assert len(said) == 1
    text = str(said[0].message)
    assert "SANDBOX_TOKEN" in text and "login" not in text  # no login fixes a variable
    assert "gho_not_a_token_the_sandbox_knows" not in text


def test_a_401_from_another_origin_is_not_ours(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    path = tmp_path / "creds.json"
    logged_in(sandbox, app, path, scope="repo")
    session = oauthdance.session("sandbox", creds=path)
    with serving() as other, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert session.get(f"{other.url}/api/v3/user").status_code == 401
        assert session.get("/user").status_code == 200
    assert rejected_warnings(caught) == []


def test_a_working_token_says_nothing(sandbox: RunningSandbox, app: App, tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    logged_in(sandbox, app, path)
    session = oauthdance.session("sandbox", creds=path)
    sandbox.model.advance(28800)  # expired at the provider: the refresh-and-resend cures it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert session.get("/user").status_code == 200
    assert rejected_warnings(caught) == [] and sandbox.model.refresh_requests == 1
