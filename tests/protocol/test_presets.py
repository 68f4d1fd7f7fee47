"""Every provider preset: its golden authorize URL, its client authentication, and a full
dance against the sandbox playing that provider's quirks; OIDC discovery and id_tokens;
a provider from the user's own file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from oauthdance.base.errors import AuthorizationError, IdTokenInvalid, ProviderError
from oauthdance.dance import flow
from oauthdance.keep import lifecycle
from oauthdance.protocol import oauth
from oauthdance.protocol.providers import Provider, get_provider, load_providers
from oauthdance.sandbox import RunningSandbox
from oauthdance.store import CredentialsFile
from oauthdance.store.record import overrides_of
from tests.support.invoking import run_invoke
from tests.support.lifecycle import headless_login
from tests.support.sandbox import browser_approve

LOOPBACK = "http://127.0.0.1:8765/callback"
RUNAME = "Jane_Doe-JaneDoe-DataApp-abcdefgh"
GOLDEN = {
    "github": "https://github.com/login/oauth/authorize?client_id=CID&response_type=code"
    "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback&scope=read%3Auser&state=STATE"
    "&code_challenge=CHALLENGE&code_challenge_method=S256",
    "github-enterprise": "https://ghe.example.com/login/oauth/authorize?client_id=CID"
    "&response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback"
    "&scope=read%3Auser&state=STATE",
    "gitlab": "https://gitlab.com/oauth/authorize?client_id=CID&response_type=code"
    "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback&scope=read_user&state=STATE"
    "&code_challenge=CHALLENGE&code_challenge_method=S256",
    "google": "https://accounts.google.com/o/oauth2/v2/auth?client_id=CID&response_type=code"
    "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback&scope=openid+email+profile"
    "&state=STATE&code_challenge=CHALLENGE&code_challenge_method=S256&access_type=offline"
    "&prompt=consent&nonce=NONCE",
    "ebay": "https://auth.ebay.com/oauth2/authorize?client_id=CID&response_type=code"
    f"&redirect_uri={RUNAME}&scope=https%3A%2F%2Fapi.ebay.com%2Foauth%2Fapi_scope+https%3A"
    "%2F%2Fapi.ebay.com%2Foauth%2Fapi_scope%2Fcommerce.identity.readonly&state=STATE",
    "ebay-sandbox": "https://auth.sandbox.ebay.com/oauth2/authorize?client_id=CID"
    f"&response_type=code&redirect_uri={RUNAME}&scope=https%3A%2F%2Fapi.ebay.com%2Foauth"
    "%2Fapi_scope+https%3A%2F%2Fapi.ebay.com%2Foauth%2Fapi_scope%2Fcommerce.identity.readonly"
    "&state=STATE",
    "spotify": "https://accounts.spotify.com/authorize?client_id=CID&response_type=code"
    "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback"
    "&scope=user-read-private+user-read-email&state=STATE&code_challenge=CHALLENGE"
    "&code_challenge_method=S256",
    "microsoft": "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=CID"
    "&response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback"
    "&scope=openid+profile+email+offline_access+User.Read&state=STATE"
    "&code_challenge=CHALLENGE&code_challenge_method=S256",
}

# How the sandbox plays each provider (its documented bends of the rules).
OTHERS = {"json_answers": True, "scope_separator": " ", "github_scopes": False}
MODES: dict[str, dict[str, Any]] = {
    "github": {},
    "github-enterprise": {},
    "sandbox": {},
    "gitlab": OTHERS,
    "google": {**OTHERS, "oidc": True},
    "ebay": {
        **OTHERS,
        "client_auth": "basic",
        "token_type": "User Access Token",
        "runame": RUNAME,
        "code_lifetime": 300,
    },
    "ebay-sandbox": {
        **OTHERS,
        "client_auth": "basic",
        "token_type": "User Access Token",
        "runame": RUNAME,
        "code_lifetime": 300,
    },
    "spotify": {**OTHERS, "client_auth": "basic", "refuse_localhost": True},
    "microsoft": OTHERS,
}
OWNER = {
    "login": "octocat",
    "username": "octocat",
    "email": "octocat@example.test",
    "id": "octocat",
    "userPrincipalName": "octocat@example.test",
    "preferred_username": "octocat",
}


def redirect_for(provider: Provider) -> str:
    return RUNAME if "runame_redirect" in provider.quirks else LOOPBACK


def test_every_preset_is_tested() -> None:
    assert set(load_providers()) - {"oidc"} == set(MODES)
    assert set(GOLDEN) | {"sandbox"} == set(MODES)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_authorize_url(name: str) -> None:
    provider = get_provider(name)
    if name == "github-enterprise":
        provider = provider.with_host("ghe.example.com")
    url = oauth.authorize_url(
        provider,
        "CID",
        redirect_for(provider),
        provider.default_scope,
        "STATE",
        "CHALLENGE" if provider.pkce else None,
        {"nonce": "NONCE"} if provider.oidc else None,
    )
    assert url == GOLDEN[name]


def sandbox_overrides(provider: Provider, sandbox: RunningSandbox) -> dict[str, Any]:
    """The provider's own facts, with every endpoint moved onto the sandbox."""
    base = sandbox.url
    overrides: dict[str, Any] = {
        "authorize_url": f"{base}/login/oauth/authorize",
        "token_url": f"{base}/login/oauth/access_token",
        "api_base": f"{base}/api/v3",
        "device_url": f"{base}/login/device/code",
    }
    if provider.login_field != ("login",):
        overrides["user_url"] = f"{base}/oauth/userinfo"
    if provider.revocation_style == "rfc7009":
        overrides["revocation_url"] = f"{base}/oauth/revoke"
    if provider.oidc:
        overrides.update(issuer=sandbox.model.issuer, jwks_uri=f"{base}/oauth/jwks")
    return overrides


def configured(
    sandbox: RunningSandbox, name: str, path: Path, **mode: Any
) -> tuple[Provider, CredentialsFile]:
    """`name` configured in `path`, every endpoint moved onto the sandbox playing it."""
    provider = get_provider(name)
    app = sandbox.model.register_app("http://127.0.0.1/callback", **{**MODES[name], **mode})
    creds = CredentialsFile(path)
    flow.configure(
        creds,
        provider,
        client_id=app.client_id,
        client_secret=app.client_secret,
        redirect_uri=redirect_for(provider),
        overrides=sandbox_overrides(provider, sandbox),
        host=sandbox.host,
    )
    return provider, creds


def dance(sandbox: RunningSandbox, name: str, path: Path, **mode: Any) -> tuple[Provider, Any]:
    """Configure `name` against the sandbox in its mode and run the whole dance."""
    provider, creds = configured(sandbox, name, path, **mode)
    return provider, headless_login(creds, provider)


@pytest.mark.parametrize("name", sorted(MODES))
def test_full_dance_in_each_providers_mode(
    sandbox: RunningSandbox, tmp_path: Path, name: str
) -> None:
    provider, verified = dance(sandbox, name, tmp_path / "creds.json")
    assert verified.owner == OWNER[provider.login_field[0]]
    token = verified.token
    assert token["token_type"] == "bearer"  # eBay's "User Access Token" included
    expected_auth = "basic" if provider.client_auth == "client_secret_basic" else "post"
    assert sandbox.model.last_client_auth == expected_auth
    assert set(token["scope"]) >= set(provider.default_scope.split()) - {"offline_access"}
    if provider.oidc:
        assert token["id_token_claims"]["preferred_username"] == "octocat"
        assert token["id_token"].count(".") == 2  # kept, for APIs that want it


def test_rfc7009_revocation(sandbox: RunningSandbox, tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    provider, verified = dance(sandbox, "gitlab", path)
    owner, already_invalid = lifecycle.revoke_token(CredentialsFile(path), provider)
    assert owner == "octocat" and not already_invalid
    assert sandbox.model.token_for(verified.token["access_token"]) is None


def test_ebay_code_lifetime_is_explained(sandbox: RunningSandbox, tmp_path: Path) -> None:
    provider, creds = configured(sandbox, "ebay", tmp_path / "creds.json")
    started = flow.start_authorization(creds, provider)
    flow.store_code(creds, provider, url=browser_approve(started.url))
    sandbox.model.advance(301)
    with pytest.raises(ProviderError) as info:
        flow.exchange_code(creds, provider)
    assert info.value.error == "invalid_grant" and "older than 5 minutes" in str(info.value)


def test_spotify_refuses_localhost(tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    done = run_invoke(
        "auth.configure",
        "-p",
        "spotify",
        "--creds",
        str(creds),
        "--client-id",
        "x",
        "--redirect-uri",
        "http://localhost:8888/callback",
    )
    assert done.returncode != 0 and "refuses localhost" in done.stderr
    assert not creds.exists()


def test_enterprise_needs_a_host(tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    assert (
        run_invoke(
            "auth.configure", "-p", "github-enterprise", "--creds", str(creds), "--client-id", "x"
        ).returncode
        == 0
    )
    done = run_invoke("auth.url", "-p", "github-enterprise", "--creds", str(creds))
    assert done.returncode != 0 and "needs a host" in done.stderr and "--host" in done.stderr
    ok = run_invoke(
        "auth.configure",
        "-p",
        "github-enterprise",
        "--creds",
        str(creds),
        "--host",
        "ghe.corp.example",
        "auth.url",
        "-p",
        "github-enterprise",
        "--creds",
        str(creds),
    )
    assert ok.returncode == 0, ok.stderr
    assert "https://ghe.corp.example/login/oauth/authorize?" in ok.stdout
    assert "code_challenge" not in ok.stdout


# -- OpenID Connect: discovery, and id_tokens that must be refused -------------------------


def discover_and_start(sandbox: RunningSandbox, creds: Path) -> None:
    app = sandbox.model.register_app(
        "http://127.0.0.1/callback",
        json_answers=True,
        github_scopes=False,
        oidc=True,
        scope_separator=" ",
    )
    done = run_invoke(
        "auth.configure",
        "-p",
        "myidp",
        "--creds",
        str(creds),
        "--issuer",
        sandbox.url,
        "--client-id",
        app.client_id,
        "--client-secret",
        app.client_secret,
        "--redirect-uri",
        LOOPBACK,
    )
    assert done.returncode == 0, done.stderr
    started = json.loads(
        run_invoke("auth.url", "-p", "myidp", "--creds", str(creds), "--json").stdout
    )
    assert "nonce=" in started["url"] and "scope=openid+profile+email" in started["url"]
    done = run_invoke(
        "auth.code", "-p", "myidp", "--creds", str(creds), "--url", browser_approve(started["url"])
    )
    assert done.returncode == 0, done.stderr


def test_oidc_discovery_dance(sandbox: RunningSandbox, tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    discover_and_start(sandbox, creds)
    common = ["-p", "myidp", "--creds", str(creds)]
    done = run_invoke("auth.exchange", *common, "auth.verify", *common)
    assert done.returncode == 0, done.stderr
    record = CredentialsFile(creds).record("myidp")
    assert record["provider"]["issuer"] == sandbox.url
    assert record["provider"]["token_url"] == f"{sandbox.url}/login/oauth/access_token"
    assert record["tokens"]["octocat"]["id_token_claims"]["sub"] == "1000"


@pytest.mark.parametrize("fault", ["signature", "audience", "expired", "nonce"])
def test_bad_id_token_is_refused_and_nothing_is_stored(
    sandbox: RunningSandbox, tmp_path: Path, fault: str
) -> None:
    creds = tmp_path / "creds.json"
    discover_and_start(sandbox, creds)
    sandbox.model.faults.id_token_fault = fault
    before = creds.read_bytes()
    done = run_invoke("auth.exchange", "-p", "myidp", "--creds", str(creds))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "the id_token is not valid" in done.stderr and "nothing was stored" in done.stderr
    assert creds.read_bytes() == before


def test_id_token_errors_name_the_claim(sandbox: RunningSandbox, tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    discover_and_start(sandbox, creds)
    sandbox.model.faults.id_token_fault = "audience"
    store = CredentialsFile(creds)
    provider = get_provider("myidp", None, overrides_of(store.record("myidp")))
    with pytest.raises(IdTokenInvalid, match="aud"):
        flow.exchange_code(store, provider)


def test_issuer_must_match_its_discovery_document(sandbox: RunningSandbox, tmp_path: Path) -> None:
    sandbox.model.issuer = "https://elsewhere.example"
    done = run_invoke(
        "auth.configure",
        "-p",
        "myidp",
        "--creds",
        str(tmp_path / "c.json"),
        "--issuer",
        sandbox.url,
        "--client-id",
        "x",
    )
    assert done.returncode != 0 and "names issuer 'https://elsewhere.example'" in done.stderr


def test_oidc_preset_without_discovery_says_what_to_run(tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    run_invoke("auth.configure", "-p", "oidc", "--creds", str(creds), "--client-id", "x")
    done = run_invoke("auth.url", "-p", "oidc", "--creds", str(creds))
    assert done.returncode != 0 and "--issuer URL" in done.stderr


# -- a provider from the user's own file --------------------------------------------------


def test_user_defined_provider_end_to_end(sandbox: RunningSandbox, tmp_path: Path) -> None:
    app = sandbox.model.register_app(
        "http://127.0.0.1/callback",
        client_auth="basic",
        json_answers=True,
        github_scopes=False,
        scope_separator=" ",
    )
    mine = tmp_path / "my-providers.yaml"
    mine.write_text(
        "corp-hub:\n"
        "  title: Our own hub\n"
        f"  host: {sandbox.host}\n"
        "  authorize_url: http://{host}/login/oauth/authorize\n"
        "  token_url: http://{host}/login/oauth/access_token\n"
        "  api_base: http://{host}/api/v3\n"
        "  user_url: http://{host}/oauth/userinfo\n"
        "  login_field: [username]\n"
        "  client_auth: client_secret_basic\n"
        "  default_scope: data:read\n"
    )
    env = {"OAUTHDANCE_PROVIDERS": str(mine)}
    creds = tmp_path / "creds.json"
    common = ["-p", "corp-hub", "--creds", str(creds)]
    assert (
        run_invoke(
            "auth.configure",
            *common,
            "--client-id",
            app.client_id,
            "--client-secret",
            app.client_secret,
            env=env,
        ).returncode
        == 0
    )
    started = json.loads(run_invoke("auth.url", *common, "--json", env=env).stdout)
    done = run_invoke(
        "auth.code",
        *common,
        "--url",
        browser_approve(started["url"]),
        "auth.exchange",
        *common,
        "auth.verify",
        *common,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "login octocat, scopes data:read" in done.stdout
    assert sandbox.model.last_client_auth == "basic"


def test_user_provider_typo_names_file_provider_and_field(tmp_path: Path) -> None:
    mine = tmp_path / "my-providers.yaml"
    mine.write_text("corp-hub:\n  extends: github\n  scope_seperator: ','\n")
    done = run_invoke("auth.status", env={"OAUTHDANCE_PROVIDERS": str(mine)})
    assert done.returncode != 0 and str(mine) in done.stderr
    assert "'corp-hub'" in done.stderr and "'scope_seperator'" in done.stderr


def test_quirk_names_are_checked(tmp_path: Path) -> None:
    from oauthdance.base.errors import ConfigError

    mine = tmp_path / "p.yaml"
    mine.write_text("x:\n  extends: github\n  quirks: [no_such_quirk]\n")
    with pytest.raises(ConfigError, match="no quirk 'no_such_quirk'"):
        load_providers(mine)
    with pytest.raises(AuthorizationError):
        oauth.check_redirect_uri(get_provider("ebay"), "has spaces in it")
