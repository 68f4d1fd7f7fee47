"""The notebook side: the compat helpers on notebook-style files, and the example script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import oauthdance
from oauthdance.compat import buildURL, random_string, read_creds, update_creds
from oauthdance.sandbox import App, RunningSandbox
from tests.support.invoking import run_script
from tests.support.lifecycle import logged_in

NOTEBOOK_CREDS = {
    "github": {
        "client_id": "Iv1.8a61f9b3a7aba766",
        "client_secret": "s3cret",
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "scope": "user repo",
        "state": "Zq3",
        "code": "6bdaad26",
        "token": "gho_notebooktoken",
    },
    "gitlab": {"client_id": "gl"},
}


def test_read_creds_gives_the_flat_view_of_a_notebook_file(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    path.write_text(json.dumps(NOTEBOOK_CREDS))
    flat = read_creds("github", str(path))
    for key, value in NOTEBOOK_CREDS["github"].items():
        assert flat[key] == value


def test_update_creds_files_flat_keys_in_the_structured_record(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    path.write_text(json.dumps({"gitlab": {"client_id": "gl"}}))
    update_creds(
        "github",
        {
            "client_id": "abc",
            "client_secret": "s",
            "scope": "repo",
            "redirect_uri": "http://127.0.0.1/cb",
        },
        str(path),
    )
    update_creds("github", {"state": "st4te"}, str(path))
    update_creds("github", {"code": "c0de"}, str(path))
    stored = json.loads(path.read_text())
    assert stored["gitlab"] == {"client_id": "gl"}
    github = stored["github"]
    assert github["client_id"] == "abc" and "state" not in github and "code" not in github
    assert github["pending"]["st4te"]["code"] == "c0de"
    update_creds("github", {"token": "gho_fromnotebook"}, str(path))
    assert read_creds("github", str(path))["token"] == "gho_fromnotebook"
    assert path.stat().st_mode & 0o777 == 0o600


def test_small_helpers() -> None:
    assert len(random_string()) == 32 and random_string() != random_string()
    assert len(random_string(10)) == 10
    assert buildURL("user/repos") == "https://api.github.com/user/repos"
    assert buildURL("/user", "https://ghe.example.com/api/v3/") == (
        "https://ghe.example.com/api/v3/user"
    )


def test_credentials_class(sandbox: RunningSandbox, app: App, tmp_path: Path) -> None:
    path = tmp_path / "creds.yaml"
    token = logged_in(sandbox, app, path, scope="repo")
    creds = oauthdance.Credentials(path)
    assert creds.providers() == ["sandbox"] and creds.owners("sandbox") == ["octocat"]
    assert creds.default_owner("sandbox") == "octocat"
    assert creds.token("sandbox") == token["access_token"]
    assert creds.session("sandbox").get("/user").json()["login"] == "octocat"


def test_notebook_example_script_runs(sandbox: RunningSandbox, app: App, tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    logged_in(sandbox, app, path, scope="repo")
    done = run_script("notebook_example.py", path)
    assert done.returncode == 0, done.stderr
    assert "octocat has 42 repositories on the first page" in done.stdout
    assert "first: octocat/repo-00001" in done.stdout


def test_import_stays_light() -> None:
    code = (
        "import sys, oauthdance; print(sorted(m for m in ('requests', 'oauthlib') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]"


def test_the_example_scripts_fail_clearly_when_nothing_is_set_up(tmp_path: Path) -> None:
    for name in ("notebook_example.py", "fetch_repos.py"):
        done = run_script(name, tmp_path / "creds.json")
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert "error:" in done.stderr and "next:" in done.stderr
