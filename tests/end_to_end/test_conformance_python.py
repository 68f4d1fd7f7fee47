"""The step calls against an authorization server whose protocol logic we did not write.

As test_conformance.py does through invoke, but as a notebook would: the Authlib server made
known by a providers file or by `oauthdance.configure(issuer=...)`, for each client kind
(Basic with a secret full of reserved characters, the form body, a public PKCE client). The
same steps run through the tasks on a second file, and both files must end the same (secrets,
states and times aside), as must each result and what its task prints with `--json`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import oauthdance
from oauthdance.dance.results import Checked, CodeStored, Exchanged, Identity, Refreshed, Revoked
from tests.support.authlib_server import BASIC, POST, PUBLIC, AuthlibServer, ClientSpec
from tests.support.conformance import masked, redirect_for, secrets_of, stored
from tests.support.invoking import run_invoke

NAME = "authlib"
KINDS = {"basic": BASIC, "post": POST, "public": PUBLIC}
USED = {"client_secret_basic": "basic", "client_secret_post": "post", "none": "none"}
REDIRECT = "http://127.0.0.1:8765/callback"


@pytest.fixture
def server() -> Iterator[AuthlibServer]:
    with AuthlibServer() as running:
        yield running
        assert running.errors == []


def task_json(*args: str) -> Any:
    done = run_invoke(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def task(*args: str) -> None:
    done = run_invoke(*args)
    assert done.returncode == 0, done.stderr


def printed_as(result: Any, printed: dict[str, Any]) -> bool:
    """The result shows what its task prints (the fields it prints; masked values aside)."""
    ours = result.to_dict()
    return set(printed) <= set(ours) and masked({k: ours[k] for k in printed}) == masked(printed)


def configure_both(
    server: AuthlibServer,
    client: ClientSpec,
    via: str,
    py: Path,
    tasks: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> list[str]:
    """The same client configured as a Python call in `py` and as `auth.configure` in
    `tasks`; the flags every later task takes."""
    common = ["-p", NAME, "--creds", str(tasks)]
    flags = ["--client-id", client.client_id, "--redirect-uri", REDIRECT]
    flags += ["--client-secret", client.client_secret] if client.client_secret else []
    options: dict[str, Any] = {}
    if via == "providers file":
        providers = py.parent / "providers.yaml"
        providers.write_text(server.providers_yaml(NAME, client.auth_method))
        monkeypatch.setenv("OAUTHDANCE_PROVIDERS", str(providers))
    else:  # discovered: Basic where there is a secret, none without; post must be said
        options["issuer"] = server.url
        flags += ["--issuer", server.url]
        if client is POST:
            options["client_auth"] = client.auth_method
            flags += ["--client-auth", client.auth_method]
    configured = oauthdance.configure(
        NAME,
        creds=py,
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=REDIRECT,
        **options,
    )
    assert configured.auth_method == client.auth_method
    assert (configured.client_secret == "") is (client.client_secret is None)
    assert printed_as(
        configured, {**task_json("auth.configure", *common, *flags), "creds": str(py)}
    )
    return common


def dance_both(
    server: AuthlibServer, client: ClientSpec, py: Path, common: list[str]
) -> tuple[list[Any], Identity]:
    """authorize_url -> (the server approves) -> store_code -> exchange -> verify in `py`,
    and the same tasks on the other file; the results, and the identity."""
    url = oauthdance.authorize_url(NAME, creds=py)
    assert url.startswith(server.url + "/authorize?")
    coded = oauthdance.store_code(redirect_for(url), provider=NAME, creds=py)
    assert isinstance(coded, CodeStored) and coded.state in url
    exchanged = oauthdance.exchange(NAME, creds=py)
    assert isinstance(exchanged, Exchanged) and exchanged.state == coded.state
    assert server.last_client_auth("token") == USED[client.auth_method]
    (me,) = oauthdance.verify(NAME, creds=py)
    assert isinstance(me, Identity) and (me.provider, me.owner) == (NAME, "alice")
    assert me.token == exchanged.token and me.creds == str(py)

    started = task_json("auth.url", *common)
    task("auth.code", *common, "--url", redirect_for(started["url"]))
    assert printed_as(exchanged, task_json("auth.exchange", *common))
    assert printed_as(me, task_json("auth.verify", *common)[0])
    return [coded, exchanged, me], me


def assert_nothing_secret(results: list[Any], *files: Path) -> None:
    secrets = set().union(*(secrets_of(stored(path)) for path in files))
    for result in results:
        shown = repr(result) + json.dumps(result.to_dict()) + getattr(result, "_repr_html_", str)()
        assert not [s for s in secrets if s in shown], shown


@pytest.mark.parametrize("kind", list(KINDS))
def test_exchange_and_verify_store_what_the_tasks_store(
    server: AuthlibServer, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Made known by a providers file."""
    py, tasks = tmp_path / "python.json", tmp_path / "tasks.json"
    common = configure_both(server, KINDS[kind], "providers file", py, tasks, monkeypatch)
    results, _ = dance_both(server, KINDS[kind], py, common)
    assert masked(stored(py)) == masked(stored(tasks))
    token = stored(py)[NAME]["tokens"]["alice"]
    assert token["refresh_token"] and token["id_token_claims"]["sub"]
    assert_nothing_secret(results, py, tasks)


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_discovered_client_through_its_whole_life(
    server: AuthlibServer, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Made known by `configure(issuer=...)`: the endpoints (introspection and revocation
    too) from the discovery document; check, refresh and revoke as the tasks do."""
    client = KINDS[kind]
    py, tasks = tmp_path / "python.json", tmp_path / "tasks.json"
    common = configure_both(server, client, "--issuer", py, tasks, monkeypatch)
    results, me = dance_both(server, client, py, common)
    assert masked(stored(py)) == masked(stored(tasks))
    first = stored(py)[NAME]["tokens"]["alice"]

    checked = oauthdance.check(NAME, creds=py)
    assert isinstance(checked, Checked) and checked and checked.owner == "alice"
    assert server.last_client_auth("introspection") == USED[client.auth_method]
    assert printed_as(checked, task_json("auth.check", *common))
    refreshed = oauthdance.refresh(NAME, creds=py)
    assert isinstance(refreshed, Refreshed) and refreshed.token != me.token
    assert stored(py)[NAME]["tokens"]["alice"]["refresh_token"] != first["refresh_token"]
    assert printed_as(refreshed, task_json("auth.refresh", *common))
    assert masked(stored(py)) == masked(stored(tasks))
    results += [checked, refreshed]
    assert_nothing_secret(results, py, tasks)

    revoked = oauthdance.revoke(NAME, creds=py)
    assert revoked == Revoked(NAME, "alice", already_invalid=False)
    task("auth.revoke", *common)
    assert masked(stored(py)) == masked(stored(tasks))
    assert "alice" not in (stored(py)[NAME].get("tokens") or {})
