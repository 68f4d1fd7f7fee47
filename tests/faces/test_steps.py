"""Every step of the dance as a Python call, against the sandbox: each answers with its typed
result, none shows a secret, and the credentials file ends as the tasks leave it (the same
steps run through invoke on a second file, compared with secrets, states and times masked)."""

from __future__ import annotations

import dataclasses
import inspect
import json
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import oauthdance
from oauthdance.base.errors import ConfigError, UsageError
from oauthdance.dance.results import (
    Checked,
    CodeStored,
    Configured,
    Exchanged,
    Identity,
    LoggedOut,
    Refreshed,
    Result,
    Revoked,
    Status,
    StatusRow,
)
from oauthdance.sandbox import App, RunningSandbox
from oauthdance.sandbox.browser import approve
from tests.support.conformance import masked, secrets_of, stored
from tests.support.invoking import run_invoke
from tests.support.lifecycle import logged_in
from tests.support.sandbox import configure_args

REDIRECT = "http://127.0.0.1:8765/callback"  # what configure_args registers for the tasks
SCOPE = "repo offline_access"  # the sandbox issues expiring, refreshable tokens for it


def configure(sandbox: RunningSandbox, app: App, creds: Path, scope: str = SCOPE) -> Configured:
    """`oauthdance.configure` with what `configure_args` gives `auth.configure`."""
    return oauthdance.configure(
        "sandbox",
        creds=creds,
        client_id=app.client_id,
        client_secret=app.client_secret,
        redirect_uri=REDIRECT,
        scope=scope,
        host=sandbox.host,
    )


def task(*args: str) -> str:
    """An invoke task in this process; its stdout (it must succeed)."""
    done = run_invoke(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def task_json(*args: str) -> Any:
    return json.loads(task(*args, "--json"))


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def same_result(result: Result, printed: dict[str, Any], *, but: tuple[str, ...] = ()) -> None:
    """A step's result is what its task prints with `--json` (which may print fewer
    fields), but for what differs between two runs."""
    ours = result.to_dict()
    assert set(printed) <= set(ours), set(printed) - set(ours)

    def shape(shown: dict[str, Any]) -> Any:
        return masked({k: v for k, v in shown.items() if k in printed and k not in but})

    assert shape(ours) == shape(printed)


def assert_nothing_secret(results: list[Any], secrets: set[str]) -> None:
    """No raw token, refresh token, client secret, code or verifier in any way a result is
    shown: repr (a notebook's plain output), str, to_dict() (JSON), the HTML table."""
    assert secrets
    for result in results:
        shown = [repr(result), str(result), json.dumps(result.to_dict(), default=str)]
        if hasattr(result, "_repr_html_"):
            shown.append(result._repr_html_())
        for text in shown:
            leaked = [s for s in secrets if s in text]
            assert not leaked, f"{type(result).__name__} shows a secret: {text}"


def test_every_step_answers_typed_and_stores_what_the_tasks_store(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    py, tasks = tmp_path / "python.json", tmp_path / "tasks.json"
    T = ["-p", "sandbox", "--creds", str(tasks)]
    results: list[Any] = []
    secrets = {app.client_secret}

    # configure -> authorize_url -> (approve) -> store_code -> exchange -> verify
    configured = configure(sandbox, app, py)
    assert isinstance(configured, Configured)
    assert (configured.provider, configured.client_id, configured.creds) == (
        "sandbox",
        app.client_id,
        str(py),
    )
    assert configured.client_secret.startswith("****") and configured.secret_source == "file"
    assert (configured.redirect_uri, configured.scope) == (REDIRECT, SCOPE)
    printed = json.loads(task(*configure_args(sandbox, app, tasks, scope=SCOPE), "--json"))
    same_result(configured, printed, but=("creds",))

    url = oauthdance.authorize_url("sandbox", creds=py)
    assert isinstance(url, str) and url.startswith(sandbox.url + "/login/oauth/authorize?")
    asked = query(url)
    assert asked["redirect_uri"] == REDIRECT and asked["code_challenge_method"] == "S256"
    assert list(stored(py)["sandbox"]["pending"]) == [asked["state"]]  # kept, as auth.url does
    location = approve(url)
    secrets.add(query(location)["code"])
    secrets |= secrets_of(stored(py))  # the verifier
    coded = oauthdance.store_code(location, provider="sandbox", creds=py)
    assert coded == CodeStored("sandbox", asked["state"])
    exchanged = oauthdance.exchange("sandbox", creds=py)
    assert isinstance(exchanged, Exchanged)
    assert (exchanged.state, exchanged.owner, exchanged.scope) == (asked["state"], None, ("repo",))
    assert exchanged.token.startswith("ghu_****") and exchanged.expires_at
    identities = oauthdance.verify("sandbox", creds=py)
    assert isinstance(identities, list) and len(identities) == 1
    me = identities[0]
    assert isinstance(me, Identity)
    assert (me.provider, me.owner, me.scopes, me.missing_scopes) == (
        "sandbox",
        "octocat",
        ("repo",),
        (),
    )
    assert (me.token, me.source, me.creds) == (exchanged.token, "file", str(py))
    assert me.expires_at == exchanged.expires_at
    html = me._repr_html_()
    assert "<table>" in html and "octocat" in html and "repo" in html and str(py) in html

    started = task_json("auth.url", *T)
    task("auth.code", *T, "--url", approve(started["url"]))
    same_result(exchanged, task_json("auth.exchange", *T))
    same_result(me, task_json("auth.verify", *T)[0])
    assert masked(stored(py)) == masked(stored(tasks))
    secrets |= secrets_of(stored(py)) | secrets_of(stored(tasks))

    # check -> refresh
    checked = oauthdance.check("sandbox", creds=py)
    assert isinstance(checked, Checked) and checked and checked.valid is True
    assert (checked.owner, checked.login, checked.scopes) == ("octocat", "octocat", ("repo",))
    same_result(checked, task_json("auth.check", *T))
    before = stored(py)["sandbox"]["tokens"]["octocat"]
    refreshed = oauthdance.refresh("sandbox", creds=py)
    assert isinstance(refreshed, Refreshed) and refreshed.owner == "octocat"
    after = stored(py)["sandbox"]["tokens"]["octocat"]
    assert after["access_token"] != before["access_token"]  # a new token ...
    assert after["refresh_token"] != before["refresh_token"]  # ... and the refresh token rotated
    assert refreshed.token.startswith("ghu_****") and refreshed.token != me.token
    assert refreshed.token[-4:] == after["access_token"][-4:]
    same_result(refreshed, task_json("auth.refresh", *T))
    assert masked(stored(py)) == masked(stored(tasks))
    secrets |= secrets_of(stored(py)) | secrets_of(stored(tasks))

    # a second owner, made the default: authorize_url(user=) -> ... -> use
    url = oauthdance.authorize_url("sandbox", "hubot", py)
    assert query(url)["login"] == "hubot"
    location = approve(url, login="hubot")
    secrets.add(query(location)["code"])
    oauthdance.store_code(location, provider="sandbox", user="hubot", creds=py)
    named = oauthdance.exchange("sandbox", "hubot", py)
    assert named.owner == "hubot"
    assert [i.owner for i in oauthdance.verify("sandbox", "hubot", py)] == ["hubot"]
    assert oauthdance.use("sandbox", "hubot", py) == "hubot"
    started = task_json("auth.url", *T, "-u", "hubot")
    task("auth.code", *T, "-u", "hubot", "--url", approve(started["url"], login="hubot"))
    task("auth.exchange", *T, "-u", "hubot")
    task("auth.verify", *T, "-u", "hubot")
    task("auth.use", *T, "-u", "hubot")
    assert stored(py)["sandbox"]["default_user"] == "hubot"
    assert masked(stored(py)) == masked(stored(tasks))
    secrets |= secrets_of(stored(py)) | secrets_of(stored(tasks))

    status = oauthdance.status(creds=py)
    assert isinstance(status, Status) and len(status) == 2
    assert all(isinstance(row, StatusRow) for row in status)
    assert {(row.owner, row.default, row.refreshable) for row in status} == {
        ("octocat", False, True),
        ("hubot", True, True),
    }
    same_result(status, {"creds": str(tasks), "rows": task_json("auth.status", *T)}, but=("creds",))
    assert status.to_dict()["creds"] == str(py)
    assert "hubot (default)" in status._repr_html_()

    # logout (here only) and revoke (at the provider too)
    raw = {owner: t["access_token"] for owner, t in stored(py)["sandbox"]["tokens"].items()}
    with pytest.warns(UserWarning, match="still works at the provider until it is revoked"):
        gone = oauthdance.logout("sandbox", "hubot", py)
    assert dataclasses.replace(gone, warnings=()) == LoggedOut("sandbox", "hubot", str(py))
    assert 'use `oauthdance.revoke("sandbox", user="hubot", creds=' in gone.warnings[0]
    assert sandbox.model.token_for(raw["hubot"])  # still works at the provider
    revoked = oauthdance.revoke("sandbox", "octocat", py)
    assert revoked == Revoked("sandbox", "octocat", already_invalid=False)
    assert sandbox.model.token_for(raw["octocat"]) is None  # revoked there
    assert "tokens" not in stored(py)["sandbox"] or not stored(py)["sandbox"]["tokens"]
    task("auth.logout", *T, "-u", "hubot")
    task("auth.revoke", *T, "-u", "octocat")
    assert masked(stored(py)) == masked(stored(tasks))

    results += [configured, coded, exchanged, me, checked, refreshed, named, status, gone]
    results += [*status.rows, revoked, oauthdance.status(creds=py)]
    assert_nothing_secret(results, secrets)
    for result in results:  # frozen: a result is an answer, not a handle on the store
        with pytest.raises(dataclasses.FrozenInstanceError):
            result.provider = "changed"  # type: ignore[misc]  # the point of the test


def test_a_bare_code_is_stored_on_the_state_named_and_exchanged_by_state(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    """Two authorizations in flight, both approved: each code goes where `state=` says, and
    `exchange(state=)` trades that one, leaving the other pending (as the tasks do)."""
    py, tasks = tmp_path / "python.json", tmp_path / "tasks.json"
    T = ["-p", "sandbox", "--creds", str(tasks)]
    configure(sandbox, app, py)
    task(*configure_args(sandbox, app, tasks, scope=SCOPE))

    first, second = (query(approve(oauthdance.authorize_url("sandbox", creds=py))) for _ in "12")
    stored_second = oauthdance.store_code(second["code"], second["state"], "sandbox", creds=py)
    stored_first = oauthdance.store_code(
        first["code"], state=first["state"], provider="sandbox", creds=py
    )
    assert (stored_first.state, stored_second.state) == (first["state"], second["state"])
    exchanged = oauthdance.exchange("sandbox", creds=py, state=first["state"])
    assert exchanged.state == first["state"]
    pending = stored(py)["sandbox"]["pending"]
    assert list(pending) == [second["state"]] and pending[second["state"]]["code"] == second["code"]
    assert [row.pending for row in oauthdance.status("sandbox", creds=py)] == [1]

    urls = [task_json("auth.url", *T)["url"] for _ in "12"]
    one, two = (query(approve(url)) for url in urls)
    task("auth.code", *T, "--code", two["code"], "--state", two["state"])
    task("auth.code", *T, "--code", one["code"], "--state", one["state"])
    task("auth.exchange", *T, "--state", one["state"])
    assert masked(stored(py)) == masked(stored(tasks))


def test_status_with_nothing_stored_then_an_app_without_a_token(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    empty = oauthdance.status(creds=tmp_path / "creds.json")
    assert isinstance(empty, Status) and len(empty) == 0 and not empty and list(empty) == []
    assert empty.to_dict() == {"creds": str(tmp_path / "creds.json"), "rows": [], "warnings": []}
    assert "nothing stored" in empty._repr_html_()
    configure(sandbox, app, tmp_path / "creds.json")
    (row,) = oauthdance.status(creds=tmp_path / "creds.json")
    assert (row.provider, row.owner, row.token, row.pending) == ("sandbox", None, "", 0)
    assert row.to_dict()["client_secret"].startswith("****")
    with pytest.raises(ConfigError, match="unknown provider 'sandbx'"):  # not "nothing stored"
        oauthdance.status("sandbx", creds=tmp_path / "creds.json")


def test_check_is_falsy_for_a_token_the_sandbox_revoked(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    path = tmp_path / "creds.json"
    token = logged_in(sandbox, app, path)
    assert oauthdance.check("sandbox", creds=path)
    sandbox.model.revoke_token(sandbox.model.tokens[token["access_token"]])
    before = path.read_bytes()
    checked = oauthdance.check("sandbox", creds=path)  # the provider's word, not an error
    assert isinstance(checked, Checked) and not checked and checked.valid is False
    assert checked.owner == "octocat" and checked.to_dict()["valid"] is False
    assert path.read_bytes() == before  # check changes nothing


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"mode": "nonsense"}, "mode='nonsense'"),
        ({"mode": "--paste"}, "mode='--paste'"),
        ({"port": "80"}, "port='80'"),
        ({"port": 70000}, "port=70000"),
        ({"port": -1}, "port=-1"),
    ],
)
def test_login_refuses_a_bad_mode_or_port_before_touching_the_file(
    tmp_path: Path, options: dict[str, Any], named: str
) -> None:
    path = tmp_path / "creds.json"
    oauthdance.configure(
        "sandbox", creds=path, client_id="abc", client_secret="s3cret", host="127.0.0.1:9"
    )
    before = path.read_bytes()
    with pytest.raises(UsageError) as caught:
        oauthdance.login("sandbox", creds=path, timeout=1, **options)
    assert named in caught.value.message and "--" not in (caught.value.hint or "")
    assert caught.value.exit_code == 2
    assert path.read_bytes() == before  # no pending authorization, nothing written


def test_what_a_task_warns_about_the_python_call_warns_at_the_callers_line(
    tmp_path: Path,
) -> None:
    """No secret yet: `auth.configure` prints `warning:`, `configure()` warns, naming the
    option as a Python caller passes it, at the line that called it."""
    path = tmp_path / "creds.json"
    with pytest.warns(UserWarning, match=r"no client secret yet: .* pass client_secret ") as seen:
        configured = oauthdance.configure(
            "sandbox", creds=path, client_id="abc", host="127.0.0.1:9"
        )
    assert seen[0].filename == __file__ and configured.client_secret == ""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a public client needs no secret: no warning
        oauthdance.configure("sandbox", creds=path, client_auth="none")


def test_a_state_is_named_by_its_first_characters_as_the_hint_shows_them(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    """Two authorizations wait: the "which one?" hint shows each state's first 8
    characters, and those 8 name it."""
    path = tmp_path / "creds.json"
    configure(sandbox, app, path)
    first = oauthdance.authorize_url("sandbox", creds=path)
    oauthdance.authorize_url("sandbox", creds=path)
    code = parse_qs(urlsplit(approve(first)).query)["code"][0]
    state = parse_qs(urlsplit(first).query)["state"][0]
    with pytest.raises(oauthdance.OAuthDanceError) as caught:
        oauthdance.store_code(code, provider="sandbox", creds=path)
    assert f'state="{state[:8]}"' in (caught.value.hint or "")
    assert oauthdance.store_code(code, state[:8], "sandbox", creds=path).state == state
    with pytest.raises(oauthdance.OAuthDanceError, match="is not one of the pending"):
        oauthdance.store_code(code, state[:7], "sandbox", creds=path)  # too short to name one


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (
            lambda path: oauthdance.configure("sandbox", creds=path, client_secret=...),
            "client_secret is ..., not text",
        ),
        (
            lambda path: oauthdance.store_code(..., provider="sandbox", creds=path),
            "url_or_code is ..., not text",
        ),
        (lambda path: oauthdance.login("sandbox", creds=path, timeout="x"), "timeout='x'"),
        (lambda path: oauthdance.login("sandbox", creds=path, timeout=-1), "timeout=-1"),
        (lambda path: oauthdance.device("sandbox", creds=path, timeout=0), "timeout=0"),
        (lambda path: oauthdance.use("sandbox", creds=path), 'user="NAME"'),
    ],
    ids=[
        "placeholder-secret",
        "placeholder-code",
        "timeout-text",
        "timeout-negative",
        "device-timeout-0",
        "use-without-user",
    ],
)
def test_a_value_pasted_from_a_hint_or_mistyped_is_a_usage_error(
    tmp_path: Path, call: Any, named: str
) -> None:
    """A hint's `...` pasted as it is (Python's Ellipsis), a timeout that is no number of
    seconds, `use()` with no owner: a UsageError naming the argument as Python spells it,
    and the file as it was."""
    path = tmp_path / "creds.json"
    oauthdance.configure(
        "sandbox", creds=path, client_id="abc", client_secret="s3cret", host="127.0.0.1:9"
    )
    before = path.read_bytes()
    with pytest.raises(UsageError) as caught:
        call(path)
    assert named in str(caught.value) and "--" not in str(caught.value)
    assert path.read_bytes() == before


def test_a_spent_rate_limit_says_what_to_change_as_the_face_spells_it() -> None:
    """`wait=False` and `max_wait` to a Python caller, `--no-wait` and `--max-wait` to a
    shell: the gate's advice is built where the fetch runs, in the caller's face."""
    from oauthdance.base.advice import Face, asking
    from oauthdance.paging.gate import RateGate
    from oauthdance.paging.progress import Progress

    def stopped(face: Face, wait: bool) -> str:
        gate = RateGate(wait, 900.0, Progress(), lambda s: None, lambda: 0.0)
        with asking(face):
            return str(gate._stop(True, "12:00", 3600.0, 3600.0))

    assert "drop wait=False to wait" in stopped(Face.PYTHON, False)
    assert "drop --no-wait to wait" in stopped(Face.INVOKE, False)
    python, shell = stopped(Face.PYTHON, True), stopped(Face.INVOKE, True)
    assert "longer than max_wait=900 s" in python and "raise max_wait" in python
    assert "longer than --max-wait 900 s" in shell and "raise --max-wait" in shell


def test_the_device_flow_ends_at_its_timeout_with_a_hint_that_works(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    """Nobody enters the code: `device(timeout=...)` ends then, and says to run the same
    call with a longer timeout (a parameter it has)."""
    from oauthdance.base.errors import LoginTimeout

    path = tmp_path / "creds.json"
    configure(sandbox, app, path)
    sandbox.model.device_interval, sandbox.model.device_lifetime = 0.2, 3  # bounded anyway
    with pytest.raises(LoginTimeout) as caught:
        oauthdance.device("sandbox", creds=path, timeout=0.05, browser=False)
    assert f'`oauthdance.device("sandbox", creds="{path}")` again with a longer timeout' in (
        caught.value.hint or ""
    )
    assert "timeout" in inspect.signature(oauthdance.device).parameters
    assert "pending" not in stored(path)["sandbox"]


def test_a_secret_given_as_bytes_is_refused_without_showing_it(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        oauthdance.configure("sandbox", creds=tmp_path / "c.json", client_secret=b"s3cr3t-value")
    assert "client_secret is a bytes, not text" in str(caught.value)
    assert "s3cr3t" not in str(caught.value) and "s3cr3t" not in repr(caught.value)
