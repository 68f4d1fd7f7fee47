"""oauthdance against an authorization server whose protocol logic we did not write.

The server is Authlib's (`authlib_server.py` only wires storage and users). It is known to
oauthdance only as a user would make it known: a providers file, or `--issuer`. Each client
kind is tried: Basic with a secret full of reserved characters, the form body, and a
public PKCE client.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote_plus

import pytest
import requests

import oauthdance
from oauthdance.store import CredentialsFile
from tests.support.authlib_server import BASIC, POST, PUBLIC, AuthlibServer, ClientSpec
from tests.support.invoking import run_invoke
from tests.support.login import InvokeThread

NAME = "authlib"
KINDS = {"basic": BASIC, "post": POST, "public": PUBLIC}
USED = {"client_secret_basic": "basic", "client_secret_post": "post", "none": "none"}
AUTHORIZE_LINE = r"^\s+(http://\S+/authorize\?\S+)"


@pytest.fixture
def server() -> Iterator[AuthlibServer]:
    with AuthlibServer() as running:
        yield running
        assert running.errors == []


@pytest.fixture(params=list(KINDS))
def client(request: pytest.FixtureRequest) -> ClientSpec:
    return KINDS[request.param]


def configure(
    server: AuthlibServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    client: ClientSpec,
    via: str = "providers file",
) -> list[str]:
    """Make the server known (a providers file, or `--issuer`) and configure `client`;
    return the flags every later step takes."""
    creds = ["-p", NAME, "--creds", str(tmp_path / "creds.json")]
    args = ["auth.configure", *creds, "--client-id", client.client_id]
    args += ["--client-secret", client.client_secret] if client.client_secret else []
    if via == "providers file":
        providers = tmp_path / "providers.yaml"
        providers.write_text(server.providers_yaml(NAME, client.auth_method))
        monkeypatch.setenv("OAUTHDANCE_PROVIDERS", str(providers))
    else:  # discovered: Basic where there is a secret, none without; post must be said
        args += ["--issuer", server.url]
        args += ["--client-auth", client.auth_method] if client is POST else []
    done = run_invoke(*args, "--redirect-uri", "http://127.0.0.1:8765/callback")
    assert done.returncode == 0, done.stderr
    return creds


def stored(tmp_path: Path) -> dict:
    return CredentialsFile(tmp_path / "creds.json").record(NAME)


def redirect_for(url: str) -> str:
    """The browser's part: Authlib's authorize endpoint approves at once and redirects."""
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def step_by_step(common: list[str]) -> dict:
    started = run_invoke("auth.url", *common, "--json")
    assert started.returncode == 0, started.stderr
    location = redirect_for(json.loads(started.stdout)["url"])
    for step in (["auth.code", "--url", location], ["auth.exchange"]):
        done = run_invoke(*step, *common)
        assert done.returncode == 0, done.stderr
    done = run_invoke("auth.verify", *common, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)[0]


def log_in(common: list[str], *extra: str) -> tuple[int, str, str]:
    """`auth.login`, with the browser played by an HTTP client."""
    running = InvokeThread("auth.login", *common, "--no-browser", "--timeout", "20", *extra)
    location = redirect_for(running.wait_for(AUTHORIZE_LINE).group(1))
    requests.get(location, timeout=10)  # the browser arrives at the loopback callback
    return running.finish()


@pytest.mark.parametrize("via", ["providers file", "--issuer"])
def test_step_by_step_dance(
    server: AuthlibServer, client: ClientSpec, via: str, tmp_path: Path, monkeypatch
) -> None:
    common = configure(server, tmp_path, monkeypatch, client, via)
    verified = step_by_step(common)
    assert verified["owner"] == "alice"
    assert server.last_client_auth("token") == USED[client.auth_method]
    token = stored(tmp_path)["tokens"]["alice"]
    assert token["id_token_claims"]["sub"] and token["refresh_token"]
    if client is BASIC:  # id and secret form-urlencoded before base64 (RFC 6749 §2.3.1)
        sent = server.requests_to("/token")[-1].basic_credentials
        assert sent == (quote_plus(BASIC.client_id), quote_plus(BASIC.client_secret or ""))


def test_login_refresh_check_revoke_logout_and_the_python_api(
    server: AuthlibServer, client: ClientSpec, tmp_path: Path, monkeypatch
) -> None:
    common = configure(server, tmp_path, monkeypatch, client)
    code, stdout, stderr = log_in(common)
    assert code == 0, stderr
    assert f"logged in to {NAME} as alice" in stdout
    first = stored(tmp_path)["tokens"]["alice"]

    assert run_invoke("auth.refresh", *common).returncode == 0
    second = stored(tmp_path)["tokens"]["alice"]
    assert second["refresh_token"] != first["refresh_token"]  # rotated
    assert second["id_token_claims"]["sub"] == first["id_token_claims"]["sub"]
    reused = requests.post(
        server.url + "/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        auth=(quote_plus(BASIC.client_id), quote_plus(BASIC.client_secret or "")),
        timeout=10,
    )
    assert reused.json()["error"] == "invalid_grant"  # the old one died with the rotation

    assert oauthdance.token(NAME, creds=tmp_path / "creds.json") == second["access_token"]
    me = oauthdance.session(NAME, creds=tmp_path / "creds.json").get("/userinfo")
    assert me.json()["preferred_username"] == "alice"

    live = run_invoke("auth.check", *common, "--json")
    assert live.returncode == 0, live.stderr
    assert json.loads(live.stdout)["valid"] is True
    assert server.last_client_auth("introspection") == USED[client.auth_method]

    assert run_invoke("auth.revoke", *common).returncode == 0
    assert "alice" not in (stored(tmp_path).get("tokens") or {})
    code, _, stderr = log_in(common)
    assert code == 0, stderr
    assert run_invoke("auth.logout", *common).returncode == 0
    assert "alice" not in (stored(tmp_path).get("tokens") or {})


def test_check_says_invalid_for_a_token_the_server_revoked(
    server: AuthlibServer, tmp_path: Path, monkeypatch
) -> None:
    common = configure(server, tmp_path, monkeypatch, POST)
    step_by_step(common)
    token = stored(tmp_path)["tokens"]["alice"]["access_token"]
    requests.post(
        server.url + "/revoke",
        data={"token": token, "client_id": POST.client_id, "client_secret": POST.client_secret},
        timeout=10,
    ).raise_for_status()
    done = run_invoke("auth.check", *common, "--json")
    assert done.returncode == 1 and json.loads(done.stdout)["valid"] is False
    assert "no longer accepts" in done.stderr and "next:" in done.stderr


@pytest.mark.parametrize("client", [BASIC, POST, PUBLIC], ids=list(KINDS))
def test_device_flow(server: AuthlibServer, client: ClientSpec, tmp_path: Path, monkeypatch):
    common = configure(server, tmp_path, monkeypatch, client)
    server.device_interval = 0
    running = InvokeThread("auth.device", *common, "--no-browser")
    user_code = running.wait_for(r"enter the code: (\S+)").group(1)
    server.approve_device(user_code, "bob")
    code, stdout, stderr = running.finish()
    assert code == 0, stderr
    assert f"logged in to {NAME} as bob" in stdout
    # a confidential client authenticates at the device endpoint too (RFC 8628 §3.1)
    assert server.last_client_auth("device_authorization") == USED[client.auth_method]
    assert stored(tmp_path)["tokens"]["bob"]["id_token_claims"]["sub"]


def test_a_plain_oauth_server_is_discovered_by_rfc_8414(tmp_path: Path, monkeypatch) -> None:
    with AuthlibServer(oidc=False) as server:
        common = configure(server, tmp_path, monkeypatch, POST, via="--issuer")
        record = stored(tmp_path)["provider"]
        assert record["oidc"] is False and record["introspection_url"].endswith("/introspect")
        assert run_invoke("auth.configure", *common, "--scope", "profile").returncode == 0
        code, stdout, stderr = log_in(common)  # no user endpoint, no id_token: who is it?
        assert code == 1 and "auth.login -p authlib -u NAME --creds" in stderr
        assert "tokens" not in stored(tmp_path)
        code, stdout, stderr = log_in(common, "--user", "carol")
        assert code == 0, stderr
        assert "as carol" in stdout
        assert server.errors == []


@pytest.mark.parametrize("userinfo", ["absent", "forbidden"])
def test_the_id_token_names_the_owner_when_userinfo_cannot(
    server: AuthlibServer, userinfo: str, tmp_path: Path, monkeypatch
) -> None:
    server.userinfo = userinfo
    common = configure(server, tmp_path, monkeypatch, BASIC)
    code, stdout, stderr = log_in(common)
    assert code == 0, stderr
    assert "as alice" in stdout and "alice" in stored(tmp_path)["tokens"]


@pytest.mark.parametrize(
    "fault,why",
    [
        ("no_sub", "sub"),
        ("several_aud_no_azp", "azp"),
        ("wrong_aud", "aud"),
        ("missing", "no id_token"),
    ],
)
def test_a_bad_id_token_is_refused_and_nothing_is_stored(
    server: AuthlibServer, fault: str, why: str, tmp_path: Path, monkeypatch
) -> None:
    common = configure(server, tmp_path, monkeypatch, POST)
    started = json.loads(run_invoke("auth.url", *common, "--json").stdout)
    assert run_invoke("auth.code", *common, "--url", redirect_for(started["url"])).returncode == 0
    server.id_token_fault = fault
    before = (tmp_path / "creds.json").read_bytes()
    done = run_invoke("auth.exchange", *common)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert why in done.stderr and "nothing was stored" in done.stderr
    assert (tmp_path / "creds.json").read_bytes() == before


def test_a_token_type_other_than_bearer_is_refused(
    server: AuthlibServer, tmp_path: Path, monkeypatch
) -> None:
    common = configure(server, tmp_path, monkeypatch, POST)
    started = json.loads(run_invoke("auth.url", *common, "--json").stdout)
    assert run_invoke("auth.code", *common, "--url", redirect_for(started["url"])).returncode == 0
    server.token_type_fault = "mac"
    before = (tmp_path / "creds.json").read_bytes()
    done = run_invoke("auth.exchange", *common)
    assert done.returncode == 1 and "only Bearer" in done.stderr
    assert (tmp_path / "creds.json").read_bytes() == before


def test_a_redirect_from_another_issuer_is_refused(
    server: AuthlibServer, tmp_path: Path, monkeypatch
) -> None:
    """RFC 9207: the server advertises `iss` in redirects; one naming another issuer is a
    mix-up, and one without `iss` is refused too."""
    server.send_iss = True
    common = configure(server, tmp_path, monkeypatch, POST, via="--issuer")
    assert stored(tmp_path)["provider"]["iss_parameter"] is True
    started = json.loads(run_invoke("auth.url", *common, "--json").stdout)
    server.wrong_iss = True
    before = (tmp_path / "creds.json").read_bytes()
    done = run_invoke("auth.code", *common, "--url", redirect_for(started["url"]))
    assert done.returncode == 1 and "RFC 9207" in done.stderr
    assert (tmp_path / "creds.json").read_bytes() == before
    server.wrong_iss = False
    again = json.loads(run_invoke("auth.url", *common, "--json").stdout)  # a fresh nonce
    right = redirect_for(again["url"])
    done = run_invoke("auth.code", *common, "--url", right.replace("iss=", "issuer="))
    assert done.returncode == 1 and "RFC 9207" in done.stderr
    assert run_invoke("auth.code", *common, "--url", right).returncode == 0
