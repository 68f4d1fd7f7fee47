"""One way to send: every call has a timeout, secrets never follow a redirect, every
endpoint is https or loopback, and a `Retry-After` is never slept out behind the caller."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import oauthdance
from oauthdance.base.errors import ConfigError, NetworkError
from oauthdance.dance import flow
from oauthdance.net import http, transport
from oauthdance.protocol.providers import get_provider, load_providers
from oauthdance.store import CredentialsFile
from tests.support.hostile_server import TOKEN, Answer, HostileServer, provider_file, with_token
from tests.support.invoking import run_invoke

SECRET = "s3cret-client-secret"


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as running:
        yield running


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The documented timeouts, shortened so a hang costs a test one second, not thirty."""
    monkeypatch.setattr(transport, "TIMEOUT", (1.0, 1.0))
    monkeypatch.setattr(http, "DEADLINE", 1.0)


def with_code(tmp_path: Path, server: HostileServer, monkeypatch: pytest.MonkeyPatch):
    """A credentials file whose pending authorization has a code: ready to exchange."""
    provider = get_provider("hostile", provider_file(tmp_path, server, monkeypatch))
    creds = CredentialsFile(tmp_path / "creds.json")
    flow.configure(creds, provider, client_id="cid", client_secret=SECRET)
    started = flow.start_authorization(creds, provider)
    flow.store_code(creds, provider, code="the-code", state=started.state)
    return creds, provider


@pytest.mark.parametrize("mode", ["hang", "trickle"])
def test_a_token_endpoint_that_hangs_or_trickles_ends_in_a_clear_error(
    mode: str, server: HostileServer, tmp_path: Path, monkeypatch, short_timeouts
) -> None:
    creds, provider = with_code(tmp_path, server, monkeypatch)
    body = json.dumps({"access_token": "x" * 40, "token_type": "bearer"}).encode()
    server.answer("/token", Answer(200, body, (("Content-Type", "application/json"),), mode))
    before = creds.path.read_bytes()
    with pytest.raises(NetworkError, match=r"could not reach|did not finish answering in time"):
        flow.exchange_code(creds, provider)
    assert creds.path.read_bytes() == before


def test_an_api_that_never_answers_ends_in_a_clear_error(
    server: HostileServer, tmp_path: Path, monkeypatch, short_timeouts
) -> None:
    path = with_token(tmp_path, server, monkeypatch)
    server.answer("/api/user", Answer(mode="hang"))
    with pytest.raises(requests.Timeout):
        oauthdance.session("hostile", creds=path).get("/user")
    done = run_invoke("data.fetch", "-p", "hostile", "--creds", str(path), "--path", "/user")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "could not fetch" in done.stderr and "next:" in done.stderr


def test_a_redirect_from_the_token_endpoint_carries_no_secret_anywhere(
    server: HostileServer, tmp_path: Path, monkeypatch
) -> None:
    creds, provider = with_code(tmp_path, server, monkeypatch)
    with HostileServer() as elsewhere:
        elsewhere.answer("/token", Answer.json({"access_token": "stolen", "token_type": "bearer"}))
        server.answer("/token", Answer(307, headers=(("Location", elsewhere.url + "/token"),)))
        with pytest.raises(NetworkError, match="never follow redirects"):
            flow.exchange_code(creds, provider)
        assert elsewhere.requests == []
    assert [r.path for r in server.requests] == ["/token"]


def test_plain_http_elsewhere_is_refused_when_providers_are_read(tmp_path: Path) -> None:
    path = tmp_path / "providers.yaml"
    path.write_text(
        "leaky:\n  authorize_url: https://idp.example/authorize\n"
        "  token_url: http://idp.example/token\n  api_base: https://api.example\n"
    )
    with pytest.raises(ConfigError, match="'leaky', field 'token_url'"):
        load_providers(path)


def test_plain_http_elsewhere_is_refused_at_configure(tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    done = run_invoke(
        "auth.configure", "-p", "sandbox", "--creds", str(creds),
        "--host", "sandbox.example.com", "--client-id", "cid",
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "'sandbox', field 'authorize_url'" in done.stderr
    assert "http://sandbox.example.com/login/oauth/authorize" in done.stderr
    assert not creds.exists()


def test_retry_after_is_never_slept_out_inside_the_session(
    server: HostileServer, tmp_path: Path, monkeypatch, instant_retries
) -> None:
    path = with_token(tmp_path, server, monkeypatch)
    session = oauthdance.session("hostile", creds=path)
    server.answer("/api/user", Answer.json({}, 429, (("Retry-After", "100000000"),)))
    assert session.get("/user").status_code == 429  # back to the caller at once
    assert len(server.requests) == 1
    server.reset()
    server.answer("/api/user", Answer.json({}, 503, (("Retry-After", "100000000"),)))
    assert session.get("/user").status_code == 503  # retried with backoff, not the header
    assert len(server.requests) == 1 + transport.RETRIES


def test_the_token_goes_to_the_api_origin_only(
    server: HostileServer, tmp_path: Path, monkeypatch
) -> None:
    path = with_token(tmp_path, server, monkeypatch)
    with HostileServer() as elsewhere:
        elsewhere.answer("/x", Answer.json({}))
        oauthdance.session("hostile", creds=path).get(elsewhere.url + "/x")
        requests.get(elsewhere.url + "/x", auth=oauthdance.auth("hostile", creds=path), timeout=5)
        assert all("authorization" not in r.headers for r in elsewhere.requests)
    server.answer("/api/user", Answer.json({"login": "octocat"}))
    requests.get(server.url + "/api/user", auth=oauthdance.auth("hostile", creds=path), timeout=5)
    assert server.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"
