"""Suggested commands: built in `base/advice.py` only, and spelt for the face the user is in
(`invoke …`, `oauthdance …`, the Python call), with their `-p`, `-u` and `--creds` carried."""

from __future__ import annotations

import ast
import inspect
import re
import shlex
import threading
from pathlib import Path

import pytest

import oauthdance
import oauthdance.cli
from oauthdance.base.advice import (
    PLACEHOLDER,
    PYTHON_CALLS,
    TASK_FLAGS,
    Asked,
    Command,
    Face,
    Hint,
    asked,
    asking,
    program,
    suggest,
)
from oauthdance.base.errors import REDIRECT_ERROR_HINTS, NotLoggedIn, advice, answering
from oauthdance.sandbox import App, RunningSandbox
from oauthdance.tasks import namespace
from tests.support.invoking import ROOT, run_invoke
from tests.support.sandbox import browser_approve, configure_args

PACKAGE = ROOT / "oauthdance"
ALT = ["-p", "sandbox", "-u", "alice", "--creds", "alt.json"]

# -- one failure, three faces -----------------------------------------------------------------


def test_invoke_suggests_invoke_with_the_flags_given() -> None:
    done = run_invoke("auth.token", *ALT)
    assert done.returncode == 1 and "no sandbox token is stored for 'alice'" in done.stderr
    assert "next: run `invoke auth.login -p sandbox -u alice --creds alt.json`" in done.stderr


def test_the_console_script_suggests_itself(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        oauthdance.cli.main(["oauthdance", "auth.token", *ALT])
    assert ended.value.code == 1
    stderr = capsys.readouterr().err
    assert "next: run `oauthdance auth.login -p sandbox -u alice --creds alt.json`" in stderr
    assert "invoke" not in stderr
    assert asked() == Asked()  # nothing of the command outlives it


def test_the_python_api_suggests_the_python_call() -> None:
    with pytest.raises(NotLoggedIn) as caught:
        oauthdance.token("sandbox", user="alice", creds="alt.json")
    shown = str(caught.value)  # after the call returned, as a notebook shows it
    assert 'run `oauthdance.login("sandbox", user="alice", creds="alt.json")`' in shown
    assert "invoke" not in shown
    with asking(Face.PYTHON, "sandbox", "alice", "alt.json"):
        assert Command("auth.token").render() == (
            '`oauthdance.token("sandbox", user="alice", creds="alt.json")`'
        )


def test_a_task_with_no_python_call_is_suggested_to_python_as_the_console_script() -> None:
    with asking(Face.PYTHON, "sandbox", None, "alt.json"):
        assert Command("store.copy").with_flags(to="keyring:team").text() == (
            "oauthdance store.copy -p sandbox --creds alt.json --to keyring:team"
        )


def test_a_credentials_method_carries_its_own_location(tmp_path: Path) -> None:
    creds = oauthdance.Credentials(tmp_path / "alt.json")
    with pytest.raises(NotLoggedIn) as caught:
        creds.token("sandbox", user="alice")
    assert f'`oauthdance.login("sandbox", user="alice", creds="{creds.location}")`' in str(
        caught.value
    )


def test_the_python_fetch_is_the_python_face_at_every_step(tmp_path: Path) -> None:
    items = oauthdance.fetch("/user", provider="sandbox", user="alice", creds="alt.json")
    assert asked() == Asked()  # nothing runs, nothing is set, until the first item is asked
    with pytest.raises(NotLoggedIn) as caught:
        next(items)
    assert '`oauthdance.login("sandbox", user="alice", creds="alt.json")`' in str(caught.value)
    assert asked() == Asked()


def test_following_each_next_line_completes_the_dance_on_that_file(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    """`auth.url --creds alt.json` -> code -> exchange -> verify, each run as printed."""
    configure = configure_args(sandbox, app, tmp_path / "alt.json")
    configure[configure.index("--creds") + 1] = "alt.json"
    done = run_invoke(*configure)
    assert "next: invoke auth.url -p sandbox --creds alt.json\n" in done.stdout
    done = run_invoke("auth.url", "-p", "sandbox", "--creds", "alt.json")
    url, next_line = done.stdout.splitlines()
    paste = "invoke auth.code -p sandbox --creds alt.json --url '<the address the browser shows>'"
    assert next_line == f"next: after approving, run: {paste}"
    words = shlex.split(next_line.partition("run: ")[2])
    words[-1] = browser_approve(url)
    for expected in ("auth.exchange", "auth.verify"):
        done = run_invoke(*words[1:])
        assert done.returncode == 0, done.stderr
        next_line = done.stdout.splitlines()[-1]
        assert next_line == f"next: invoke {expected} -p sandbox --creds alt.json"
        words = shlex.split(next_line.removeprefix("next: "))
    done = run_invoke(*words[1:])
    assert done.returncode == 0 and "verified sandbox token" in done.stdout
    assert not (tmp_path / "creds.json").exists()  # nothing went to the default file


# -- the advice module itself -------------------------------------------------------------------


def test_each_face_spells_a_command() -> None:
    login = Command("auth.login", "github")
    assert login.render(Asked()) == "`invoke auth.login -p github`"
    assert login.render(Asked(Face.CONSOLE)) == "`oauthdance auth.login -p github`"
    assert login.render(Asked(Face.PYTHON)) == '`oauthdance.login("github")`'
    assert login.text(Asked(Face.CONSOLE)) == "oauthdance auth.login -p github"
    assert Command("auth.token", "github").text(Asked(Face.PYTHON)) == 'oauthdance.token("github")'
    assert program(Asked()) == "invoke" and program(Asked(Face.PYTHON)) == "oauthdance"


def test_the_flags_asked_for_are_carried_unless_the_command_names_its_own() -> None:
    now = Asked(Face.INVOKE, "sandbox", "alice", "alt.json")
    assert Command("auth.url").text(now) == "invoke auth.url -p sandbox -u alice --creds alt.json"
    assert Command("auth.login", "github", "bob").text(now) == (
        "invoke auth.login -p github -u bob --creds alt.json"
    )
    assert Command("store.status").text(now) == "invoke store.status --creds alt.json"
    assert Command("sandbox.serve").text(now) == "invoke sandbox.serve --creds alt.json"


def test_placeholders_and_switches() -> None:
    now = Asked()
    configure = Command("auth.configure", "x").with_flags(client_secret=PLACEHOLDER)
    assert configure.text(now) == "invoke auth.configure -p x --client-secret ..."
    assert Command("auth.login").with_flags(paste=None).text(now) == "invoke auth.login --paste"
    code = Command("auth.code", "x").with_flags(url="<the redirect URL>")
    assert code.text(now) == "invoke auth.code -p x --url '<the redirect URL>'"
    fetch = Command("data.fetch", "x").with_flags(path="/user", max_pages=PLACEHOLDER, all=None)
    assert fetch.text(Asked(Face.PYTHON, creds="alt.json")) == (
        'oauthdance.fetch("/user", provider="x", creds="alt.json", max_pages=..., all=True)'
    )
    assert Command("auth.login", "x").with_flags(paste=None).text(Asked(Face.PYTHON)) == (
        'oauthdance.login("x", mode="paste")'
    )
    assert code.text(Asked(Face.PYTHON)) == (
        'oauthdance.store_code("<the redirect URL>", provider="x")'
    )
    state = Command("auth.code").with_flags(code="CODE", state="STATE")
    assert state.text(Asked(Face.PYTHON)) == 'oauthdance.store_code("CODE", state="STATE")'
    configure = Command("auth.configure", "x", "bob").with_flags(issuer="URL")
    assert configure.text(Asked(Face.PYTHON)) == 'oauthdance.configure("x", issuer="URL")'


@pytest.mark.parametrize(
    ("provider", "creds"),
    [("my idp", "my creds.json"), ("x; rm -rf ~ #", "$(touch pwned)'.json"), ('a"b\\', "c")],
)
def test_names_with_spaces_or_shell_characters_are_quoted(provider: str, creds: str) -> None:
    shell = Command("auth.login", provider, creds=creds).text(Asked())
    assert shlex.split(shell) == ["invoke", "auth.login", "-p", provider, "--creds", creds]
    python = Command("auth.token", provider, creds=creds).text(Asked(Face.PYTHON))
    call = ast.parse(python, mode="eval").body
    assert isinstance(call, ast.Call) and ast.unparse(call.func) == "oauthdance.token"
    assert [ast.literal_eval(a) for a in call.args] == [provider]
    assert {k.arg: ast.literal_eval(k.value) for k in call.keywords} == {"creds": creds}


def test_a_hint_fills_in_its_provider_values_and_prose() -> None:
    hint = Hint("run {url} again (codes live {minutes})", url=Command("auth.url"))
    filled = hint.for_provider("github", "octocat").with_values(minutes="10 minutes")
    assert filled.render(Asked()) == (
        "run `invoke auth.url -p github -u octocat` again (codes live 10 minutes)"
    )
    named = Hint("see {s}", s=Command("auth.status", "gitlab")).for_provider("github")
    assert named.render(Asked()) == "see `invoke auth.status -p gitlab`"
    assert hint.then(", or not").text.endswith(", or not")
    assert suggest(Command("auth.login")).render(Asked(Face.CONSOLE)) == ("`oauthdance auth.login`")
    assert Hint("keep {this}").render(Asked()) == "keep {this}"  # no such field: kept as is


def test_an_error_keeps_the_face_it_was_bound_to() -> None:
    error = NotLoggedIn("gone", suggest(Command("auth.login", "x")))
    with pytest.raises(NotLoggedIn), answering(Asked(Face.CONSOLE, creds="alt.json")):
        raise error
    assert error.hint == "`oauthdance auth.login -p x --creds alt.json`"  # outside, later
    assert NotLoggedIn("gone", "plain text").hint == "plain text"


def test_the_callback_page_spells_its_advice_for_the_login_that_started_it() -> None:
    from oauthdance.dance.callback import CallbackServer, _answer_page

    with asking(Face.CONSOLE, "sandbox", None, "alt.json"):
        server = CallbackServer("http://127.0.0.1/callback", 0, True, Command("auth.login"))
    try:
        pages: list[str] = []  # made on another thread, as the server makes them
        url = "http://127.0.0.1/callback?error=access_denied&state=s"
        page = threading.Thread(
            target=lambda: pages.append(_answer_page(url, server._server.asked, "sandbox"))
        )
        page.start()
        page.join()
        assert "oauthdance auth.url -p sandbox --creds alt.json" in pages[0]
    finally:
        server.close()
    expected = advice(REDIRECT_ERROR_HINTS, "access_denied", "sandbox")
    assert expected is not None and "invoke auth.url -p sandbox" in expected.render(Asked())


# -- the tables match the tasks, and no module writes a hint of its own ---------------------------


def test_task_flags_are_the_shared_flags_each_task_takes() -> None:
    ns = namespace()
    taken = {
        name: frozenset(
            p
            for p in ("provider", "user", "creds")
            if p in inspect.signature(ns[name].body).parameters
        )
        for name in ns.task_names
    }
    assert taken == TASK_FLAGS


# Task flags that have no Python parameter on purpose: `--json` (a result is data already),
# and where a fetch's items go (a Python caller iterates them; `params=` takes a dict, not
# `--param K=V` words). A suggestion never carries these to a Python user.
NO_PYTHON_PARAMETER = {"json"}
SHELL_ONLY = {"data.fetch": {"out", "format", "quiet", "param"}}


def test_each_python_call_takes_every_flag_of_its_task() -> None:
    """A suggestion to a Python user renders the task's flags as the call's parameters, so
    each must be one: renamed, a switch's value, or the flag's own name."""
    ns = namespace()
    for task, call in PYTHON_CALLS.items():
        function = getattr(oauthdance, call.function.removeprefix("oauthdance."))
        parameters = list(inspect.signature(function).parameters)
        assert parameters[: len(call.positional)] == list(call.positional), task
        flags = inspect.signature(ns[task].body).parameters
        shared = {name for name in ("provider", "user", "creds") if name in flags}
        assert call.shared & shared <= set(parameters), task
        own = set(flags) - {"c", "provider", "user", "creds"} - NO_PYTHON_PARAMETER
        for flag in own - SHELL_ONLY.get(task, set()):
            name = call.switches[flag][0] if flag in call.switches else call.renamed.get(flag, flag)
            assert name in parameters, f"{task} --{flag}: {call.function} has no {name}="


def test_dir_lists_the_public_calls_and_only_them() -> None:
    listed = dir(oauthdance)
    assert "login" in listed and "store_code" in listed and "Identity" in listed
    assert "Any" not in listed and "annotations" not in listed
    assert all(callable(getattr(oauthdance, name)) for name in oauthdance.__all__)


SPELT = re.compile(
    r"\binvoke (?:[a-z]+\.[a-z]+|demo\b|--help)|\boauthdance (?:auth|data|store|sandbox)\."
)


def spelt_commands(path: Path) -> list[str]:
    """The string literals (docstrings aside) of a module that spell a command."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and SPELT.search(node.value)
    ]


def test_no_module_but_advice_spells_a_suggested_command(tmp_path: Path) -> None:
    found = {
        str(path.relative_to(PACKAGE)): spelt
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE) != Path("base/advice.py") and (spelt := spelt_commands(path))
    }
    assert found == {}
    sample = tmp_path / "sample.py"  # the check sees a literal hint, and not a docstring
    sample.write_text(
        '"""`invoke auth.url` is fine here."""\n'
        'def f():\n    """And `oauthdance auth.url` here."""\n'
        '    raise E("no token", f"run `invoke auth.login -p {p}`")\n'
    )
    assert spelt_commands(sample) == ["run `invoke auth.login -p "]
