"""The Vault store against a real OpenBao dev server: the dance, refresh, revoke, data, the
Python API, check-and-set, and every way the server can say no."""

from __future__ import annotations

import contextlib
import json
import threading
from urllib.parse import urlsplit

import pytest

import oauthdance
from oauthdance.base.errors import StoreConflict, UsageError
from oauthdance.dance.demo import sandbox_login
from oauthdance.keep.lifecycle import find_token
from oauthdance.protocol.providers import get_provider
from oauthdance.sandbox import App, RunningSandbox
from oauthdance.store import open_store, vault
from oauthdance.store.vault import VaultStore, parse_vault_url
from tests.support.hostile_server import Answer, HostileServer
from tests.support.invoking import run_invoke
from tests.support.openbao import Bao, free_port, unavailable
from tests.support.sandbox import browser_approve, configure_args

P = ["-p", "sandbox", "--creds"]


def ok(*args: str) -> str:
    done = run_invoke(*args)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


def failed(code: int, *args: str) -> str:
    done = run_invoke(*args)
    assert done.returncode == code, f"{args}: {done.returncode} {done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done.stderr


def secret_names(bao: Bao, creds: str, provider: str = "sandbox") -> set[str]:
    """What is stored under the provider's path, as Vault lists it."""
    address = parse_vault_url(creds)
    kv = bao.client().secrets.kv.v2
    top = kv.list_secrets(f"{address.prefix}/{provider}", mount_point="secret")["data"]["keys"]
    names = {k for k in top if not k.endswith("/")}
    if "tokens/" in top:
        owners = kv.list_secrets(f"{address.prefix}/{provider}/tokens", mount_point="secret")
        names |= {f"tokens/{o}" for o in owners["data"]["keys"]}
    return names


# -- addresses ---------------------------------------------------------------------------


def test_addresses_speak_https_unless_loopback() -> None:
    assert parse_vault_url("vault://vault.example.com/secret/team").url == (
        "https://vault.example.com:8200"
    )
    assert parse_vault_url("openbao://bao:9000/kv").prefix == "oauthdance"
    local = parse_vault_url("vault+http://127.0.0.1:8200/secret/a/b")
    assert (local.url, local.mount, local.prefix) == ("http://127.0.0.1:8200", "secret", "a/b")
    with pytest.raises(UsageError, match="plain http"):
        parse_vault_url("vault+http://vault.example.com/secret/team")
    with pytest.raises(UsageError, match="never put a token"):
        parse_vault_url("vault://s.token@vault.example.com/secret")
    with pytest.raises(UsageError, match="not a Vault address"):
        parse_vault_url("vault://vault.example.com")
    with pytest.raises(UsageError, match="not a store oauthdance knows"):
        open_store("s3://bucket/creds.json")


def test_odd_owner_names_are_one_path_segment_each() -> None:
    for name in ("octocat", "me@example.com", "a/b", "..", "~x", "ünï"):
        part = vault.segment(name)
        assert "/" not in part and part not in (".", "..")
        assert vault.unsegment(part) == name


# -- the dance, and a token's life --------------------------------------------------------


def test_the_dance_step_by_step_with_vault(
    sandbox: RunningSandbox, app: App, vault_creds: str, bao: Bao
) -> None:
    ok(*configure_args(sandbox, app, vault_creds, scope="repo read:org"))  # type: ignore[arg-type]
    started = json.loads(ok("auth.url", *P, vault_creds, "--json"))
    assert "flow" in secret_names(bao, vault_creds)  # the pending authorization
    ok("auth.code", *P, vault_creds, "--url", browser_approve(started["url"]))
    ok("auth.exchange", *P, vault_creds)
    verified = ok("auth.verify", *P, vault_creds)
    assert "login octocat" in verified

    record = VaultStore(vault_creds).record("sandbox")
    token = record["tokens"]["octocat"]
    assert record["default_user"] == "octocat" and "pending" not in record
    assert secret_names(bao, vault_creds) == {"app", "flow", "tokens/octocat"}
    assert ok("auth.token", *P, vault_creds).strip() == token["access_token"]
    shown = ok("auth.status", "--creds", vault_creds)
    assert "octocat" in shown and token["access_token"] not in shown
    assert app.client_secret not in shown and bao.token not in shown


def test_login_refresh_data_and_revoke_with_vault(
    sandbox: RunningSandbox, app: App, vault_creds: str
) -> None:
    store = open_store(vault_creds)
    first = dict(sandbox_login(store, sandbox, app, scope="repo offline_access").token)
    assert first["refresh_token"]
    ok("auth.refresh", *P, vault_creds)
    refreshed = store.record("sandbox")["tokens"]["octocat"]
    assert refreshed["access_token"] != first["access_token"]
    assert "refresh_claim" not in refreshed and "refresh_started_at" not in refreshed
    assert sandbox.model.refresh_requests == 1

    repos = ok("data.repos", *P, vault_creds, "--format", "json")
    assert json.loads(repos)

    ok("auth.revoke", *P, vault_creds)
    assert "tokens" not in store.record("sandbox")
    assert sandbox.model.token_for(refreshed["access_token"]) is None


def test_the_python_api_takes_a_vault_address(
    sandbox: RunningSandbox, app: App, vault_creds: str
) -> None:
    sandbox_login(open_store(vault_creds), sandbox, app)
    token = oauthdance.token("sandbox", creds=vault_creds)
    creds = oauthdance.Credentials(vault_creds)
    assert creds.owners("sandbox") == ["octocat"] and creds.kind == "vault"
    assert creds.token("sandbox") == token
    assert creds.session("sandbox").get("/user").json()["login"] == "octocat"
    assert find_token(creds, get_provider("sandbox")).source == "vault"
    status = json.loads(ok("auth.status", *P, vault_creds, "--json"))
    assert [row["source"] for row in status if row.get("owner")] == ["vault"]


def test_copy_to_vault_and_back(
    sandbox: RunningSandbox, app: App, vault_creds: str, tmp_path
) -> None:
    path = tmp_path / "creds.json"
    token = dict(sandbox_login(open_store(path), sandbox, app).token)
    shown = ok("store.copy", "--creds", str(path), "--to", vault_creds)
    assert "copied sandbox (1 token)" in shown and token["access_token"] not in shown
    assert open_store(vault_creds).read() == open_store(path).read()
    back = tmp_path / "back.yaml"
    ok("store.copy", "--from", vault_creds, "--to", str(back))
    assert open_store(back).read() == open_store(path).read()
    status = ok("store.status", "--creds", vault_creds)
    assert "backend: vault" in status and "tokens/octocat" in status
    assert token["access_token"] not in status


# -- check-and-set -----------------------------------------------------------------------


def test_a_lost_check_and_set_reruns_the_change_on_fresh_data(vault_creds: str) -> None:
    mine, theirs = VaultStore(vault_creds), VaultStore(vault_creds)
    mine.change("p", lambda rec: rec.update(client_id="one", scope="a"))
    runs = []

    def add_user(rec: dict) -> None:
        runs.append(dict(rec))
        if len(runs) == 1:  # another machine writes between our read and our write
            theirs.change("p", lambda r: r.update(scope="b"))
        rec["default_user"] = "me"

    mine.change("p", add_user)
    assert [r.get("scope") for r in runs] == ["a", "b"]  # re-run on what they wrote
    assert mine.record("p") == {"client_id": "one", "scope": "b", "default_user": "me"}


def test_a_change_that_keeps_losing_is_a_clear_error(vault_creds: str, monkeypatch) -> None:
    monkeypatch.setattr(vault, "ATTEMPTS", 3)
    mine, theirs = VaultStore(vault_creds), VaultStore(vault_creds)
    rounds = iter(range(100))

    def always_overtaken(rec: dict) -> None:
        theirs.change("p", lambda r: r.update(round=next(rounds)))
        rec["mine"] = True

    with pytest.raises(StoreConflict, match="3 attempts lost the check-and-set") as caught:
        mine.change("p", always_overtaken)
    assert "next:" in str(caught.value)
    assert "mine" not in mine.record("p")  # nothing of ours half-written


def test_two_writers_at_once_lose_nothing(vault_creds: str) -> None:
    def write(worker: int) -> None:
        store = VaultStore(vault_creds)
        for i in range(5):
            store.change(
                "p", lambda rec, i=i: rec.setdefault("pending", {}).update({f"{worker}-{i}": {}})
            )

    threads = [threading.Thread(target=write, args=(w,)) for w in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(VaultStore(vault_creds).record("p")["pending"]) == 10


# -- every way the server can say no -----------------------------------------------------


def test_unreachable_vault_is_exit_4_with_the_address(monkeypatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "any")
    creds = f"vault+http://127.0.0.1:{free_port()}/secret/team"
    err = failed(4, "auth.token", *P, creds)
    assert "cannot reach Vault at http://127.0.0.1" in err and "next:" in err


def test_a_missing_mount_names_it_and_the_fix(bao: Bao) -> None:
    err = failed(1, "auth.token", *P, bao.creds("nope").replace("/secret/", "/nomount/"))
    assert "no KV secrets engine at nomount/" in err
    assert "bao secrets enable -path=nomount kv-v2" in err


def test_no_vault_token_says_how_to_get_one(bao: Bao, monkeypatch) -> None:
    monkeypatch.delenv("VAULT_TOKEN")
    err = failed(1, "auth.token", *P, bao.creds("x"))
    assert "no Vault token" in err and "VAULT_TOKEN" in err and "bao login" in err


def test_permission_denied_names_the_path_and_changes_nothing(
    sandbox: RunningSandbox, app: App, bao: Bao, vault_creds: str, monkeypatch
) -> None:
    sandbox_login(open_store(vault_creds), sandbox, app)
    before = open_store(vault_creds).read()
    prefix = parse_vault_url(vault_creds).prefix
    client = bao.client()
    client.sys.create_or_update_policy(
        f"read-{prefix}",
        f'path "secret/data/{prefix}/*" {{ capabilities = ["read"] }}\n'
        f'path "secret/metadata/{prefix}/*" {{ capabilities = ["list"] }}\n',
    )
    reader = client.auth.token.create(policies=[f"read-{prefix}"], ttl="5m")["auth"]["client_token"]
    monkeypatch.setenv("VAULT_TOKEN", reader)
    assert ok("auth.token", *P, vault_creds).strip()  # reading is allowed
    err = failed(1, "auth.url", *P, vault_creds)  # writing is not
    assert f"denied the permission to write secret/{prefix}/sandbox/flow" in err
    assert reader not in err and bao.token not in err
    monkeypatch.setenv("VAULT_TOKEN", bao.token)
    assert open_store(vault_creds).read() == before


def test_a_sealed_vault_is_exit_4(monkeypatch) -> None:
    """Against a loopback server answering as a sealed OpenBao does (503, "Vault is
    sealed"; checked by hand with `bao operator seal`): a real second server, sealed, cost
    0.8 s of the suite's budget."""
    monkeypatch.setenv("VAULT_TOKEN", "any")
    with HostileServer() as server:
        sealed = Answer.json({"errors": ["Vault is sealed"]}, status=503)
        server.answer("/v1/secret/data/team/sandbox/app", sealed)
        err = failed(4, "auth.token", *P, f"vault+http://{urlsplit(server.url).netloc}/secret/team")
    assert "is sealed" in err and "bao operator unseal" in err and "any" not in err.split()


def test_approle_login_from_the_environment(
    sandbox: RunningSandbox, app: App, bao: Bao, vault_creds: str, monkeypatch
) -> None:
    sandbox_login(open_store(vault_creds), sandbox, app)
    client, prefix = bao.client(), parse_vault_url(vault_creds).prefix
    if "approle/" not in client.sys.list_auth_methods()["data"]:
        with contextlib.suppress(Exception):  # another worker may have just enabled it
            client.sys.enable_auth_method("approle")
    client.sys.create_or_update_policy(
        f"fleet-{prefix}",
        f'path "secret/data/{prefix}/*" {{ capabilities = ["read", "create", "update"] }}\n'
        f'path "secret/metadata/{prefix}/*" {{ capabilities = ["list", "read"] }}\n',
    )
    client.auth.approle.create_or_update_approle(
        f"fleet-{prefix}", token_policies=[f"fleet-{prefix}"]
    )
    role = client.auth.approle.read_role_id(f"fleet-{prefix}")["data"]["role_id"]
    secret = client.auth.approle.generate_secret_id(f"fleet-{prefix}")["data"]["secret_id"]
    monkeypatch.delenv("VAULT_TOKEN")
    monkeypatch.setenv("VAULT_ROLE_ID", role)
    monkeypatch.setenv("VAULT_SECRET_ID", secret)
    assert oauthdance.token("sandbox", creds=vault_creds).startswith("gho_")


def test_the_address_carries_no_secret_into_messages(vault_creds: str) -> None:
    store = VaultStore(vault_creds)
    assert urlsplit(store.location).password is None and "root-" not in store.location


def test_without_openbao_tests_skip_but_fail_under_ci(monkeypatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="OpenBao dev server unavailable: gone"):
        unavailable("gone")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="OpenBao is required under CI: gone"):
        unavailable("gone")
