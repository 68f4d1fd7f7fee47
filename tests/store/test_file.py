"""The credentials file: formats, the notebooks' flat form, permissions, concurrency."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
import yaml

from oauthdance.base.errors import CredentialsFileError
from oauthdance.store import CredentialsFile
from tests.support.process_targets import write_rounds

SAMPLE = {
    "github": {
        "client_id": "Iv1.8a61f9b3a7aba766",
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "scope": "user repo read:org",
        "pending": {"Zq3": {"code_verifier": "v" * 43, "scope": "repo", "created_at": "x"}},
        "default_user": "octocat",
        "tokens": {"octocat": {"access_token": "gho_abc", "scope": ["repo", "user"]}},
    },
    "gitlab": {"client_id": "gl"},
}


@pytest.mark.parametrize("name", ["creds.json", "creds.yaml", "creds.yml"])
def test_round_trip_keeps_the_structure(tmp_path: Path, name: str) -> None:
    creds = CredentialsFile(tmp_path / name)
    with creds.update() as data:
        data.update(json.loads(json.dumps(SAMPLE)))
    assert creds.read() == SAMPLE
    text = creds.path.read_text()
    parsed = yaml.safe_load(text) if name.endswith(("yaml", "yml")) else json.loads(text)
    assert parsed == SAMPLE


def test_file_is_private_and_replaced_atomically(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    path.write_text("{}")
    path.chmod(0o644)
    creds = CredentialsFile(path)
    inode = path.stat().st_ino
    with creds.update() as data:
        data["github"] = {"client_id": "x"}
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.stat().st_ino != inode  # a new file was renamed over the old one
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_failed_update_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    path.write_text(json.dumps(SAMPLE))
    before = path.read_bytes()
    with pytest.raises(RuntimeError), CredentialsFile(path).update() as data:
        data["github"]["client_id"] = "changed"
        raise RuntimeError("a step failed half-way")
    assert path.read_bytes() == before


def test_unchanged_update_does_not_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    path.write_text(json.dumps(SAMPLE))
    before = path.read_bytes()
    with CredentialsFile(path).update():
        pass
    assert path.read_bytes() == before


def test_notebook_flat_form_is_read_and_upgraded_on_write(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    flat = {
        "github": {
            "client_id": "abc",
            "client_secret": "s3cret",
            "redirect_uri": "http://127.0.0.1:8765/callback",
            "state": "st4te",
            "scope": "user repo",
            "code": "c0de",
            "token": "gho_notebook",
        }
    }
    path.write_text(json.dumps(flat))
    creds = CredentialsFile(path)
    record = creds.record("github")
    assert record["client_id"] == "abc" and record["client_secret"] == "s3cret"
    assert record["pending"]["st4te"] == {
        "scope": "user repo",
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "code": "c0de",
    }
    assert record["unverified"]["notebook"] == {"access_token": "gho_notebook"}
    assert json.loads(path.read_text()) == flat  # reading alone changes nothing
    with creds.update() as data:
        data["github"]["scope"] = "user repo"
    stored = json.loads(path.read_text())["github"]
    assert "state" not in stored and "token" not in stored and "pending" in stored


@pytest.mark.parametrize(
    "text,where",
    [
        ('{"github": {"client_id": "x",}}', "line 1, column 30"),
        ('{\n "github": [1, 2\n}', "line 3"),
    ],
)
def test_corrupt_json_names_file_and_line(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "creds.json"
    path.write_text(text)
    with pytest.raises(CredentialsFileError) as info:
        CredentialsFile(path).read()
    assert str(path) in str(info.value) and where in str(info.value)
    with pytest.raises(CredentialsFileError), CredentialsFile(path).update() as data:
        data["x"] = {}
    assert path.read_text() == text


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "creds.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(CredentialsFileError, match="must map each provider"):
        CredentialsFile(path).read()


@pytest.mark.parametrize("name", ["creds.json", "creds.yaml"])
def test_concurrent_writers_lose_nothing(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    workers, rounds = 8, 25
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=write_rounds, args=(str(path), w, rounds)) for w in range(workers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    tokens = CredentialsFile(path).record("github")["tokens"]
    assert tokens == {
        f"owner{w}": {"access_token": f"gho_{w}_{rounds - 1}", "round": rounds - 1}
        for w in range(workers)
    }


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_folder_where_nothing_can_be_written_is_a_clear_error() -> None:
    """/proc refuses new files even to root, as a read-only share would."""
    with (
        pytest.raises(CredentialsFileError, match="cannot write"),
        CredentialsFile("/proc/creds.json").update() as data,
    ):
        data["github"] = {}


def test_a_folder_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with (
        pytest.raises(CredentialsFileError, match="cannot write"),
        CredentialsFile(blocker / "creds.json").update() as data,
    ):
        data["github"] = {}
