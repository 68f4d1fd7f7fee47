"""The README's example scripts, run as a user runs them: they follow OAUTHDANCE_PROVIDER,
and a token the provider refuses ends them in one `error: … next: …` with the login to
run, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from oauthdance.base.advice import Asked, Command, Face
from oauthdance.sandbox import App, RunningSandbox
from tests.support.invoking import run_script
from tests.support.lifecycle import logged_in

SCRIPTS = ["notebook_example.py", "fetch_repos.py"]


@pytest.fixture
def creds(sandbox: RunningSandbox, app: App, tmp_path: Path) -> Path:
    path = tmp_path / "creds.json"
    logged_in(sandbox, app, path, scope="repo")
    return path


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_scripts_follow_oauthdance_provider(creds: Path, name: str) -> None:
    done = run_script(name, creds, provider=None, env={"OAUTHDANCE_PROVIDER": "sandbox"})
    assert done.returncode == 0, done.stderr
    assert "repositories" in done.stdout


@pytest.mark.parametrize("scope", ["repo", "repo offline_access"], ids=["classic", "refreshable"])
@pytest.mark.parametrize("name", SCRIPTS)
def test_a_revoked_token_ends_the_scripts_in_error_and_next(
    sandbox: RunningSandbox, app: App, tmp_path: Path, name: str, scope: str
) -> None:
    path = tmp_path / "creds.json"
    logged_in(sandbox, app, path, scope=scope)
    for token in list(sandbox.model.tokens.values()):
        sandbox.model.revoke_token(token)
    done = run_script(name, path)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert lines[-2].startswith("error: ") and "refused" in lines[-2], done.stderr
    login = Command("auth.login", "sandbox", "octocat")  # the scripts are the Python face
    assert lines[-1] == f"  next: log in again: {login.render(Asked.of(Face.PYTHON, creds=path))}"
