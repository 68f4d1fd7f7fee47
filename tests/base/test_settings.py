"""Settings resolve in one place, in one order, for tasks and the Python API alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import oauthdance
from oauthdance.base import settings
from oauthdance.base.errors import EXIT_CODES
from oauthdance.sandbox import App, RunningSandbox
from tests.support.invoking import run_invoke
from tests.support.lifecycle import logged_in

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("setting", settings.SETTINGS, ids=lambda s: s.name)
def test_each_setting_takes_the_first_of_flag_config_environment_dotenv_default(
    setting: settings.Setting, tmp_path: Path
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"{setting.variable}=from-dotenv\n")
    environ = {setting.variable: "from-env"}
    layers = [
        ({setting.name: "from-flag"}, {setting.name: "from-config"}, environ, "from-flag"),
        ({}, {setting.name: "from-config"}, environ, "from-config"),
        ({}, {}, environ, "from-env"),
        ({}, {}, {}, "from-dotenv"),
    ]
    for flags, config, env, expected in layers:
        resolved = settings.resolve(flags, config, env)
        assert str(getattr(resolved, setting.name)).endswith(expected)
    dotenv.unlink()
    assert getattr(settings.resolve({}, {}, {}), setting.name) in (
        setting.default,
        Path(setting.default or "."),
        None,
    )


def test_the_readme_precedence_table_is_made_from_settings() -> None:
    assert settings.precedence_table() in (ROOT / "README.md").read_text()


def test_the_readme_lists_every_exit_code() -> None:
    readme = (ROOT / "README.md").read_text()
    for code, meaning in EXIT_CODES.items():
        assert f"| {code} | {meaning} |" in readme


def test_dotenv_is_read_once_per_file_version(tmp_path: Path, monkeypatch) -> None:
    import dotenv

    calls = []
    real = dotenv.dotenv_values
    monkeypatch.setattr(dotenv, "dotenv_values", lambda path: calls.append(path) or real(path))
    (tmp_path / ".env").write_text("OAUTHDANCE_PROVIDER=gitlab\n")
    for _ in range(5):
        assert settings.resolve({}, {}, {}).provider == "gitlab"
    assert len(calls) == 1


def test_the_python_api_honours_oauthdance_provider(
    sandbox: RunningSandbox, app: App, tmp_path: Path, monkeypatch
) -> None:
    token = logged_in(sandbox, app, tmp_path / "creds.json")
    monkeypatch.setenv("OAUTHDANCE_PROVIDER", "sandbox")
    monkeypatch.setenv("OAUTHDANCE_CREDS", str(tmp_path / "creds.json"))
    assert oauthdance.token() == token["access_token"]
    assert oauthdance.session().get("/user").json()["login"] == "octocat"


def test_a_providers_file_in_invoke_config_serves_data_tasks_too(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    """It used to work for auth.* only: data.fetch then said `unknown provider`."""
    logged_in(sandbox, app, tmp_path / "creds.json")
    mine = tmp_path / "providers.yaml"
    mine.write_text("my-sandbox:\n  extends: sandbox\n")
    data = json.loads((tmp_path / "creds.json").read_text())
    data["my-sandbox"] = data["sandbox"]
    (tmp_path / "creds.json").write_text(json.dumps(data))
    (tmp_path / "invoke.yaml").write_text(
        f"oauthdance:\n  providers_file: {mine}\n  provider: my-sandbox\n"
    )
    for task in (["auth.status"], ["data.user"], ["data.fetch", "--path", "/user"]):
        done = run_invoke("-f", "invoke.yaml", *task, "--creds", str(tmp_path / "creds.json"))
        assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["login"] == "octocat"
