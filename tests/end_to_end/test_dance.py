"""The dance end to end, one `invoke` step at a time, against the live sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from oauthdance.sandbox import App, RunningSandbox
from tests.support.invoking import run_invoke, run_invoke_process
from tests.support.sandbox import browser_approve, configure_args

Runner = Callable[..., CompletedProcess[str]]  # run_invoke, or run_invoke_process


def load(path: Path) -> dict:
    text = path.read_text()
    return yaml.safe_load(text) if path.suffix == ".yaml" else json.loads(text)


def ok(*args: str, run: Runner = run_invoke, **kwargs) -> str:
    done = run(*args, **kwargs)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


def fails(*args: str, **kwargs) -> str:
    done = run_invoke(*args, **kwargs)
    assert done.returncode != 0, f"{args} should have failed: {done.stdout}"
    assert "Traceback" not in done.stderr, done.stderr
    return done.stderr


def start(creds: Path, *extra: str, run: Runner = run_invoke) -> dict:
    return json.loads(
        ok("auth.url", "-p", "sandbox", "--creds", str(creds), "--json", *extra, run=run)
    )


def test_full_dance_step_by_step(sandbox: RunningSandbox, app: App, creds_path: Path) -> None:
    """With a JSON file each step is its own process, as the README runs them: only the file
    carries what one step leaves for the next. With YAML the steps run in this process."""
    run = run_invoke_process if creds_path.suffix == ".json" else run_invoke
    ok(*configure_args(sandbox, app, creds_path, scope="repo read:org"), run=run)
    started = start(creds_path, run=run)
    query = parse_qs(urlsplit(started["url"]).query)
    assert query["state"] == [started["state"]]
    assert query["code_challenge_method"] == ["S256"]
    assert "client_secret" not in started["url"] and app.client_secret not in started["url"]

    redirect = browser_approve(started["url"])
    ok("auth.code", "-p", "sandbox", "--creds", str(creds_path), "--url", redirect, run=run)
    exchanged = ok("auth.exchange", "-p", "sandbox", "--creds", str(creds_path), run=run)
    verified = ok("auth.verify", "-p", "sandbox", "--creds", str(creds_path), run=run)

    data = load(creds_path)["sandbox"]
    token = data["tokens"]["octocat"]
    assert token["access_token"].startswith("gho_")
    assert token["scope"] == ["repo", "read:org"]
    assert token["verified_at"] and data["default_user"] == "octocat"
    assert "pending" not in data and "unverified" not in data
    assert "login octocat" in verified
    for output in (exchanged, verified):
        assert token["access_token"] not in output and app.client_secret not in output
    assert creds_path.stat().st_mode & 0o777 == 0o600

    raw = ok("auth.token", "-p", "sandbox", "--creds", str(creds_path), run=run)
    assert raw.strip() == token["access_token"]
    status = ok("auth.status", "--creds", str(creds_path), run=run)
    assert "octocat" in status and token["access_token"] not in status
    assert app.client_secret not in status


def test_steps_chain_in_one_command_line(sandbox: RunningSandbox, app: App, tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    ok(*configure_args(sandbox, app, creds))
    redirect = browser_approve(start(creds)["url"])
    common = ["-p", "sandbox", "--creds", str(creds)]
    out = ok(
        "auth.code", *common, "--url", redirect, "auth.exchange", *common, "auth.verify", *common
    )
    assert "login octocat" in out


def test_verify_warns_when_fewer_scopes_are_granted(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    creds = tmp_path / "creds.json"
    ok(*configure_args(sandbox, app, creds, scope="repo no-such-scope"))
    redirect = browser_approve(start(creds)["url"])
    common = ["-p", "sandbox", "--creds", str(creds)]
    ok("auth.code", *common, "--url", redirect)
    ok("auth.exchange", *common)
    done = run_invoke("auth.verify", *common)
    assert done.returncode == 0
    assert "fewer scopes" in done.stderr and "no-such-scope" in done.stderr


def test_two_owners_each_keep_their_token(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    creds = tmp_path / "creds.json"
    ok(*configure_args(sandbox, app, creds))
    common = ["-p", "sandbox", "--creds", str(creds)]
    for login in ("octocat", "hubot"):
        redirect = browser_approve(start(creds)["url"], login=login)
        ok(
            "auth.code",
            *common,
            "--url",
            redirect,
            "auth.exchange",
            *common,
            "auth.verify",
            *common,
        )
    data = load(creds)["sandbox"]
    assert set(data["tokens"]) == {"octocat", "hubot"}
    assert data["default_user"] == "octocat"
    hubot = ok("auth.token", *common, "--user", "hubot").strip()
    assert hubot == data["tokens"]["hubot"]["access_token"]


# -- every error path: a clear message, a non-zero exit, the file byte-for-byte as it was --


@pytest.fixture
def ready(sandbox: RunningSandbox, app: App, creds_path: Path) -> Path:
    """Configured, with one authorization started."""
    ok(*configure_args(sandbox, app, creds_path))
    return creds_path


def unchanged_after(creds: Path, *args: str) -> str:
    before = creds.read_bytes()
    message = fails(*args)
    assert creds.read_bytes() == before
    return message


def common(creds: Path) -> list[str]:
    return ["-p", "sandbox", "--creds", str(creds)]


def with_code(creds: Path) -> str:
    """Start, approve and store a code; returns the state."""
    started = start(creds)
    ok("auth.code", *common(creds), "--url", browser_approve(started["url"]))
    return started["state"]


def test_unknown_state_is_refused(ready: Path) -> None:
    start(ready)
    msg = unchanged_after(ready, "auth.code", *common(ready), "--code", "abc", "--state", "forged")
    assert "not one of the pending" in msg


def test_state_mismatch_is_refused(ready: Path) -> None:
    started = start(ready)
    redirect = browser_approve(started["url"])
    msg = unchanged_after(
        ready, "auth.code", *common(ready), "--url", redirect, "--state", "something-else"
    )
    assert "does not match" in msg


def test_forged_redirect_with_unknown_state_is_refused(ready: Path) -> None:
    start(ready)
    msg = unchanged_after(
        ready,
        "auth.code",
        *common(ready),
        "--url",
        "http://127.0.0.1:8765/callback?code=abc&state=forged",
    )
    assert "not one of the pending" in msg


def test_access_denied_is_explained(ready: Path) -> None:
    started = start(ready)
    redirect = browser_approve(started["url"], decision="deny")
    msg = unchanged_after(ready, "auth.code", *common(ready), "--url", redirect)
    assert "access_denied" in msg and "auth.url" in msg


def test_redirect_uri_mismatch_at_authorize_is_explained(ready: Path) -> None:
    started = start(ready, "--redirect-uri", "http://127.0.0.1:9/elsewhere")
    redirect = browser_approve(started["url"])
    assert redirect.startswith("http://127.0.0.1/callback?error=redirect_uri_mismatch")
    msg = unchanged_after(ready, "auth.code", *common(ready), "--url", redirect)
    assert "redirect_uri_mismatch" in msg and "--redirect-uri" in msg


def test_reused_code_is_refused(ready: Path) -> None:
    first = start(ready)
    redirect = browser_approve(first["url"])
    code = parse_qs(urlsplit(redirect).query)["code"][0]
    ok("auth.code", *common(ready), "--url", redirect)
    ok("auth.exchange", *common(ready))
    second = start(ready)
    ok("auth.code", *common(ready), "--code", code, "--state", second["state"])
    msg = unchanged_after(ready, "auth.exchange", *common(ready))
    assert "bad_verification_code" in msg and "10 minutes" in msg


def test_expired_code_is_refused(ready: Path, sandbox: RunningSandbox) -> None:
    with_code(ready)
    sandbox.model.advance(601)
    msg = unchanged_after(ready, "auth.exchange", *common(ready))
    assert "bad_verification_code" in msg


def test_code_just_inside_its_lifetime_still_works(ready: Path, sandbox: RunningSandbox) -> None:
    with_code(ready)
    sandbox.model.advance(590)
    ok("auth.exchange", *common(ready))


def test_wrong_client_secret_is_refused(ready: Path) -> None:
    with_code(ready)
    before = ready.read_bytes()
    done = run_invoke("auth.exchange", *common(ready), env={"SANDBOX_CLIENT_SECRET": "wrong"})
    assert done.returncode != 0 and "incorrect_client_credentials" in done.stderr
    # the secret is never echoed (the hint's `--creds` path holds the test's name)
    assert "wrong" not in done.stderr.replace("is wrong", "").replace(str(ready), "")
    assert ready.read_bytes() == before


def edit_pending(creds: Path, **changes: str) -> None:
    data = load(creds)
    for entry in data["sandbox"]["pending"].values():
        entry.update(changes)
    text = yaml.safe_dump(data) if creds.suffix == ".yaml" else json.dumps(data)
    creds.write_text(text)


def test_redirect_uri_mismatch_at_token_endpoint_is_refused(ready: Path) -> None:
    with_code(ready)
    edit_pending(ready, redirect_uri="http://127.0.0.1:8765/callback/other")
    msg = unchanged_after(ready, "auth.exchange", *common(ready))
    assert "redirect_uri_mismatch" in msg


def test_wrong_pkce_verifier_is_refused(ready: Path) -> None:
    with_code(ready)
    edit_pending(ready, code_verifier="not-the-verifier-that-made-the-challenge-xxxxx")
    msg = unchanged_after(ready, "auth.exchange", *common(ready))
    assert "code_verifier" in msg


def test_malformed_pasted_url_is_refused(ready: Path) -> None:
    start(ready)
    msg = unchanged_after(ready, "auth.code", *common(ready), "--url", "http://127.0.0.1/oops")
    assert "cannot read the redirect URL" in msg


def test_missing_configuration_is_explained(tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    creds.write_text('{"github": {"scope": "repo"}}\n')
    msg = unchanged_after(creds, "auth.url", "--creds", str(creds))
    assert "no client_id" in msg and "auth.configure" in msg


def test_missing_secret_is_explained(sandbox: RunningSandbox, app: App, tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    args = configure_args(sandbox, app, creds)
    secret_at = args.index("--client-secret")
    ok(*args[:secret_at], *args[secret_at + 2 :], "--secret-in-env")
    with_code(creds)
    msg = unchanged_after(creds, "auth.exchange", *common(creds))
    assert "no client_secret" in msg and "SANDBOX_CLIENT_SECRET" in msg
    ok("auth.exchange", *common(creds), env={"SANDBOX_CLIENT_SECRET": app.client_secret})


@pytest.mark.parametrize(
    "suffix,text,line",
    [
        (".json", '{\n  "github": {\n    "client_id": "x",\n  }\n}\n', "line 4"),
        (".yaml", "github:\n  client_id: x\n  scope: [repo\n", "line 4"),
    ],
)
def test_corrupt_file_is_named_with_its_line_and_kept(
    tmp_path: Path, suffix: str, text: str, line: str
) -> None:
    creds = tmp_path / f"creds{suffix}"
    creds.write_text(text)
    for step in (["auth.url"], ["auth.status"], ["auth.configure", "--client-id", "abc"]):
        msg = unchanged_after(creds, *step, "--creds", str(creds))
        assert str(creds) in msg and line in msg


def test_unknown_provider_is_explained(tmp_path: Path) -> None:
    msg = fails("auth.url", "-p", "nope", "--creds", str(tmp_path / "c.json"))
    assert "unknown provider 'nope'" in msg and "github" in msg


def test_provider_that_cannot_be_reached_is_explained(tmp_path: Path, instant_retries) -> None:
    creds = tmp_path / "creds.json"
    ok(
        "auth.configure",
        "-p",
        "sandbox",
        "--creds",
        str(creds),
        "--host",
        "127.0.0.1:9",
        "--client-id",
        "x",
        "--client-secret",
        "y",
    )
    started = start(creds)
    state = started["state"]
    ok("auth.code", *common(creds), "--code", "c0de", "--state", state)
    msg = unchanged_after(creds, "auth.exchange", *common(creds))
    assert "could not reach" in msg
