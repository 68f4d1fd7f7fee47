"""The `oauthdance` command (`[project.scripts]`, `python -m oauthdance`): the tasks from any
folder, without a checkout's tasks.py. Tests run the module forms; an installed entry point
is the developer's business, not something a test may count on."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest

import oauthdance
import oauthdance.cli
from oauthdance.sandbox import App, RunningSandbox
from tests.support.invoking import ROOT, fresh_namespace
from tests.support.lifecycle import logged_in


def pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in Python 3.11 and later")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def run_module(
    *args: str, cwd: Path, python: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """`python [PYTHON] -m ARGS` from `cwd`, with this checkout's package importable (as if
    installed)."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, *python, "-m", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        env={**os.environ, "PYTHONPATH": path},
    )


def test_the_entry_point_is_declared_and_resolves() -> None:
    project = pyproject()["project"]
    module, _, function = project["scripts"]["oauthdance"].partition(":")
    assert (module, function) == ("oauthdance.cli", "main")
    assert callable(getattr(import_module(module), function))
    assert project["version"] == oauthdance.__version__  # what `oauthdance --version` says


def test_version_and_a_light_start_up_from_outside_the_checkout(tmp_path: Path) -> None:
    done = run_module("oauthdance.cli", "--version", cwd=tmp_path, python=("-X", "importtime"))
    assert done.returncode == 0 and done.stdout == f"oauthdance {oauthdance.__version__}\n"
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "oauthdance.tasks" in imported  # the namespace is there; what it defers is not
    assert not imported & {"requests", "urllib3", "oauthdance.sandbox", "joserfc"}


def test_tasks_run_from_any_folder(sandbox: RunningSandbox, app: App, tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    logged_in(sandbox, app, folder / "creds.json")
    done = run_module("oauthdance.cli", "auth.status", "-p", "sandbox", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert "octocat" in done.stdout and "Traceback" not in done.stderr


def test_python_m_oauthdance_is_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(oauthdance.cli, "namespace", fresh_namespace)
    monkeypatch.setattr(sys, "argv", ["oauthdance", "--help"])
    with pytest.raises(SystemExit) as done:
        runpy.run_module("oauthdance", run_name="__main__")
    assert done.value.code in (None, 0)
    out = capsys.readouterr().out
    assert out.startswith("Usage: oauthdance [--core-opts] <subcommand>")
    assert "auth.login" in out and "sandbox.serve" in out
