"""The protocol's pure functions, with literals (RFC test vectors where there are some)."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oauthdance.base.errors import (
    AuthorizationDenied,
    AuthorizationError,
    NetworkError,
    ProviderError,
)
from oauthdance.protocol import oauth
from oauthdance.protocol.providers import get_provider


def test_pkce_verifiers_have_the_rfc_7636_length_and_alphabet() -> None:
    for _ in range(20):
        verifier = oauth.new_code_verifier()
        assert 43 <= len(verifier) <= 128
        assert set(verifier) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
        )


def test_pkce_rfc7636_appendix_b_vector() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert oauth.code_challenge_s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_states_are_unique_and_long() -> None:
    states = {oauth.new_state() for _ in range(100)}
    assert len(states) == 100 and all(len(s) >= 43 for s in states)


def test_authorize_url_for_github() -> None:
    url = oauth.authorize_url(
        get_provider("github"),
        "Iv1.abc",
        "http://127.0.0.1/callback",
        "repo,read:org user",
        "st",
        "ch",
        {"login": "octocat"},
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://github.com/login/oauth/authorize"
    )
    assert parse_qs(parts.query) == {
        "client_id": ["Iv1.abc"],
        "response_type": ["code"],
        "redirect_uri": ["http://127.0.0.1/callback"],
        "scope": ["repo read:org user"],
        "state": ["st"],
        "code_challenge": ["ch"],
        "code_challenge_method": ["S256"],
        "login": ["octocat"],
    }


def test_enterprise_host_moves_every_endpoint() -> None:
    provider = get_provider("github").with_host("ghe.example.com")
    assert provider.authorize_endpoint == "https://ghe.example.com/login/oauth/authorize"
    assert provider.token_endpoint == "https://ghe.example.com/login/oauth/access_token"


@pytest.mark.parametrize(
    "pasted",
    [
        "http://127.0.0.1:8765/callback?code=6bdaad26&state=Zq3",
        "  http://127.0.0.1:8765/callback?code=6bdaad26&state=Zq3#fragment\n",
        "?code=6bdaad26&state=Zq3",
        "code=6bdaad26&state=Zq3",
    ],
)
def test_parse_redirect_accepts_what_people_paste(pasted: str) -> None:
    assert oauth.parse_redirect(pasted) == oauth.Redirect("Zq3", "6bdaad26")


def test_parse_redirect_error_answer() -> None:
    redirect = oauth.parse_redirect(
        "http://127.0.0.1/callback?error=access_denied&error_description=The+user+denied&state=Zq3"
    )
    assert redirect.error == "access_denied" and redirect.state == "Zq3"
    with pytest.raises(AuthorizationDenied, match="The user denied"):
        redirect.raise_for_error()


@pytest.mark.parametrize(
    "pasted", ["", "   ", "http://127.0.0.1/callback", "state=x", "not a url at all"]
)
def test_parse_redirect_refuses_what_has_no_code(pasted: str) -> None:
    with pytest.raises(AuthorizationError, match="cannot read the redirect URL"):
        oauth.parse_redirect(pasted)


_value = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


@given(
    code=_value,
    state=_value,
    port=st.integers(1, 65535),
    path=st.from_regex(r"/[a-z/]{0,20}", fullmatch=True),
)
def test_parse_redirect_round_trips_any_code_and_state(
    code: str, state: str, port: int, path: str
) -> None:
    url = f"http://127.0.0.1:{port}{path}?" + urlencode({"code": code, "state": state})
    assert oauth.parse_redirect(url) == oauth.Redirect(state, code)


@given(st.text(max_size=200))
def test_parse_redirect_never_crashes(text: str) -> None:
    try:
        result = oauth.parse_redirect(text)
    except AuthorizationError:
        return
    assert result.code or result.error


def checked(body: str, status: int = 200) -> dict:
    return dict(oauth.checked_token_answer(oauth.parse_token_answer(body, status)))


def test_token_answer_form_encoded() -> None:
    answer = checked(
        "access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&scope=repo%2Cgist&token_type=bearer"
    )
    assert answer["access_token"] == "gho_16C7e42F292c6912E7710c838347Ae178B4a"
    assert answer["scope"] == ["repo", "gist"] and answer["token_type"] == "bearer"


def test_token_answer_json_with_expiry() -> None:
    answer = checked(
        json.dumps(
            {
                "access_token": "ghu_x",
                "expires_in": 28800,
                "refresh_token": "ghr_y",
                "refresh_token_expires_in": 15811200,
                "scope": "",
                "token_type": "bearer",
            }
        )
    )
    assert answer["expires_in"] == 28800 and answer["refresh_token"] == "ghr_y"
    assert answer["scope"] == []


@pytest.mark.parametrize(
    "body",
    [
        "error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired."
        "&error_uri=https%3A%2F%2Fdocs.github.com",
        json.dumps(
            {
                "error": "bad_verification_code",
                "error_description": "The code passed is incorrect or expired.",
            }
        ),
    ],
)
def test_errors_that_come_with_http_200_raise(body: str) -> None:
    with pytest.raises(ProviderError) as info:
        oauth.parse_token_answer(body, 200)
    assert info.value.error == "bad_verification_code"
    assert "10 minutes" in str(info.value) and "auth.url" in str(info.value)


def test_answer_without_token_is_unreadable() -> None:
    with pytest.raises(NetworkError, match="instead of an OAuth answer"):
        oauth.parse_token_answer("<html>Not Found</html>", 404)
    with pytest.raises(NetworkError, match="no access_token string") as info:
        checked(json.dumps({"refresh_token": "ghr_secret", "token_type": "bearer"}))
    assert "ghr_secret" not in str(info.value)


@pytest.mark.parametrize(
    "answer,why",
    [
        ({"access_token": 12345}, "no access_token string"),
        ({"access_token": "a b"}, "other than visible ASCII"),
        ({"access_token": "t\u00ff"}, "other than visible ASCII"),
        ({"access_token": "t", "refresh_token": "r\n"}, "other than visible ASCII"),
        ({"access_token": "t", "expires_in": "soon"}, "expires_in"),
        ({"access_token": "t", "expires_in": -5}, "expires_in"),
        ({"access_token": "t", "refresh_token": ["r"]}, "refresh_token"),
        ({"access_token": "t", "scope": 7}, "scope"),
    ],
)
def test_token_answers_of_the_wrong_type_are_refused(answer: dict, why: str) -> None:
    with pytest.raises(NetworkError, match=why):
        checked(json.dumps(answer))


def test_only_bearer_tokens_are_accepted() -> None:
    with pytest.raises(ProviderError, match="only Bearer"):
        checked(json.dumps({"access_token": "t", "token_type": "mac"}))


def test_basic_auth_form_urlencodes_before_base64() -> None:
    header = oauth.basic_authorization("id:with space", "s3cr+t/=")
    raw = base64.b64decode(header.split()[1]).decode()
    assert raw == "id%3Awith+space:s3cr%2Bt%2F%3D"


def test_client_authentication_per_method() -> None:
    assert oauth.client_authentication("client_secret_post", "cid", "sec") == (
        {},
        {"client_id": "cid", "client_secret": "sec"},
    )
    headers, form = oauth.client_authentication("client_secret_basic", "cid", "sec")
    assert form == {} and headers["Authorization"].startswith("Basic ")
    assert oauth.client_authentication("none", "cid", "sec") == ({}, {"client_id": "cid"})


@pytest.mark.parametrize(
    "uri,good",
    [
        ("http://127.0.0.1:8765/callback", True),
        ("http://[::1]/cb", True),
        ("http://localhost:3000/cb", True),
        ("https://example.com/cb", True),
        ("http://example.com/cb", False),
        ("ftp://127.0.0.1/cb", False),
        ("callback", False),
    ],
)
def test_redirect_uri_must_be_https_or_loopback(uri: str, good: bool) -> None:
    github = get_provider("github")
    if good:
        assert oauth.check_redirect_uri(github, uri) == uri
    else:
        with pytest.raises(AuthorizationError):
            oauth.check_redirect_uri(github, uri)


def test_missing_scopes_counts_broader_grants() -> None:
    implied = get_provider("github").implied_scopes
    assert oauth.missing_scopes("read:user public_repo gist", ["user", "repo"], implied) == ["gist"]
    assert oauth.split_scopes("repo, user,read:org  gist") == ["repo", "user", "read:org", "gist"]


@given(st.text())
def test_provider_text_is_always_printable_and_bounded(text: str) -> None:
    from oauthdance.base.errors import printable

    shown = printable(text, 50)
    assert shown.isprintable() and len(shown) <= 50
