"""One failure of a step, three faces: raised from the Python API its hint is the Python call
to make, from invoke the invoke command, from `oauthdance` the `oauthdance` command, each
carrying the provider, user and creds given (tests/base/test_advice.py does `auth.token`;
these are the dance's own steps). A Python hint is a call the API takes as written."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import oauthdance
import oauthdance.cli
from oauthdance.base.advice import Asked, asked
from oauthdance.base.errors import OAuthDanceError
from tests.support.invoking import run_invoke, run_invoke_process

CREDS = "alt.json"  # relative: each test runs in its own folder
ALT = ["-p", "sandbox", "-u", "alice", "--creds", CREDS]
WHO: dict[str, Any] = {"user": "alice", "creds": CREDS}


@dataclass(frozen=True)
class Failure:
    """A step run too early (or with too little), as a Python call and as a task."""

    pending: int  # authorizations started beforehand
    call: Callable[[], Any]
    task: tuple[str, ...]
    python: str  # what the Python hint says
    shell: str  # what the shell hint says, after `invoke ` / `oauthdance `


FAILURES = {
    "code before the url": Failure(
        0,
        lambda: oauthdance.store_code("CODE", provider="sandbox", **WHO),
        ("auth.code", *ALT, "--code", "CODE"),
        'run `oauthdance.authorize_url("sandbox", user="alice", creds="alt.json")` first',
        "auth.url -p sandbox -u alice --creds alt.json` first",
    ),
    "exchange before the code": Failure(
        1,
        lambda: oauthdance.exchange("sandbox", **WHO),
        ("auth.exchange", *ALT),
        'run `oauthdance.store_code("<the redirect URL>", provider="sandbox", user="alice", '
        'creds="alt.json")` first',
        "auth.code -p sandbox -u alice --creds alt.json --url '<the redirect URL>'` first",
    ),
    "a code from a state not handed out": Failure(
        1,
        lambda: oauthdance.store_code("CODE", "forged", "sandbox", **WHO),
        ("auth.code", *ALT, "--code", "CODE", "--state", "forged"),
        'start again with `oauthdance.authorize_url("sandbox", user="alice", creds="alt.json")`',
        "auth.url -p sandbox -u alice --creds alt.json`",
    ),
    "refresh with no token": Failure(
        0,
        lambda: oauthdance.refresh("sandbox", **WHO),
        ("auth.refresh", *ALT),
        'run `oauthdance.login("sandbox", user="alice", creds="alt.json")`, or pick another user',
        "auth.login -p sandbox -u alice --creds alt.json`, or pick another --user",
    ),
}
# A choice to make rather than a command to run: the option as the face spells it.
WHICH_STATE = Failure(
    2,
    lambda: oauthdance.store_code("CODE", provider="sandbox", **WHO),
    ("auth.code", *ALT, "--code", "CODE"),
    'next: pass state with one of them, or its first 8 characters: state="',
    "",
)
SHELL_WHICH_STATE = "next: pass --state with one of them, or its first 8 characters: --state "


def prepare(pending: int) -> bytes:
    """alt.json with the sandbox's app configured and `pending` authorizations started
    (no server is needed: nothing is sent before the code is exchanged); its bytes."""
    oauthdance.configure(
        "sandbox", creds=CREDS, client_id="abc", client_secret="s3cret", host="127.0.0.1:9"
    )
    for _ in range(pending):
        oauthdance.authorize_url("sandbox", creds=CREDS)
    return Path(CREDS).read_bytes()


def python_calls_in(hint: str) -> list[ast.Call]:
    """The calls in a hint's backticks, parsed as Python."""
    calls = [ast.parse(code, mode="eval").body for code in re.findall(r"`([^`]+)`", hint)]
    assert calls and all(isinstance(call, ast.Call) for call in calls), hint
    return calls  # type: ignore[return-value]  # checked just above


def assert_the_api_takes(call: ast.Call) -> None:
    """`oauthdance.NAME(...)` is a public call whose signature binds these arguments."""
    name = ast.unparse(call.func)
    assert name.startswith("oauthdance."), name
    function = getattr(oauthdance, name.removeprefix("oauthdance."))
    args = [ast.literal_eval(arg) for arg in call.args]
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
    inspect.signature(function).bind(*args, **kwargs)  # TypeError if it would not run


@pytest.mark.parametrize("case", list(FAILURES))
def test_python_names_the_python_call(case: str) -> None:
    failure = FAILURES[case]
    before = prepare(failure.pending)
    with pytest.raises(OAuthDanceError) as caught:
        failure.call()
    shown = str(caught.value)  # after the call returned, as a notebook shows it
    assert failure.python in shown and "invoke" not in shown, shown
    assert "auth." not in (caught.value.hint or "")  # no task's name in a notebook's hint
    for call in python_calls_in(caught.value.hint or ""):
        assert_the_api_takes(call)
    assert Path(CREDS).read_bytes() == before and asked() == Asked()


@pytest.mark.parametrize("case", list(FAILURES))
def test_invoke_names_the_invoke_command(case: str) -> None:
    failure = FAILURES[case]
    before = prepare(failure.pending)
    done = run_invoke(*failure.task)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"`invoke {failure.shell}" in done.stderr, done.stderr
    assert "oauthdance" not in done.stderr
    assert Path(CREDS).read_bytes() == before


@pytest.mark.parametrize("case", list(FAILURES))
def test_the_console_script_names_itself(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    failure = FAILURES[case]
    before = prepare(failure.pending)
    with pytest.raises(SystemExit) as ended:
        oauthdance.cli.main(["oauthdance", *failure.task])
    assert ended.value.code == 1
    stderr = capsys.readouterr().err
    assert f"`oauthdance {failure.shell}" in stderr and "invoke" not in stderr, stderr
    assert Path(CREDS).read_bytes() == before and asked() == Asked()


def test_an_option_to_add_is_spelt_as_each_face_takes_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two authorizations wait and a bare code says not which: `state` to Python,
    `--state` to a shell."""
    before = prepare(WHICH_STATE.pending)
    with pytest.raises(OAuthDanceError) as caught:
        WHICH_STATE.call()
    hint = caught.value.hint or ""
    assert WHICH_STATE.python in str(caught.value)
    assert "--state" not in hint and "--" not in hint.split(":")[0]  # states may hold "--"
    assert SHELL_WHICH_STATE in run_invoke(*WHICH_STATE.task).stderr
    with pytest.raises(SystemExit):
        oauthdance.cli.main(["oauthdance", *WHICH_STATE.task])
    assert SHELL_WHICH_STATE in capsys.readouterr().err
    assert Path(CREDS).read_bytes() == before


def test_a_real_invoke_process_spells_the_same() -> None:
    """Once, in a process of its own: the in-process runs above are not a face of their own."""
    failure = FAILURES["exchange before the code"]
    prepare(failure.pending)
    done = run_invoke_process(*failure.task)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"`invoke {failure.shell}" in done.stderr, done.stderr


def test_with_no_owner_named_the_python_hint_names_no_task() -> None:
    prepare(0)
    with pytest.raises(OAuthDanceError) as caught:
        oauthdance.verify("sandbox", creds=CREDS)
    hint = caught.value.hint or ""
    assert 'oauthdance.login("sandbox", creds="alt.json")' in hint
    assert "auth." not in hint, hint
