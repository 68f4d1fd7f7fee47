"""The test harness itself: nothing leaks in from the outer environment, and `run_invoke`
reports what a real `invoke` process would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from oauthdance.dance import flow
from oauthdance.protocol.providers import load_providers
from tests.support.invoking import run_invoke, run_invoke_process

# Set in the outer environment for this module's tests; the autouse `isolated` fixture
# (function-scoped, so it runs after this module-scoped one) must take every one away.
NOTABLE = {
    "GITLAB_CLIENT_ID": "leaked-gitlab-id",
    "GITHUB_TOKEN": "gho_leaked",
    "GH_TOKEN": "gho_leaked",
    "OAUTHDANCE_PROVIDER": "gitlab",
    "OAUTHDANCE_CREDS": "leaked.json",
    "INVOKE_OAUTHDANCE_CREDS": "leaked.json",
    "INVOKE_RUNTIME_CONFIG": "/nonexistent/invoke.yaml",
    "SSH_CONNECTION": "10.0.0.1 5 10.0.0.2 22",
    "DISPLAY": ":0",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "all_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "example.com",
    "REQUESTS_CA_BUNDLE": "/nonexistent/ca.pem",
}


def every_providers_variables() -> dict[str, str]:
    """<PREFIX>_CLIENT_ID / _CLIENT_SECRET and the token variables of every preset."""
    leaked: dict[str, str] = {}
    for provider in load_providers().values():
        for suffix in ("CLIENT_ID", "CLIENT_SECRET"):
            leaked[f"{provider.env_prefix}_{suffix}"] = f"leaked-{suffix.lower()}"
        leaked.update(dict.fromkeys(provider.token_env, "leaked-token"))
    return leaked


@pytest.fixture(scope="module")
def outer_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The developer's shell: provider settings, proxies, an SSH session, a ~/.invoke.yaml."""
    home = tmp_path_factory.mktemp("outer-home")
    (home / ".invoke.yaml").write_text("oauthdance:\n  creds: leaked.json\n  provider: gitlab\n")
    leaked = {**every_providers_variables(), **NOTABLE, "HOME": str(home)}
    with pytest.MonkeyPatch.context() as outer:
        for name, value in leaked.items():
            outer.setenv(name, value)
        yield leaked


def test_the_outer_environment_does_not_leak_in(
    outer_environment: dict[str, str], tmp_path: Path
) -> None:
    import os

    assert not {name for name in outer_environment if name != "HOME"} & set(os.environ)
    assert Path.home() == tmp_path  # so the outer ~/.invoke.yaml is not read
    done = run_invoke("auth.configure", "--client-id", "mine", "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["provider"] == "github" and shown["client_id"] == "mine"
    assert shown["creds"] == "creds.json" and not (tmp_path / "leaked.json").exists()
    status = run_invoke("auth.status", "--json")
    assert [row["provider"] for row in json.loads(status.stdout)] == ["github"]
    assert "leaked" not in status.stdout + status.stderr


def test_run_invoke_reports_what_the_real_process_reports(tmp_path: Path) -> None:
    """Exit status, stdout and stderr of the same commands, in this process and in one;
    in this process the second time too (a first run can leave state behind)."""
    for args in (["--help", "auth.url"], ["auth.token", "-p", "sandbox"]):
        run_invoke(*args)
        inside, outside = run_invoke(*args), run_invoke_process(*args)
        assert (inside.returncode, inside.stdout, inside.stderr) == (
            outside.returncode,
            outside.stdout,
            outside.stderr,
        )
    assert outside.returncode == 1 and "auth.login" in outside.stderr


def test_an_unexpected_exception_is_a_traceback_and_status_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What "Traceback" not in stderr guards against elsewhere does show up here."""

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug, not an error the user can fix")

    monkeypatch.setattr(flow, "configure", broken)
    done = run_invoke("auth.configure", "--client-id", "x")
    assert done.returncode == 1
    assert done.stderr.startswith("Traceback (most recent call last):")
    assert done.stderr.endswith("RuntimeError: a bug, not an error the user can fix\n")


@pytest.mark.parametrize("code,status,stderr", [(None, 0, ""), (3, 3, ""), ("bye", 1, "bye\n")])
def test_sys_exit_becomes_the_exit_status(
    monkeypatch: pytest.MonkeyPatch, code: object, status: int, stderr: str
) -> None:
    def leave(*args: object, **kwargs: object) -> None:
        raise SystemExit(code)

    monkeypatch.setattr(flow, "configure", leave)
    done = run_invoke("auth.configure", "--client-id", "x")
    assert (done.returncode, done.stderr) == (status, stderr)


def test_env_applies_for_the_call_only(tmp_path: Path) -> None:
    import os

    done = run_invoke("auth.configure", "--client-id", "x", env={"OAUTHDANCE_CREDS": "env.json"})
    assert done.returncode == 0 and (tmp_path / "env.json").exists()
    assert "OAUTHDANCE_CREDS" not in os.environ


def test_stdin_and_stderr_reach_what_binds_them_at_import(tmp_path: Path) -> None:
    """`auth.login` reads and prompts through streams bound when its module was imported."""
    assert run_invoke("auth.configure", "--client-id", "x").returncode == 0
    done = run_invoke("auth.login", "--paste", input="\n")
    assert done.returncode != 0 and "nothing was pasted" in done.stderr
    assert "https://github.com/login/oauth/authorize?" in done.stderr
    assert "paste the address the browser shows" in done.stderr
