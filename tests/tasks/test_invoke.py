"""The invoke face: the demo, settings precedence, .env, help, and a light start-up."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from oauthdance.sandbox import App, RunningSandbox
from oauthdance.store import CredentialsFile
from tests.support.invoking import ROOT, invoke_command, run_invoke, run_invoke_process
from tests.support.lifecycle import logged_in
from tests.support.sandbox import configure_args


def test_demo_runs_a_complete_dance_offline(tmp_path: Path) -> None:
    done = run_invoke("demo")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("done: verified login octocat, token gho_****")
    for step in ("auth.configure", "auth.url", "auth.code", "auth.exchange", "auth.verify"):
        assert any(step in line for line in lines), step
    assert list(tmp_path.iterdir()) == []  # nothing left behind without --creds


def test_demo_can_keep_its_credentials(tmp_path: Path) -> None:
    creds = tmp_path / "demo.yaml"
    assert run_invoke("demo", "--creds", str(creds)).returncode == 0
    record = CredentialsFile(creds).record("sandbox")
    assert record["tokens"]["octocat"]["access_token"].startswith("gho_")
    # the sandbox is gone, so the token is no use now, but the file is well-formed
    assert creds.stat().st_mode & 0o777 == 0o600


def test_every_task_documents_every_flag() -> None:
    for name in (
        "auth.configure",
        "auth.url",
        "auth.code",
        "auth.exchange",
        "auth.verify",
        "auth.status",
        "auth.token",
        "sandbox.serve",
        "demo",
    ):
        done = run_invoke("--help", name)
        assert done.returncode == 0
        options = [line for line in done.stdout.splitlines() if line.strip().startswith("-")]
        # a flag's line is its spelling, a gap of two or more spaces, then its help
        # (the spelling itself has spaces: "-c STRING, --creds=STRING")
        assert options and all(
            len(re.split(r"\s{2,}", line.strip(), maxsplit=1)) == 2 for line in options
        ), done.stdout


def test_creds_from_invoke_config_then_environment(
    sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    args = configure_args(sandbox, app, tmp_path / "unused.json")
    args = args[: args.index("--creds")] + args[args.index("--creds") + 2 :]
    assert run_invoke(*args, env={"OAUTHDANCE_CREDS": "from-env.json"}).returncode == 0
    assert (tmp_path / "from-env.json").exists()
    (tmp_path / "invoke.yaml").write_text("oauthdance:\n  creds: from-config.yaml\n")
    assert (
        run_invoke("-f", "invoke.yaml", *args, env={"OAUTHDANCE_CREDS": "from-env.json"}).returncode
        == 0
    )
    assert (tmp_path / "from-config.yaml").exists()
    assert run_invoke(*args, env={"INVOKE_OAUTHDANCE_CREDS": "invoke-env.json"}).returncode == 0
    assert (tmp_path / "invoke-env.json").exists()
    assert run_invoke(*args, "--creds", "flag.json").returncode == 0
    assert (tmp_path / "flag.json").exists()


def test_provider_from_invoke_config(sandbox: RunningSandbox, app: App, tmp_path: Path) -> None:
    (tmp_path / "invoke.yaml").write_text("oauthdance:\n  provider: sandbox\n")
    done = run_invoke("-f", "invoke.yaml", "auth.configure", "--client-id", "abc")
    assert done.returncode == 0
    assert json.loads((tmp_path / "creds.json").read_text())["sandbox"]["client_id"] == "abc"


def test_secret_from_dotenv_is_used_and_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "GITHUB_CLIENT_ID=from-dotenv\nGITHUB_CLIENT_SECRET=dotenv-secret-1234567\n"
    )
    done = run_invoke("auth.configure", "--secret-in-env", "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["client_id"] == "from-dotenv" and shown["secret_source"] == ".env"
    assert "dotenv-secret" not in done.stdout
    stored = json.loads((tmp_path / "creds.json").read_text())["github"]
    assert "client_secret" not in stored
    status = run_invoke(
        "auth.status", "--json", env={"GITHUB_CLIENT_SECRET": "environment-secret-99"}
    )
    row = json.loads(status.stdout)[0]
    assert row["secret_source"] == "environment" and row["client_secret"] == "****t-99"


def test_configure_refuses_bad_values_and_keeps_the_file(tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    creds.write_text('{"gitlab": {"client_id": "keep"}}')
    before = creds.read_bytes()
    for args, message in (
        (["--client-id", "  "], "no client_id"),
        (["--client-id", "x", "--redirect-uri", "http://example.com/cb"], "must be https"),
    ):
        done = run_invoke("auth.configure", *args)
        assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr
        assert creds.read_bytes() == before


def test_configure_keeps_other_providers(tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    creds.write_text('{"gitlab": {"client_id": "keep", "tokens": {"me": {"access_token": "t"}}}}')
    assert run_invoke("auth.configure", "--client-id", "gh").returncode == 0
    data = json.loads(creds.read_text())
    assert data["gitlab"] == {"client_id": "keep", "tokens": {"me": {"access_token": "t"}}}
    assert data["github"]["client_id"] == "gh"


def test_token_without_login_says_what_to_run(tmp_path: Path) -> None:
    done = run_invoke("auth.token")
    assert done.returncode != 0 and "auth.login" in done.stderr
    assert done.stdout == ""


def test_auth_url_does_not_import_http_or_oauth_libraries(tmp_path: Path) -> None:
    CredentialsFile(tmp_path / "creds.json")
    code = (
        "import sys, invoke.program\n"
        "from oauthdance.tasks import namespace\n"
        "from invoke import Program\n"
        "Program(namespace=namespace()).run(['invoke', 'auth.configure', '--client-id', 'x'],"
        " exit=False)\n"
        "Program(namespace=namespace()).run(['invoke', 'auth.url'], exit=False)\n"
        "heavy = [m for m in ('requests', 'oauthlib', 'urllib3') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert "https://github.com/login/oauth/authorize?" in done.stdout, done.stderr
    assert "HEAVY []" in done.stdout


def test_tasks_file_is_thin() -> None:
    text = (ROOT / "tasks.py").read_text()
    code = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert len(code) < 12 and "namespace()" in text


def test_sandbox_serve_configures_itself_and_prints_no_secret(tmp_path: Path) -> None:
    import signal
    import time

    import requests

    from tests.support.login import InvokeProcess, InvokeThread

    creds = tmp_path / "creds.json"
    served = InvokeProcess("sandbox.serve", "--port", "0", "--creds", str(creds))
    deadline = time.monotonic() + 20
    while "client_id" not in (creds.read_text() if creds.exists() else ""):
        assert time.monotonic() < deadline, "sandbox.serve did not configure the file"
        time.sleep(0.05)
    login = InvokeThread("auth.login", "-p", "sandbox", "--creds", str(creds), "--no-browser")
    from tests.support.sandbox import browser_approve

    location = browser_approve(login.authorize_url())  # the served consent page
    assert requests.get(location, timeout=10).status_code == 200
    code, stdout, stderr = login.finish()
    assert code == 0, stderr
    assert "logged in to sandbox as octocat" in stdout
    served.proc.send_signal(signal.SIGINT)
    _, served_out, _ = served.finish()
    record = CredentialsFile(creds).record("sandbox")
    assert record["host"].startswith("127.0.0.1:") and "octocat" in record["tokens"]
    assert record["client_secret"] not in served_out and "****" in served_out


def test_short_flags_mean_the_same_in_every_task() -> None:
    """One fixed set (`-p`, `-u`, `-o`, `-f`, `-s`, `-q`); invoke's made-up ones are off."""
    from oauthdance.tasks import namespace
    from oauthdance.tasks.common import SHORT_FLAGS

    for name in namespace().task_names:
        for argument in namespace()[name].get_arguments():
            shorts = [n for n in argument.names if len(n) == 1]
            short = SHORT_FLAGS.get(argument.attr_name or argument.name)
            expected = [short] if short else []
            assert shorts == expected, (name, argument.names)


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
def test_a_closed_pipe_ends_quietly_with_141(
    sandbox: RunningSandbox, app: App, tmp_path: Path, fmt: str
) -> None:
    """`invoke data.fetch ... | head -1`: no BrokenPipeError traceback, SIGPIPE's status."""
    logged_in(sandbox, app, tmp_path / "creds.json")
    sandbox.model.users["octocat"].repo_count = 3000
    command = invoke_command(
        "data.fetch", "-p", "sandbox", "--creds", str(tmp_path / "creds.json"),
        "--path", "/user/repos", "--format", fmt, "--quiet",
    )  # fmt: skip
    done = subprocess.run(
        f"{' '.join(command)} | head -1 >/dev/null; exit ${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert "Traceback" not in done.stderr and "Error" not in done.stderr, done.stderr
    assert done.returncode == 141


def test_debug_output_shows_no_secret(tmp_path: Path) -> None:
    """`invoke -d` logs argv and every parsed value: secret flags are masked there."""
    secret, code = "s3cr3t-Value-4711", "c0de-Value-0815"
    configure = run_invoke_process(
        "-d", "auth.configure", "--creds", str(tmp_path / "c.json"), "--client-id", "id",
        f"--client-secret={secret}",
    )  # fmt: skip
    pasted = run_invoke_process(
        "-d", "auth.code", "--creds", str(tmp_path / "c.json"),
        "--url", f"http://127.0.0.1:8765/callback?code={code}&state=x",
    )  # fmt: skip
    assert configure.returncode == 0 and "invoke.parser" in configure.stderr
    for done in (configure, pasted):
        assert secret not in done.stdout + done.stderr
        assert code not in done.stdout + done.stderr


def test_the_readme_lists_the_short_flags() -> None:
    from oauthdance.tasks.common import SHORT_FLAGS

    readme = (ROOT / "README.md").read_text()
    for name, short in SHORT_FLAGS.items():
        assert f"| `-{short}` | `--{name}` |" in readme


def test_a_whole_number_flag_given_words_is_a_usage_error(tmp_path: Path) -> None:
    done = run_invoke("data.fetch", "--path", "/x", "--workers", "many")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--workers takes a whole number, not 'many'" in done.stderr


@pytest.mark.parametrize("value", ["0", "soon"])
def test_the_device_flows_timeout_is_a_whole_number_of_seconds(value: str) -> None:
    done = run_invoke("auth.device", "-p", "sandbox", "--timeout", value)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--timeout" in done.stderr
