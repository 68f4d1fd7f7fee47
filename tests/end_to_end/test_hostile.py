"""Hostile servers: whatever a server answers ends in a clear error or a valid result.

The invariant, checked for every answer below (see `Scenario.attempt`):

* the call returns a valid result, or raises an `OAuthDanceError` — never anything else;
* the error's `str()` is a clear message: non-empty, printable line by line (no terminal
  escapes), at most `MAX_MESSAGE` characters, naming no raw Python exception, and
  holding none of the secrets planted here (client secret, refresh tokens, access tokens);
* on error the credentials file is byte-for-byte what it was before the call;
* a valid result from a token step stores an access token that is the non-empty string
  the server sent (never a number made into a string), a refresh token that is a
  non-empty string (if any), scopes as a list of strings and readable expiry times;
* secrets go only where they belong (the client secret and refresh tokens to the token
  endpoint, access tokens to the API), nothing leaves loopback, no call loops forever
  (the server stops answering after `limit` requests) and none sleeps for ages (the
  sleeps are virtual and capped).

The answers come from `HostileServer` (tests/support/hostile_server.py), programmed per example
by hypothesis; the package is called in-process through its stable entry points. A raw
exception is left to propagate, so pytest and hypothesis show where in the package it
came from (hypothesis reports each distinct origin once).

Not hostile, so not generated: `authorization_pending`/`slow_down` as a final answer
(they mean "ask again"), and `invalid_grant`/`bad_refresh_token` on refresh (they mark
the stored token `needs_login`, a deliberate write).
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import urllib3.util.retry
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import oauthdance
from oauthdance.base.errors import OAuthDanceError
from oauthdance.dance import flow
from oauthdance.dance.device import device_login
from oauthdance.keep.target import resolve_target
from oauthdance.net.endpoints import discover
from oauthdance.paging.authenticated import open_fetch
from oauthdance.paging.engine import Fetcher
from oauthdance.paging.options import FetchOptions
from oauthdance.paging.output import ItemWriter
from oauthdance.protocol.providers import Provider, get_provider
from oauthdance.store import CredentialsFile
from tests.support.hostile_server import Answer, HostileServer, loopback_only

CLIENT_ID = "hostile-client-id"
CLIENT_SECRET = "hostile-client-secret-5f1c9a"
OLD_ACCESS = "hostile-stored-access-token-1a9e"
OLD_REFRESH = "hostile-stored-refresh-token-83b2d7"
NEW_ACCESS = "hostile-new-access-token-c4d8"
NEW_REFRESH = "hostile-new-refresh-token-7e21"
SECRETS = (CLIENT_SECRET, OLD_ACCESS, OLD_REFRESH, NEW_ACCESS, NEW_REFRESH)
CODE = "hostile-authorization-code"
DEVICE_CODE = "hostile-device-code-0123456789"
OWNER = "octocat"
REDIRECT_URI = "http://127.0.0.1:8765/callback"

MAX_MESSAGE = 2000  # characters: an error is read by a person, not a 100 kB dump
MAX_SINGLE_SLEEP = 3600.0  # seconds: one sleep longer than an hour is a hang
FETCH_SLEEP_BUDGET = 3600.0  # seconds slept in all by one fetch with wait=False
RAW_EXCEPTION_WORDS = (
    "Traceback",
    "KeyError",
    "TypeError",
    "AttributeError",
    "IndexError",
    "ValueError",
    "OverflowError",
    "JSONDecodeError",
    "UnicodeDecodeError",
    "orjson",
    "object has no attribute",
    "not subscriptable",
    "unhashable type",
)

HOSTILE = settings(
    max_examples=int(os.environ.get("HOSTILE_EXAMPLES", "40")),
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

PROVIDERS_YAML = """\
hostile:
  title: A server that answers whatever the test says
  authorize_url: {url}/authorize
  token_url: {url}/token
  device_url: {url}/device
  api_base: {url}/api
  user_path: /user
  login_field: [login]
  scopes_header: X-OAuth-Scopes
  client_auth: client_secret_post
  default_scope: repo
  pkce: true
"""


class WaitedTooLong(Exception):
    """Raised by the test's sleep stubs: the package asked to sleep for ages."""


class Sleeper:
    """A `time.sleep` stand-in: checks its argument as `time.sleep` does, sleeps
    virtually (moving `time()` forward), and stops a call that would wait for ages."""

    def __init__(self, budget: float = math.inf) -> None:
        self.budget = budget
        self.slept = 0.0

    def reset(self) -> None:
        self.slept = 0.0

    def time(self) -> float:
        return time.time() + self.slept

    def sleep(self, seconds: Any) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise TypeError(f"'{type(seconds).__name__}' object cannot be interpreted as a time")
        if math.isnan(seconds):
            raise ValueError("Invalid value NaN (not a number)")
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        if seconds > MAX_SINGLE_SLEEP:
            raise WaitedTooLong(f"asked to sleep {seconds!r} s at once")
        self.slept += seconds
        if self.slept > self.budget:
            raise WaitedTooLong(f"slept {self.slept:.0f} s in all (more than {self.budget:.0f})")


# -- outcomes ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a call ended in: a result, or a clear error."""

    result: Any = None
    error: OAuthDanceError | None = None


def snapshot(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def assert_clear(error: OAuthDanceError) -> None:
    """The error is something a person can read, and leaks nothing."""
    text = str(error)
    assert text.strip(), f"{type(error).__name__} with an empty message"
    assert len(text) <= MAX_MESSAGE, f"{type(error).__name__}: a {len(text)}-character message"
    for line in text.split("\n"):
        assert line.isprintable(), f"unprintable characters in the message: {line[:300]!r}"
    for word in RAW_EXCEPTION_WORDS:
        assert word not in text, f"a raw exception shows through: {text[:300]!r}"
    for secret in SECRETS:
        assert secret not in text, f"the message leaks the secret {secret!r}: {text[:300]!r}"


def sent_value(answer: Answer, key: str) -> Any:
    """What the server sent for `key`: from a JSON object, or a form-encoded body."""
    text = answer.body.decode("utf-8", "replace").removeprefix("\ufeff")
    try:
        body = json.loads(text)
    except ValueError:
        return dict(parse_qsl(text)).get(key, _MISSING)
    return body.get(key, _MISSING) if isinstance(body, dict) else _MISSING


_MISSING = object()


def assert_valid_token(stored: dict[str, Any], answer: Answer) -> None:
    """A stored token record as a token step must leave it."""
    sent = sent_value(answer, "access_token")
    access = stored.get("access_token")
    assert isinstance(access, str) and access, f"stored access_token {access!r:.100}"
    assert isinstance(sent, str) and access == sent, (
        f"stored access_token {access!r:.60} but the server sent {sent!r:.60}"
    )
    refresh = stored.get("refresh_token")
    assert refresh is None or (isinstance(refresh, str) and refresh), (
        f"stored refresh_token {refresh!r:.100}"
    )
    assert isinstance(stored.get("token_type"), str), f"token_type {stored.get('token_type')!r}"
    scope = stored.get("scope")
    assert isinstance(scope, list) and all(isinstance(s, str) for s in scope), f"scope {scope!r}"
    for stamp in ("expires_at", "refresh_token_expires_at", "created_at"):
        if stamp in stored:
            assert readable_time(stored[stamp]), f"{stamp} {stored[stamp]!r} is no UTC time"


def readable_time(value: Any) -> bool:
    """`2026-01-31T12:00:00Z`, as the package writes times."""
    try:
        datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        return False
    return bool(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value))


# -- strategies -------------------------------------------------------------------------

DROP = object()  # a mutation that removes the field

# Numbers are small, or picked from the edges: a free integer would let the shrinker chase
# the edge of `datetime`'s range, which moves with the clock (and makes replays flaky).
EDGE_NUMBERS = [
    0, 1, -1, 2**31, 2**63, -(2**63), 2**70, 10**12, -(10**12), 10**30,
    0.5, -1.5, 1e-300, 1e308, -1e308, math.inf, -math.inf, math.nan,
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.sampled_from(EDGE_NUMBERS),  # NaN and Infinity too: json.dumps writes them
    st.text(max_size=12),
)
ODD = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=2),
    st.dictionaries(st.text(max_size=4), SCALARS, max_size=2),
)
NOT_AN_OBJECT = st.one_of(SCALARS, st.lists(ODD, max_size=3))


class Huge(str):
    """A 100 kB string that reports itself in a few characters."""

    def __repr__(self) -> str:
        return "'x' * 100_000"


HUGE = Huge("x" * 100_000)
# -33e9 s from now lands before the year 1000 (a date written without 4 digits)
NUMBERS = [
    DROP, "3600", "-5", -5, 0, 1.5, None, "abc", "", [], {}, True, "1e3",
    10**12, -(33 * 10**9), 10**30, 1e308, math.inf, -math.inf, math.nan,
]  # fmt: skip
ERROR_TEXTS = [
    None, 5, [], {"a": 1}, ["x"], "", "line one\nline two",
    "\x1b[2J\x1b[31mred alert", "nul\x00byte", HUGE,
]  # fmt: skip


def one_of_values(values: list[Any]) -> st.SearchStrategy[Any]:
    """The listed values first (they shrink towards the start), then any odd value."""
    return st.one_of(st.sampled_from(values), ODD)


@st.composite
def mutated(
    draw: st.DrawFn, base: dict[str, Any], odd: dict[str, st.SearchStrategy[Any]], most: int = 2
) -> dict[str, Any]:
    """`base` with up to `most` fields replaced by an odd value, or dropped."""
    value = dict(base)
    for _ in range(draw(st.integers(0, most))):
        key = draw(st.sampled_from(sorted(odd)))
        new = draw(odd[key])
        if new is DROP:
            value.pop(key, None)
        else:
            value[key] = new
    return value


def html(status: int) -> Answer:
    return Answer.html(status, f"<!DOCTYPE html><html><body><h1>{status}</h1></body></html>")


RAW_BODIES = [
    (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
    (b"", "application/json"),
    (b"\xff\xfe\x00\x01{", "application/json"),
    (b'{"access_token": "' + NEW_ACCESS.encode() + b'"', "application/json"),
    (b'{"access_token": "' + NEW_ACCESS.encode() + b'", "expires_in": 1e400}', "application/json"),
    (b'{"access_token": "\xff\xfe\xfd"}', "application/json"),
    (b'\xef\xbb\xbf{"access_token": "' + NEW_ACCESS.encode() + b'"}', "application/json"),
    (b"access_token=" + NEW_ACCESS.encode() + b"&token_type=bearer&scope=repo", "text/plain"),
    (b"error=bad_verification_code&error_description=The+code+is+wrong", "text/plain"),
    (b"access_token=&token_type=bearer", "application/x-www-form-urlencoded"),
    (b"access_token=x&expires_in=soon", "application/x-www-form-urlencoded"),
    (b'{"access_token": "' + NEW_ACCESS.encode() + b'"}', "application/json; charset=utf-16"),
]


@st.composite
def answers(
    draw: st.DrawFn,
    base: dict[str, Any],
    odd: dict[str, st.SearchStrategy[Any]],
    statuses: tuple[int, ...] = (200, 200, 200, 400, 401, 500),
    raw: list[tuple[bytes, str]] = RAW_BODIES,
) -> Answer:
    """An answer built on `base`: mutated, not an object, not JSON, or broken in transit."""
    kind = draw(st.sampled_from(["object", "object", "object", "value", "raw", "html", "broken"]))
    status = draw(st.sampled_from(statuses))
    if kind == "object":
        return Answer.json(draw(mutated(base, odd)), status)
    if kind == "value":
        return Answer.json(draw(NOT_AN_OBJECT), status)
    if kind == "raw":
        body, kind_of = draw(
            st.one_of(st.sampled_from(raw), st.tuples(st.binary(max_size=40), st.just("")))
        )
        return Answer(status, body, (("Content-Type", kind_of),) if kind_of else ())
    if kind == "html":
        return html(draw(st.sampled_from([200, 400, 401, 500, 502])))
    mode = draw(st.sampled_from(["truncate", "close"]))
    return Answer(200, json.dumps(base).encode(), (("Content-Type", "application/json"),), mode)


TOKEN = {
    "access_token": NEW_ACCESS,
    "token_type": "bearer",
    "expires_in": 28800,
    "refresh_token": NEW_REFRESH,
    "scope": "repo",
}
TOKEN_ODD_VALUES: dict[str, list[Any]] = {
    "access_token": [
        DROP, 12345, None, [], [NEW_ACCESS], {"token": NEW_ACCESS}, "", True, 0, 1.5, HUGE
    ],
    "token_type": [DROP, "mac", "", None, 5, ["bearer"], "BEARER", "User Access Token", {}],
    "expires_in": NUMBERS,
    "refresh_token_expires_in": NUMBERS,
    "scope": [DROP, ["repo", "user"], 5, None, "", "repo,user", {"a": 1}, [1, None]],
    "refresh_token": [DROP, 5, None, [], {"a": 1}, "", True, [NEW_REFRESH]],
    "error": ["invalid_request", "server_error", "unauthorized_client", 5, None, [], ["x"], {}, ""],
    "error_description": ERROR_TEXTS,
    "error_uri": [None, 5, [], "javascript:alert(1)"],
}  # fmt: skip
TOKEN_ODD = {key: one_of_values(values) for key, values in TOKEN_ODD_VALUES.items()}
# error codes that mean "ask again" or "this refresh token is dead": they are answers of
# their own (device polling, needs_login), not hostile ones
SPECIAL_ERRORS = {"authorization_pending", "slow_down", "invalid_grant", "bad_refresh_token"}


def not_special(answer: Answer) -> bool:
    error = sent_value(answer, "error")
    return not (isinstance(error, str) and error in SPECIAL_ERRORS)


TOKEN_ANSWERS = answers(TOKEN, TOKEN_ODD).filter(not_special)

DEVICE = {
    "device_code": DEVICE_CODE,
    "user_code": "WDJB-MJHT",
    "verification_uri": "https://hostile.example/device",
    "expires_in": 900,
    "interval": 5,
}
DEVICE_ODD_VALUES: dict[str, list[Any]] = {
    "device_code": [DROP, None, 5, [], {"a": 1}, "", True],
    "user_code": [DROP, None, 5, [], "", {"a": 1}],
    "verification_uri": [DROP, None, 5, "", [], "javascript:alert(1)"],
    "verification_url": [None, 5, "", "https://hostile.example/device"],
    "expires_in": NUMBERS,
    "interval": NUMBERS,
    "error": ["device_flow_disabled", "unauthorized_client", 5, None, [], {}, ""],
    "error_description": ERROR_TEXTS,
}
DEVICE_ODD = {key: one_of_values(values) for key, values in DEVICE_ODD_VALUES.items()}
DEVICE_ANSWERS = answers(DEVICE, DEVICE_ODD)


@st.composite
def pending_answers(draw: st.DrawFn) -> list[Answer]:
    """What a server says while the user has not decided yet: a few of them."""
    return [
        Answer.json(
            {
                "error": draw(st.sampled_from(["authorization_pending", "slow_down"])),
                **draw(st.fixed_dictionaries({}, optional={"error_description": ODD})),
            },
            draw(st.sampled_from([200, 400])),
        )
        for _ in range(draw(st.integers(0, 3)))
    ]


IDENTITY = {"login": OWNER, "id": 1, "name": "The Octocat"}
IDENTITY_ODD_VALUES: dict[str, list[Any]] = {
    "login": [DROP, 12345, {"login": OWNER}, "", None, [], True, [OWNER], 1.5, " ", HUGE],
}
IDENTITY_ODD = {key: one_of_values(values) for key, values in IDENTITY_ODD_VALUES.items()}
SCOPES_HEADERS = [None, "", "repo", "repo, user", ",,,", "a" * 5000]


@st.composite
def identity_answers(draw: st.DrawFn) -> Answer:
    answer = draw(answers(IDENTITY, IDENTITY_ODD, statuses=(200, 200, 200, 500, 401)))
    scopes = draw(st.sampled_from(SCOPES_HEADERS))
    if scopes is None:
        return answer
    return Answer(answer.status, answer.body, (*answer.headers, ("X-OAuth-Scopes", scopes)))


def expected_owner(answer: Answer) -> str | None:
    """The owner a valid verification names: the login sent as a string (or a whole
    number, as some providers' ids are); anything else must be an error."""
    login = sent_value(answer, "login")
    if isinstance(login, str) and login:
        return login
    if isinstance(login, int) and not isinstance(login, bool):
        return str(login)
    return None


PAGE_RAW = [
    (b"<html><body>Sign in</body></html>", "text/html"),
    (b"", "application/json"),
    (b'[{"id": 1}, {"id"', "application/json"),
    (b"[NaN, Infinity]", "application/json"),
    (b"\xff\xfe[]", "application/json"),
    (b"42", "application/json"),
    (b'"a string"', "application/json"),
    (b"null", "application/json"),
]


@st.composite
def page_answers(draw: st.DrawFn, url: str) -> Answer:
    """An API page: odd bodies, odd statuses, odd Link and rate-limit headers."""
    status = draw(st.sampled_from([200, 200, 200, 403, 429, 500, 401, 404, 304, 204]))
    body, kind_of = draw(
        st.one_of(
            st.sampled_from(PAGE_RAW),
            st.tuples(
                st.lists(ODD, max_size=3).map(lambda v: json.dumps(v).encode()),
                st.just("application/json"),
            ),
            st.tuples(
                ODD.map(lambda v: json.dumps({"items": v}).encode()), st.just("application/json")
            ),
        )
    )
    headers = draw(
        st.fixed_dictionaries(
            {}, optional={k: st.sampled_from(v) for k, v in page_header_values(url).items()}
        )
    )
    mode = draw(st.sampled_from(["normal"] * 8 + ["truncate", "close"]))
    pairs = (("Content-Type", kind_of), *headers.items())
    return Answer(status, body, pairs, mode)  # type: ignore[arg-type]


def page_header_values(url: str) -> dict[str, list[str]]:
    """Odd values for the headers that carry a page's paging and rate limits."""
    here = f"{url}/api/items"
    return {
        "Link": [
            "garbage", ";;;", "<", 'rel="next"', '<>; rel="next"', '<nonsense>; rel="next"',
            '<http://[::1>; rel="next"', f'<{here}?page=2>; rel="next"',
            f'<{here}?page=abc>; rel="last"', f'<{here}?page=0>; rel="last"',
            f'<{here}?page=-1>; rel="last"', f'<{here}?page=99999999999>; rel="last"',
            f'<{here}?page=2>; rel="next", <{here}?page=3>; rel="last"',
        ],
        "Retry-After": [
            "soon", "-5", "0", "1", "30", " ", "1e400", "inf", "nan", "10" * 10,
            "Wed, 21 Oct 2015 07:28:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT",
        ],
        "X-RateLimit-Remaining": ["0", "abc", "-1", "5000"],
        "X-RateLimit-Reset": [
            "abc", "", "-1", "0", "1e400", "inf", "nan", "10" * 10, str(int(time.time()) + 30)
        ],
        "ETag": ['"abc"', "", 'W/"x"'],
    }  # fmt: skip


def discovery_document(url: str) -> dict[str, Any]:
    return {
        "issuer": url,
        "authorization_endpoint": f"{url}/authorize",
        "token_endpoint": f"{url}/token",
        "jwks_uri": f"{url}/jwks",
        "userinfo_endpoint": f"{url}/userinfo",
        "device_authorization_endpoint": f"{url}/device",
        "revocation_endpoint": f"{url}/revoke",
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
    }


ENDPOINT_KEYS = (
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "userinfo_endpoint",
    "device_authorization_endpoint",
    "revocation_endpoint",
)
BAD_ENDPOINTS = [
    DROP, None, 5, [], {"a": 1}, "", "http://evil.example/token", "HTTP://EVIL.EXAMPLE/x",
    "http://127.0.0.1.evil.example/x", "http://localhost.evil.example/x", "ftp://127.0.0.1/x",
    "javascript:alert(1)", "file:///etc/passwd", "//evil.example/x", "/relative", "https://",
]  # fmt: skip


def discovery_odd_values(url: str) -> dict[str, list[Any]]:
    return {
        **dict.fromkeys(ENDPOINT_KEYS, BAD_ENDPOINTS),
        "issuer": [DROP, None, 5, [], url + "/", "https://other.example", "", {"a": 1}],
        "code_challenge_methods_supported": [DROP, ["plain"], "S256", 5, None, {}, [None], [5]],
        "token_endpoint_auth_methods_supported": [
            DROP, "client_secret_post", 5, None, [None], ["private_key_jwt"], {}
        ],
    }  # fmt: skip


def discovery_answers(url: str) -> st.SearchStrategy[Answer]:
    odd = {key: one_of_values(values) for key, values in discovery_odd_values(url).items()}
    return answers(discovery_document(url), odd, statuses=(200, 200, 200, 404, 500), raw=PAGE_RAW)


URL_OVERRIDES = (
    "authorize_url", "token_url", "jwks_uri", "user_url", "device_url", "revocation_url",
    "api_base", "issuer",
)  # fmt: skip


def assert_safe_endpoint(name: str, value: Any) -> None:
    """https://HOST/..., or http:// on a loopback address (RFC 8252 §8.3)."""
    assert isinstance(value, str), f"{name} is {value!r}"
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    loopback = host in ("127.0.0.1", "::1", "localhost")
    assert (parts.scheme == "https" and host) or (parts.scheme == "http" and loopback), (
        f"{name} {value!r} is neither https nor loopback http"
    )


# -- the scenario -----------------------------------------------------------------------


class Scenario:
    """One provider `hostile` on the hostile server, and a fresh credentials file per call."""

    def __init__(self, server: HostileServer, provider: Provider, tmp_path: Path) -> None:
        self.server, self.provider, self.tmp_path = server, provider, tmp_path
        self.fetch_time = Sleeper(budget=FETCH_SLEEP_BUDGET)
        self._templates: dict[str, bytes] = {}
        self.states: dict[str, str] = {}  # template kind -> its pending authorization

    # credentials files, made once per test through the entry points, copied per call

    def _template(self, kind: str, make: Callable[[CredentialsFile], None]) -> bytes:
        if kind not in self._templates:
            path = self.tmp_path / f"template-{kind}" / "creds.json"
            make(CredentialsFile(path))
            self._templates[kind] = path.read_bytes()
        return self._templates[kind]

    def _configure(self, creds: CredentialsFile) -> None:
        flow.configure(
            creds,
            self.provider,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uri=REDIRECT_URI,
            scope="repo",
        )

    def _with_code(self, creds: CredentialsFile, kind: str = "code") -> None:
        self._configure(creds)
        started = flow.start_authorization(creds, self.provider)
        self.states[kind] = flow.store_code(creds, self.provider, code=CODE, state=started.state)

    def _with_unverified(self, creds: CredentialsFile) -> None:
        self._with_code(creds, "unverified")
        self.server.reset()
        self.server.answer("/token", Answer.json(TOKEN))
        flow.exchange_code(creds, self.provider, state=self.states["unverified"])

    def _with_owner(self, expired: bool) -> Callable[[CredentialsFile], None]:
        def make(creds: CredentialsFile) -> None:
            self._configure(creds)
            with creds.update() as data:
                record = data["hostile"]
                record["tokens"] = {
                    OWNER: {
                        "access_token": OLD_ACCESS,
                        "token_type": "bearer",
                        "refresh_token": OLD_REFRESH,
                        "scope": ["repo"],
                        "requested_scope": "repo",
                        "created_at": "2020-01-01T00:00:00Z",
                        **({"expires_at": "2020-01-01T08:00:00Z"} if expired else {}),
                        "login": OWNER,
                        "verified_at": "2020-01-01T00:00:01Z",
                    }
                }
                record["default_user"] = OWNER

        return make

    def fresh(self, template: bytes) -> Path:
        path = Path(tempfile.mkdtemp(dir=self.tmp_path)) / "creds.json"
        path.write_bytes(template)
        return path

    # the invariant

    def attempt(self, path: Path, call: Callable[[], Any]) -> Outcome:
        """Run `call`; errors must be clear and leave `path` untouched; no loops."""
        before = snapshot(path)
        try:
            result = call()
        except OAuthDanceError as error:
            assert not self.server.overflowed, f"looped: {len(self.server.requests)} requests"
            assert_clear(error)
            assert snapshot(path) == before, (
                f"{type(error).__name__} ({str(error)[:200]!r}), yet the credentials file "
                f"changed:\nbefore: {before!r:.600}\nafter:  {snapshot(path)!r:.600}"
            )
            self.assert_secrets_stay_home()
            return Outcome(error=error)
        except BaseException as exc:
            if snapshot(path) != before:
                exc.add_note("hostile test: and the credentials file had already been changed")
            raise
        assert not self.server.overflowed, f"looped: {len(self.server.requests)} requests"
        self.assert_secrets_stay_home()
        return Outcome(result=result)

    def assert_secrets_stay_home(self) -> None:
        for request in self.server.requests:
            path = urlsplit(request.path).path
            if request.mentions(CLIENT_SECRET):  # RFC 8628 §3.1: the device endpoint too
                assert path in ("/token", "/device"), f"the secret was sent to {request.path}"
            for secret in (OLD_REFRESH, NEW_REFRESH):
                if request.mentions(secret):
                    assert path == "/token", f"{secret!r} was sent to {request.path}"
            for secret in (OLD_ACCESS, NEW_ACCESS):
                if request.mentions(secret):
                    assert path.startswith("/api/"), f"{secret!r} was sent to {request.path}"

    def stored(self, path: Path) -> dict[str, Any]:
        return CredentialsFile(path).record("hostile")

    # the steps, each against programmed answers

    def exchange(self, answer: Answer) -> Outcome:
        template = self._template("code", self._with_code)
        self.server.reset()
        self.server.answer("/token", answer)
        path = self.fresh(template)
        creds = CredentialsFile(path)
        outcome = self.attempt(path, lambda: flow.exchange_code(creds, self.provider))
        if outcome.error is None:
            record = self.stored(path)
            state = self.states["code"]
            assert state not in (record.get("pending") or {}), "the code was not consumed"
            assert_valid_token(record["unverified"][state], answer)
        return outcome

    def refresh(self, answer: Answer, via: str) -> Outcome:
        """`via="token"`: `oauthdance.token()` with an expired token; `via="session-401"`:
        a session whose API refuses the token once."""
        expired = via != "session-401"
        template = self._template(f"owner-{expired}", self._with_owner(expired))
        self.server.reset()
        self.server.answer("/token", answer)
        self.server.answer("/api/items", Answer.json([{"id": 1}]))
        if via == "session-401":
            self.server.answer(
                "/api/items",
                Answer.json({"message": "Bad credentials"}, 401),
                Answer.json([{"id": 1}]),
            )
        path = self.fresh(template)

        def call() -> Any:
            if via == "token":
                return oauthdance.token("hostile", creds=path)
            return oauthdance.session("hostile", creds=path).get("/items")

        outcome = self.attempt(path, call)
        if outcome.error is None:
            token = self.stored(path)["tokens"][OWNER]
            assert_valid_token(token, answer)
            assert token.get("login") == OWNER
            if via == "token":
                assert outcome.result == token["access_token"]
        return outcome

    def device(
        self,
        device_answer: Answer,
        token_answers: list[Answer],
        sleep: Callable[[float], None] | None = None,
        limit: int = 60,
    ) -> Outcome:
        template = self._template("configured", self._configure)
        self.server.reset(limit)
        self.server.answer("/device", device_answer)
        self.server.answer("/token", *token_answers)
        self.server.answer(
            "/api/user", Answer.json(IDENTITY, headers=(("X-OAuth-Scopes", "repo"),))
        )
        path = self.fresh(template)
        creds = CredentialsFile(path)
        sleeper = Sleeper()
        outcome = self.attempt(
            path,
            lambda: device_login(
                creds, self.provider, sleep=sleep or sleeper.sleep, stderr=io.StringIO()
            ),
        )
        if outcome.error is None:
            assert outcome.result.owner == OWNER
            assert_valid_token(self.stored(path)["tokens"][OWNER], token_answers[-1])
        return outcome

    def verify(self, identity: Answer) -> Outcome:
        template = self._template("unverified", self._with_unverified)
        self.server.reset()
        self.server.answer("/api/user", identity)
        path = self.fresh(template)
        creds = CredentialsFile(path)
        outcome = self.attempt(path, lambda: flow.verify_token(creds, self.provider))
        if outcome.error is None:
            owner = expected_owner(identity)
            assert owner is not None, (
                f"verified although the login was {sent_value(identity, 'login')!r:.80}"
            )
            assert [v.owner for v in outcome.result] == [owner]
            record = self.stored(path)
            assert record.get("default_user") == owner
            assert record["tokens"][owner]["access_token"] == NEW_ACCESS
            assert all(isinstance(s, str) for s in outcome.result[0].scopes)
        return outcome

    def fetch(self, *pages: Answer, limit: int = 200, **options: Any) -> Outcome:
        template = self._template("owner-False", self._with_owner(False))
        self.server.reset(limit)
        self.server.answer("/api/items", *pages)
        self.fetch_time.reset()
        path = self.fresh(template)
        options = {"wait": False, "max_pages": 3, "workers": 2, **options}

        out = self.tmp_path / "items.json"

        def call() -> list[Any]:
            """The items as the Python API yields them, and as `--format json` writes them
            (pages that are arrays go through undecoded): the same."""
            items: list[Any] = []
            writer = ItemWriter(str(out), "json")
            opened = open_fetch(resolve_target("hostile", None, path), FetchOptions(**options))
            try:
                for page in opened.fetcher.pages(opened.url("/items")):
                    items.extend(page.items)
                    writer.write_page(page)
            finally:
                writer.close()
            return items

        outcome = self.attempt(path, call)
        if outcome.error is None:
            assert isinstance(outcome.result, list)
            json.dumps(outcome.result)  # items are JSON values
            assert json.loads(out.read_bytes()) == outcome.result
        return outcome

    def discover(self, document: Answer) -> Outcome:
        self.server.reset()
        self.server.answer("/.well-known/openid-configuration", document)
        path = self.tmp_path / "no-credentials-file-here.json"
        outcome = self.attempt(path, lambda: discover(self.server.url))
        # only metadata is asked for: the OpenID document, then RFC 8414's where there is
        # none (a GET that breaks off is retried: the same URL)
        assert set(self.server.paths()) <= {
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
        }, self.server.paths()
        if outcome.error is None:
            overrides = outcome.result
            assert isinstance(overrides, dict), overrides
            assert overrides["oidc"] is True  # only the OpenID document was served
            for key in ("authorize_url", "token_url", "jwks_uri"):
                assert key in overrides, f"no {key} in {overrides}"
            for key in URL_OVERRIDES:
                if key in overrides:
                    assert_safe_endpoint(key, overrides[key])
            assert overrides["issuer"].rstrip("/") == self.server.url
            assert isinstance(overrides.get("pkce"), bool), overrides.get("pkce")
            get_provider("oidc").with_overrides(overrides, "discovery")  # usable as is
        return outcome


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with HostileServer() as running:
        yield running


@pytest.fixture(autouse=True)
def refused_hosts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Nothing leaves loopback; the list holds each outside host the package tried."""
    return loopback_only(monkeypatch)


@pytest.fixture
def scenario(server: HostileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scenario:
    providers = tmp_path / "providers.yaml"
    providers.write_text(PROVIDERS_YAML.format(url=server.url))
    monkeypatch.setenv("OAUTHDANCE_PROVIDERS", str(providers))
    for key in list(os.environ):
        if key.startswith("HOSTILE_"):
            monkeypatch.delenv(key)
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # durability is not under test here
    server.reset()
    made = Scenario(server, get_provider("hostile", providers), tmp_path)
    # virtual time for fetches: urllib3's Retry-After sleeps and the fetcher's waits
    clock = made.fetch_time
    monkeypatch.setattr(
        urllib3.util.retry, "time", SimpleNamespace(time=clock.time, sleep=clock.sleep)
    )
    real_init = Fetcher.__init__

    def virtual_init(self: Fetcher, session: Any, **options: Any) -> None:
        real_init(self, session, **{"sleep": clock.sleep, "clock": clock.time, **options})

    monkeypatch.setattr(Fetcher, "__init__", virtual_init)
    return made


# -- the token endpoint -----------------------------------------------------------------


@HOSTILE
@given(answer=TOKEN_ANSWERS)
def test_exchange_survives_any_token_answer(scenario: Scenario, answer: Answer) -> None:
    scenario.exchange(answer)


@pytest.mark.parametrize("via", ["token", "session-401"])
@HOSTILE
@given(answer=TOKEN_ANSWERS)
def test_refresh_survives_any_token_answer(scenario: Scenario, via: str, answer: Answer) -> None:
    scenario.refresh(answer, via)


@HOSTILE
@given(pending=pending_answers(), answer=TOKEN_ANSWERS)
def test_device_polling_survives_any_token_answer(
    scenario: Scenario, pending: list[Answer], answer: Answer
) -> None:
    scenario.device(Answer.json(DEVICE), [*pending, answer])


# -- the device authorization endpoint --------------------------------------------------


@HOSTILE
@given(answer=DEVICE_ANSWERS)
def test_device_login_survives_any_device_answer(scenario: Scenario, answer: Answer) -> None:
    scenario.device(answer, [Answer.json(TOKEN)])


# -- the identity endpoint --------------------------------------------------------------


@HOSTILE
@given(identity=identity_answers())
def test_verify_survives_any_identity_answer(scenario: Scenario, identity: Answer) -> None:
    scenario.verify(identity)


# -- API pages --------------------------------------------------------------------------


@HOSTILE
@given(data=st.data())
def test_fetch_survives_any_page(scenario: Scenario, data: st.DataObject) -> None:
    page = data.draw(page_answers(scenario.server.url), label="page")
    scenario.fetch(page)


# -- OIDC discovery ---------------------------------------------------------------------


@HOSTILE
@given(data=st.data())
def test_discovery_survives_any_document(scenario: Scenario, data: st.DataObject) -> None:
    scenario.discover(data.draw(discovery_answers(scenario.server.url), label="document"))


# -- the named cases, explicitly ----------------------------------------------------------

NOT_TOKENS = {
    "list": Answer.json([TOKEN]),
    "empty-list": Answer.json([]),
    "list-of-pairs": Answer.json([["access_token", NEW_ACCESS], ["token_type", "bearer"]]),
    "null": Answer.json(None),
    "numeric-token": Answer.json({**TOKEN, "access_token": 12345}),
}


@pytest.mark.parametrize("answer", NOT_TOKENS.values(), ids=NOT_TOKENS.keys())
@pytest.mark.parametrize("step", ["exchange", "refresh", "device"])
def test_token_answer_that_is_no_token_is_refused(
    scenario: Scenario, step: str, answer: Answer
) -> None:
    """A token answer that is a list, null, or has `access_token: 12345`: nothing is stored,
    the step fails with a clear error."""
    if step == "exchange":
        outcome = scenario.exchange(answer)
    elif step == "refresh":
        outcome = scenario.refresh(answer, "token")
    else:
        outcome = scenario.device(Answer.json(DEVICE), [answer])
    assert outcome.error is not None, f"{step} accepted {answer!r}"


@pytest.mark.parametrize("body", [None, [DEVICE], "device"], ids=["null", "list", "string"])
def test_device_answer_that_is_no_object_is_refused(scenario: Scenario, body: Any) -> None:
    outcome = scenario.device(Answer.json(body), [Answer.json(TOKEN)])
    assert outcome.error is not None


def test_identity_that_is_a_list_is_refused(scenario: Scenario) -> None:
    outcome = scenario.verify(Answer.json([IDENTITY]))
    assert outcome.error is not None


@pytest.mark.parametrize("login", [12345.5, {"login": OWNER}, [OWNER], True, ""])
def test_identity_whose_login_is_no_name_is_refused(scenario: Scenario, login: Any) -> None:
    outcome = scenario.verify(Answer.json({**IDENTITY, "login": login}))
    assert outcome.error is not None


def test_api_page_that_is_html_is_a_clear_error(scenario: Scenario) -> None:
    outcome = scenario.fetch(html(200))
    assert outcome.error is not None


@pytest.mark.parametrize("status", [403, 429])
def test_huge_retry_after_is_no_endless_sleep(scenario: Scenario, status: int) -> None:
    """With wait=False, a server asking for a 30-year pause gets a clear error, at once."""
    answer = Answer.json({"message": "slow down"}, status, (("Retry-After", str(10**9)),))
    started = time.monotonic()
    outcome = scenario.fetch(answer)
    assert outcome.error is not None
    assert scenario.fetch_time.slept <= FETCH_SLEEP_BUDGET
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("status", [403, 429])
def test_retry_after_that_is_no_number_is_a_clear_error(scenario: Scenario, status: int) -> None:
    answer = Answer.json({"message": "slow down"}, status, (("Retry-After", "soon"),))
    scenario.fetch(answer)


@pytest.mark.parametrize("reset", ["soon", "0", "nan", "inf", "1e400", str(10**20)])
def test_rate_limit_reset_garbage_is_a_clear_error(scenario: Scenario, reset: str) -> None:
    """A spent limit whose reset is no time (or long past) is neither a crash nor a loop."""
    headers = (("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", reset))
    scenario.fetch(Answer.json({"message": "API rate limit exceeded"}, 403, headers))


def test_next_link_back_to_the_same_page_ends(scenario: Scenario) -> None:
    """A `next` link that leads back where it came from must not be followed forever."""
    url = f"{scenario.server.url}/api/items?per_page=100"
    page = Answer.json([{"id": 1}], headers=(("Link", f'<{url}>; rel="next"'),))
    scenario.fetch(page, limit=40, max_pages=None)


def test_device_polling_ends_when_the_code_expires(scenario: Scenario) -> None:
    """`slow_down` forever: polling stops once the device code's `expires_in` is over."""
    device = Answer.json({**DEVICE, "expires_in": 1, "interval": 1})
    outcome = scenario.device(
        device,
        [Answer.json({"error": "slow_down"}, 400)],
        sleep=lambda s: time.sleep(0.15),
        limit=12,
    )
    assert outcome.error is not None


def test_discovery_refuses_a_plain_http_endpoint_elsewhere(
    scenario: Scenario, refused_hosts: list[str]
) -> None:
    """Every endpoint must be https, or http on loopback: `http://evil.example` is refused
    before anything is sent there."""
    document = {
        **discovery_document(scenario.server.url),
        "token_endpoint": "http://evil.example/token",
    }
    outcome = scenario.discover(Answer.json(document))
    assert outcome.error is not None
    assert refused_hosts == []
