"""The README cannot drift: its quick start is run as written, and every `invoke ...`
command it shows names tasks and flags that exist."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
from invoke.parser import ParseError, Parser

from oauthdance.sandbox.browser import approve
from oauthdance.tasks import namespace
from tests.support.invoking import ROOT, invoke_command, run_invoke

README = (ROOT / "README.md").read_text()
CORE_FLAGS_WITH_VALUE = ("-r", "--search-root", "-f", "--config")


def section(title: str) -> str:
    match = re.search(rf"(?ms)^## {re.escape(title)}\n(.*?)(?=^## )", README)
    assert match, f"no section {title!r}"
    return match.group(1)


def shell_blocks(text: str) -> list[list[str]]:
    """The command lines of each ```sh block, comments and prompts dropped."""
    blocks = re.findall(r"(?ms)^```sh\n(.*?)^```", text)
    return [
        [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]
        for block in blocks
    ]


def invoke_commands() -> list[str]:
    """Every `invoke ...` the README shows, in code blocks and inline."""
    found = [
        line
        for block in shell_blocks(README)
        for line in block
        if line.startswith(("invoke ", ".venv/bin/invoke "))
    ]
    found += re.findall(r"`((?:\.venv/bin/)?invoke [^`]+)`", README)
    return sorted(set(found))


def task_args(command: str) -> list[str]:
    """The words after `invoke` and its own (core) flags."""
    command = command.split(" | ")[0]  # what is piped into is not ours
    words = shlex.split(command.replace("…", "x").replace("...", "x"))[1:]
    while words and words[0].startswith("-"):
        flag = words.pop(0)
        if flag in CORE_FLAGS_WITH_VALUE and words:
            words.pop(0)
    return words


@pytest.mark.parametrize("command", invoke_commands())
def test_every_invoke_command_in_the_readme_names_real_tasks_and_flags(command: str) -> None:
    args = task_args(command)
    if not args or args[0] in ("--help", "--list", "--version", "x"):
        return  # invoke's own flags, or a placeholder such as `invoke ...`
    if any(word in ("TASK", "ARGS") or word.isupper() for word in args[:1]):
        return  # a placeholder, not a command
    parser = Parser(contexts=namespace().to_contexts(ignore_unknown_help=True))
    try:
        parsed = parser.parse_argv(args)
    except ParseError as exc:
        pytest.fail(f"README shows `{command}`: {exc}")
    assert all(ctx.name in namespace().task_names for ctx in parsed), command


def test_the_quick_start_runs_as_written(tmp_path: Path) -> None:
    """The two blocks, in order: the sandbox in its own process (a free port instead of
    the default, which a developer's own sandbox may hold), then each step in process, the
    browser's part played by a script."""
    serve_block, steps = shell_blocks(section("Quick start: a kept token in two minutes"))
    serve = next(line for line in serve_block if line.startswith("invoke sandbox.serve"))
    sandbox = subprocess.Popen(
        invoke_command(*task_args(serve), "--port", "0"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert sandbox.stdout is not None
        for line in sandbox.stdout:  # it configures creds.json, then says so
            if "configured provider 'sandbox'" in line:
                break
        env: dict[str, str] = {}
        redirect = ""
        for line in steps:
            if line.startswith("export "):
                name, _, value = line[len("export ") :].partition("=")
                env[name] = value
            elif line.startswith("invoke "):
                args = task_args(line)
                if args[0] == "auth.code":
                    args = ["auth.code", "--url", redirect]
                done = run_invoke(*args, env=env)
                assert done.returncode == 0, (line, done.stderr)
                if args[0] == "auth.url":
                    redirect = approve(done.stdout.splitlines()[0])
        assert (tmp_path / "repos.json").stat().st_size > 100
        assert (tmp_path / "creds.json").stat().st_mode & 0o777 == 0o600
    finally:
        sandbox.terminate()
        sandbox.wait(10)


def test_every_python_call_in_the_readme_exists_and_takes_its_keywords() -> None:
    """`oauthdance.login("github", mode="paste")` in the README: a public call, and every
    keyword it is shown with is one of its parameters."""
    import inspect

    import oauthdance

    calls = re.findall(r"\boauthdance\.([a-z_]+)\(([^()`]*)\)", README)
    assert len(calls) > 10
    for name, args in calls:
        assert name in oauthdance.__all__, f"oauthdance.{name} is not a public call"
        parameters = inspect.signature(getattr(oauthdance, name)).parameters
        for keyword in re.findall(r"\b([a-z_]+)=", args):
            assert keyword in parameters, f"oauthdance.{name}() takes no {keyword}="
