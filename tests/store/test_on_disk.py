"""What oauthdance leaves on disk: private, swept, never written through a planted link."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

import oauthdance
from oauthdance.base.errors import CredentialsFileError
from oauthdance.sandbox import App, RunningSandbox
from oauthdance.store import CredentialsFile
from tests.support.invoking import run_invoke
from tests.support.lifecycle import logged_in

ROOT = Path(__file__).resolve().parents[2]


def test_a_planted_lock_link_is_never_followed(tmp_path: Path) -> None:
    target = tmp_path / "victim-file"
    path = tmp_path / "creds.json"
    (tmp_path / ".creds.json.lock").symlink_to(target)
    with (
        pytest.raises(CredentialsFileError, match="symbolic link"),
        CredentialsFile(path).update() as data,
    ):
        data["github"] = {"client_id": "x"}
    assert not target.exists() and not path.exists()


def test_a_credentials_file_others_can_read_is_warned_about_and_made_private(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "creds.json"
    path.write_text(json.dumps({"github": {"client_id": "x"}}))
    path.chmod(0o644)
    creds = CredentialsFile(path)
    assert creds.record("github") == {"client_id": "x"}
    assert "readable by others (mode 0644)" in capsys.readouterr().err
    with creds.update() as data:
        data["github"]["scope"] = "repo"
    assert path.stat().st_mode & 0o777 == 0o600


def test_stale_temporaries_of_a_killed_writer_are_swept(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    stale = tmp_path / ".creds.json.dead1234.tmp"
    fresh = tmp_path / ".creds.json.live5678.tmp"  # a writer in another process, right now
    for leftover in (stale, fresh):
        leftover.write_text('{"secret": "left behind"}')
    old = time.time() - 600
    os.utime(stale, (old, old))
    with CredentialsFile(path).update() as data:
        data["github"] = {"client_id": "x"}
    assert not stale.exists() and fresh.exists()


def test_the_etag_cache_is_private_whatever_the_umask(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    logged_in(sandbox, app, tmp_path / "creds.json")
    previous = os.umask(0)
    try:
        list(oauthdance.fetch("/user/repos", provider="sandbox", creds=tmp_path / "creds.json"))
    finally:
        os.umask(previous)
    cache = tmp_path / ".oauthdance-cache"
    folders = [cache, *[p for p in cache.rglob("*") if p.is_dir()]]
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert files and all(p.stat().st_mode & 0o777 == 0o700 for p in folders)
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in files)


@pytest.mark.parametrize(
    "name",
    ["creds.json", "creds.yaml", "creds.yml", ".creds.json.lock", ".creds.json.ab12.tmp",
     ".oauthdance-cache/ab/x.json", ".env"],
)  # fmt: skip
def test_gitignore_covers_every_file_the_tool_writes(name: str) -> None:
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", name], cwd=ROOT, capture_output=True
    )
    assert done.returncode == 0, f"{name} is not ignored"


def test_an_unwritable_cache_folder_costs_the_cache_not_the_fetch(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    logged_in(sandbox, app, tmp_path / "creds.json")
    (tmp_path / ".oauthdance-cache").write_text("a file where the cache folder goes")
    done = run_invoke("data.repos", "-p", "sandbox", "--creds", str(tmp_path / "creds.json"))
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert "fetching without the cache" in done.stderr and json.loads(done.stdout)
