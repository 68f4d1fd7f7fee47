"""`scripts/onboard` as a new member (or a CI job) runs it: a real process against the
sandbox, in each mode; a second run changes nothing; a CI job without a token and a missing
scope fail clearly; what `--mode auto` picks on which machine."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from oauthdance.protocol.providers import get_provider
from oauthdance.sandbox import App, RunningSandbox
from tests.support.invoking import ROOT
from tests.support.lifecycle import logged_in
from tests.support.sandbox import browser_approve
from tests.support.teardown import stop_at_teardown

ONBOARD = ROOT / "scripts" / "onboard"


def command(sandbox: RunningSandbox, *extra: str) -> list[str]:
    """The command line, as a team's README would give it (the sandbox needs its port)."""
    return [
        sys.executable,
        str(ONBOARD),
        "-p",
        "sandbox",
        "--host",
        sandbox.host,
        "--scope",
        "repo",
        "--timeout",
        "20",
        *extra,
    ]


def team_env(app: App | None = None, **extra: str) -> dict[str, str]:
    """This test's environment, with the team's app in it (as .env or CI secrets give it)."""
    env = {**os.environ, **extra}
    if app:
        env.update(SANDBOX_CLIENT_ID=app.client_id, SANDBOX_CLIENT_SECRET=app.client_secret)
    return env


def onboard(
    sandbox: RunningSandbox, *extra: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(sandbox, *extra),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        timeout=60,
    )


class Running:
    """onboard in the background: read its stderr until the prompt, then answer it."""

    def __init__(self, sandbox: RunningSandbox, *extra: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            command(sandbox, *extra),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.seen: list[str] = []
        self._keep = stop_at_teardown(self.proc.kill)

    def wait_for(self, pattern: str) -> re.Match[str]:
        assert self.proc.stderr
        for line in iter(self.proc.stderr.readline, ""):
            self.seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match
        raise AssertionError(f"{pattern!r} never came; stderr:\n{''.join(self.seen)}")

    def finish(self, answer: str = "") -> tuple[int, str, str]:
        stdout, stderr = self.proc.communicate(answer, timeout=30)
        self._keep()
        return self.proc.returncode, stdout, "".join(self.seen) + stderr


def stored_token(path: Path, owner: str = "octocat") -> str:
    return json.loads(path.read_text())["sandbox"]["tokens"][owner]["access_token"]


def assert_clean(output: str, *secrets: str) -> None:
    assert "Traceback" not in output
    for secret in secrets:
        assert secret not in output


def test_browser_login_then_a_second_run_changes_nothing(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(  # the team's .env, in the folder the member works in
        f"SANDBOX_CLIENT_ID={app.client_id}\nSANDBOX_CLIENT_SECRET={app.client_secret}\n"
    )
    browser = tmp_path / "browser"  # opens the URL in the background, as a real one does
    fetch = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10).read()"
    log = shlex.quote(str(tmp_path / "browser.log"))
    browser.write_text(
        f'#!/bin/sh\n{shlex.quote(sys.executable)} -c {shlex.quote(fetch)} "$1" >{log} 2>&1 &\n'
    )
    browser.chmod(0o755)
    sandbox.model.auto_approve = True
    env = team_env(DISPLAY=":0", BROWSER=str(browser))

    first = onboard(sandbox, "--mode", "browser", env=env)
    assert first.returncode == 0, first.stderr
    creds = tmp_path / "creds.json"
    token = stored_token(creds)
    assert "set up: sandbox as octocat" in first.stdout
    assert "api      GET /user: 200, an object" in first.stdout
    assert "invoke data.repos -p sandbox --out repos.csv" in first.stdout
    assert_clean(first.stdout + first.stderr, token, app.client_secret)
    before, issued = creds.read_bytes(), (len(sandbox.model.tokens), sandbox.model.token_requests)

    again = onboard(sandbox, env=env)  # --mode auto: would open the browser again if it had to
    assert again.returncode == 0, again.stderr
    assert "already set up (nothing to do): sandbox as octocat" in again.stdout
    assert "logging in" not in again.stderr
    assert creds.read_bytes() == before
    assert (len(sandbox.model.tokens), sandbox.model.token_requests) == issued


def test_paste_mode_reads_the_redirect_on_stdin(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    running = Running(sandbox, "--mode", "paste", env=team_env(app))
    url = running.wait_for(r"^\s+(http://\S+/login/oauth/authorize\?\S+)").group(1)
    location = browser_approve(url)
    code, stdout, stderr = running.finish(location + "\n")
    assert code == 0, stderr
    assert "configured sandbox" in stderr and "set up: sandbox as octocat" in stdout
    assert_clean(stdout + stderr, stored_token(tmp_path / "creds.json"))


def test_device_mode_polls_until_the_code_is_approved(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    sandbox.model.device_interval = 0
    running = Running(sandbox, "--mode", "device", env=team_env(app))
    user_code = running.wait_for(r"enter the code: ([A-Z]{4}-[A-Z]{4})").group(1)
    assert sandbox.model.device_decide(user_code, "hubot", approve=True)
    code, stdout, stderr = running.finish()
    assert code == 0, stderr
    assert "set up: sandbox as hubot" in stdout and "scopes   repo" in stdout
    assert_clean(stdout + stderr, stored_token(tmp_path / "creds.json", "hubot"))


def test_a_scope_not_granted_fails_naming_it(sandbox: RunningSandbox, app: App) -> None:
    sandbox.model.device_interval = 0  # the sandbox grants only the scopes GitHub knows
    running = Running(
        sandbox, "--mode", "device", "--scope", "repo read:audit_log", env=team_env(app)
    )
    sandbox.model.device_decide(running.wait_for(r"code: (\S+)").group(1), "octocat", True)
    code, stdout, stderr = running.finish()
    assert code == 1 and not stdout
    assert "lacks the required scope(s) read:audit_log (granted: repo)" in stderr
    assert "\n  next: run `scripts/onboard -p sandbox` again and approve" in stderr
    assert_clean(stderr)


def test_ci_mode_uses_the_environment_token_and_stores_nothing(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    token = logged_in(sandbox, app, tmp_path / "elsewhere.json", scope="repo")["access_token"]
    done = onboard(sandbox, "--mode", "ci", env=team_env(app, SANDBOX_TOKEN=token))
    assert done.returncode == 0, done.stderr
    assert "ready: sandbox as octocat" in done.stdout
    assert "token    gho_****" in done.stdout and " from SANDBOX_TOKEN\n" in done.stdout
    assert token not in (tmp_path / "creds.json").read_text()
    assert_clean(done.stdout + done.stderr, token)


def test_ci_mode_with_a_token_lacking_a_scope_names_it(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    token = logged_in(sandbox, app, tmp_path / "elsewhere.json", scope="repo")["access_token"]
    done = onboard(
        sandbox, "--mode", "ci", "-s", "repo,read:org", env=team_env(app, SANDBOX_TOKEN=token)
    )
    assert done.returncode == 1
    assert "lacks the required scope(s) read:org" in done.stderr
    assert "next: give the token in the environment (SANDBOX_TOKEN) the scopes" in done.stderr
    assert_clean(done.stderr, token)


def test_ci_mode_without_a_token_says_what_to_set(sandbox: RunningSandbox, app: App) -> None:
    done = onboard(sandbox, "--mode", "ci", env=team_env(app))
    assert done.returncode == 1 and not done.stdout
    assert "\nerror: --mode ci never prompts, and has no sandbox token" in done.stderr
    assert "\n  next: set SANDBOX_TOKEN" in done.stderr
    assert "Open this URL" not in done.stderr
    assert_clean(done.stderr, app.client_secret)


def test_a_wrong_flag_is_a_usage_error(sandbox: RunningSandbox) -> None:
    done = onboard(sandbox, "--mode", "carrier-pigeon", env=team_env())
    assert done.returncode == 2
    assert "error: argument --mode: invalid choice: 'carrier-pigeon'" in done.stderr
    assert "next: see `scripts/onboard --help`" in done.stderr


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("onboard", ROOT / "scripts" / "onboard.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("provider", "environ", "way"),
    [
        ("sandbox", {"DISPLAY": ":0"}, "browser"),
        ("sandbox", {"WAYLAND_DISPLAY": "wayland-0"}, "browser"),
        ("sandbox", {"DISPLAY": ":0", "SSH_CONNECTION": "10.0.0.1 5 10.0.0.2 22"}, "paste"),
        ("sandbox", {}, "device"),  # a headless box: no browser, but a device flow
        ("spotify", {}, "paste"),  # no device flow
    ],
)
@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="displays as Linux has them")
def test_auto_picks_the_way_this_machine_allows(
    script: ModuleType, provider: str, environ: dict[str, str], way: str
) -> None:
    assert script.login_way("auto", get_provider(provider), environ) == way
    assert script.login_way("paste", get_provider(provider), {"DISPLAY": ":0"}) == "paste"
