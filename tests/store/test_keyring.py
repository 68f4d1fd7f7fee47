"""`--creds keyring:FILE`: the secrets in the OS keyring, nothing secret left in the file.

The keyring here is keyrings.alt's plaintext file backend in the test's folder (no desktop
keyring on a CI machine), set with `keyring.set_keyring` for this test only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

import oauthdance
from oauthdance.base.errors import StoreError
from oauthdance.dance.demo import sandbox_login
from oauthdance.sandbox import App, RunningSandbox
from oauthdance.store import open_store
from oauthdance.store.oskeyring import MARKER, KeyringFile
from tests.support.invoking import run_invoke


@pytest.fixture
def os_keyring(tmp_path: Path) -> Iterator[PlaintextKeyring]:
    previous = keyring.get_keyring()
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_no_secret_stays_in_the_file(
    sandbox: RunningSandbox, app: App, tmp_path: Path, os_keyring: PlaintextKeyring
) -> None:
    store = open_store("keyring:creds.json")
    assert isinstance(store, KeyringFile)
    token = dict(sandbox_login(store, sandbox, app, scope="repo offline_access").token)
    text = (tmp_path / "creds.json").read_text()
    for secret in (app.client_secret, token["access_token"], token["refresh_token"]):
        assert secret not in text
    on_disk = json.loads(text)["sandbox"]
    assert on_disk["client_secret"] == MARKER
    assert on_disk["tokens"]["octocat"]["access_token"] == MARKER
    service = f"oauthdance:{(tmp_path / 'creds.json').resolve()}"
    assert (
        os_keyring.get_password(service, "sandbox/tokens/octocat/access_token")
        == (token["access_token"])
    )
    assert oauthdance.token("sandbox", creds="keyring:creds.json") == token["access_token"]

    done = run_invoke("auth.refresh", "-p", "sandbox", "--creds", "keyring:creds.json")
    assert done.returncode == 0, done.stderr
    fresh = store.record("sandbox")["tokens"]["octocat"]
    assert fresh["access_token"] != token["access_token"]
    assert fresh["access_token"] not in (tmp_path / "creds.json").read_text()

    done = run_invoke("auth.logout", "-p", "sandbox", "--creds", "keyring:creds.json")
    assert done.returncode == 0, done.stderr
    assert os_keyring.get_password(service, "sandbox/tokens/octocat/access_token") is None
    assert os_keyring.get_password(service, "sandbox/client_secret") == app.client_secret


def test_a_secret_missing_from_the_keyring_is_a_clear_error(
    tmp_path: Path, os_keyring: PlaintextKeyring
) -> None:
    (tmp_path / "creds.json").write_text(json.dumps({"p": {"client_secret": MARKER}}))
    with pytest.raises(StoreError, match="no secret for p/client_secret") as caught:
        open_store("keyring:creds.json").record("p")
    assert "next:" in str(caught.value)


def test_copy_from_a_file_into_the_keyring_and_status(
    sandbox: RunningSandbox, app: App, tmp_path: Path, os_keyring: PlaintextKeyring
) -> None:
    token = dict(sandbox_login(open_store("plain.json"), sandbox, app).token)
    done = run_invoke("store.copy", "--creds", "plain.json", "--to", "keyring:kept.json")
    assert done.returncode == 0, done.stderr
    assert token["access_token"] not in (tmp_path / "kept.json").read_text()
    assert open_store("keyring:kept.json").read() == open_store("plain.json").read()
    done = run_invoke("store.status", "--creds", "keyring:kept.json")
    assert "backend: keyring" in done.stdout and "PlaintextKeyring" in done.stdout
    assert "mode: 0600" in done.stdout
