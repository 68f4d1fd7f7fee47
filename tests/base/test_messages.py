"""Messages a user acts on: right about what happened, with a `next:` that can be pasted
(the right `-p`, provider-chosen values quoted), and never a raw escape sequence."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from oauthdance.base.errors import EXIT_CODES
from oauthdance.dance import flow
from oauthdance.protocol.providers import get_provider
from oauthdance.sandbox import App, RunningSandbox
from oauthdance.store import CredentialsFile
from tests.support.hostile_server import Answer, HostileServer
from tests.support.invoking import run_invoke
from tests.support.lifecycle import logged_in

ESCAPE = "\x1b[2J\x1b]0;pwned\x07"


def test_status_of_an_unknown_provider_names_it(tmp_path: Path) -> None:
    done = run_invoke("auth.status", "-p", "githib", "--creds", str(tmp_path / "c.json"))
    assert done.returncode == 1 and "unknown provider 'githib'" in done.stderr


def test_use_without_a_user_is_a_usage_error_with_a_next_line(tmp_path: Path) -> None:
    done = run_invoke("auth.use", "-p", "sandbox", "--creds", str(tmp_path / "c.json"))
    assert done.returncode == 2 and "next:" in done.stderr


def test_offline_access_is_not_reported_missing_when_a_refresh_token_came(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    creds, provider = CredentialsFile(tmp_path / "creds.json"), get_provider("sandbox")
    logged_in(sandbox, app, tmp_path / "creds.json", scope="repo offline_access")
    verified = flow.verify_token(creds, provider)[0]
    assert verified.token["refresh_token"] and verified.missing_scopes == []


def test_provider_text_reaches_the_terminal_without_escape_sequences(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HostileServer() as server:
        providers = tmp_path / "providers.yaml"
        providers.write_text(
            f"evil:\n  authorize_url: {server.url}/authorize\n  token_url: {server.url}/token\n"
            f"  api_base: {server.url}/api\n"
        )
        monkeypatch.setenv("OAUTHDANCE_PROVIDERS", str(providers))
        common = ["-p", "evil", "--creds", str(tmp_path / "creds.json")]
        assert run_invoke("auth.configure", *common, "--client-id", "i", "--client-secret", "s")
        started = json.loads(run_invoke("auth.url", *common, "--json").stdout)
        url = f"http://127.0.0.1:8765/callback?code=c&state={started['state']}"
        assert run_invoke("auth.code", *common, "--url", url).returncode == 0
        server.answer(
            "/token", Answer.json({"error": "invalid_grant", "error_description": ESCAPE})
        )
        done = run_invoke("auth.exchange", *common)
    assert done.returncode == 1 and "invalid_grant" in done.stderr
    assert "\x1b" not in done.stderr + done.stdout and "\x07" not in done.stderr
    assert "invoke auth.url -p evil" in done.stderr  # the hint names the provider


def test_a_provider_chosen_login_is_quoted_in_suggested_commands(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    owner = "x; touch pwned #"
    record = {"tokens": {owner: {"access_token": "t", "needs_login": True}}, "default_user": owner}
    path.write_text(json.dumps({"sandbox": record}))
    done = run_invoke("auth.token", "-p", "sandbox", "--creds", str(path))
    assert done.returncode == 1
    assert f"`invoke auth.login -p sandbox -u 'x; touch pwned #' --creds {path}`" in done.stderr


def test_every_next_line_names_the_provider_it_is_about(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    """A sample of failures for a provider that is not the default: each `invoke auth.*`
    suggested carries `-p sandbox`."""
    path = tmp_path / "creds.json"
    common = ["-p", "sandbox", "--creds", str(path)]
    failures = [
        run_invoke("auth.token", *common),
        run_invoke("auth.url", *common),
        run_invoke("auth.exchange", *common),
        run_invoke("auth.check", *common),
    ]
    logged_in(sandbox, app, path)
    failures.append(run_invoke("auth.token", *common, "-u", "nobody"))
    for done in failures:
        assert done.returncode != 0
        for command in re.findall(r"`invoke (auth\.[a-z]+[^`]*)`", done.stderr):
            assert "-p sandbox" in command, done.stderr


def test_exit_codes_are_the_documented_ones() -> None:
    from oauthdance.base import errors

    codes = {
        cls.exit_code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.OAuthDanceError)
    }
    assert codes | {0, 130, errors.BROKEN_PIPE} <= set(EXIT_CODES)


def test_a_token_from_the_environment_that_cannot_be_sent_is_named_not_shown(
    sandbox: RunningSandbox, app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests' InvalidHeader would quote the whole header, token and all."""
    import oauthdance
    from oauthdance.base.errors import NotLoggedIn

    logged_in(sandbox, app, tmp_path / "creds.json")
    monkeypatch.setenv("SANDBOX_TOKEN", "gho_secretvalue\nX-Injected: 1")
    session = oauthdance.session("sandbox", creds=tmp_path / "creds.json")
    with pytest.raises(NotLoggedIn, match="SANDBOX_TOKEN") as info:
        session.get("/user")
    assert "secretvalue" not in str(info.value)


def test_a_refused_environment_token_says_to_fix_the_variable_not_to_log_in(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    logged_in(sandbox, app, tmp_path / "creds.json")
    done = run_invoke(
        "data.user", "-p", "sandbox", "--creds", str(tmp_path / "creds.json"),
        env={"SANDBOX_TOKEN": "gho_not_a_token_the_sandbox_knows"},
    )  # fmt: skip
    assert done.returncode == 1 and "environment (SANDBOX_TOKEN)" in done.stderr
    assert "log in again" not in done.stderr
