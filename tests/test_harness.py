"""The test harness itself: `run_invoke` reports what a real `invoke` process would."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_invoke, run_invoke_process

from oauthdance import flow


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
