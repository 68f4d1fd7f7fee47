"""The login in a real Jupyter kernel (ipykernel, driven as a frontend drives it): the
paste through the kernel's stdin channel (and Jupyter's interrupt at its prompt), what
"auto" decides there, the device flow, the browser's click played by a BROWSER script,
Jupyter's interrupt during the callback's wait, and the example notebooks run top to
bottom against the sandbox.

Kernels are few (each costs about a second): one without a browser for the paste, auto
and device logins, one with BROWSER set for the browser and the interrupt, and one per
example notebook.
"""

from __future__ import annotations

import json
import re
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from oauthdance.dance import flow
from oauthdance.dance.demo import DEMO_REDIRECT
from oauthdance.protocol.providers import get_provider
from oauthdance.sandbox import App, RunningSandbox
from oauthdance.sandbox.browser import approve
from oauthdance.store import CredentialsFile
from tests.support.invoking import ROOT
from tests.support.kernel import Kernel, run_notebook, running_kernel
from tests.support.login import creds_record

AUTHORIZE_URL = re.compile(r"https?://127\.0\.0\.1:\d+/login/oauth/authorize\?[^\s<\"']+")
DEVICE_CODE = re.compile(r"Open (\S+) and enter the code: ([A-Z]{4}-[A-Z]{4})")
LOGIN_TIMEOUT = 30  # seconds: the kernel's login gives up long before the test does


def configured(sandbox: RunningSandbox, app: App, path: Path) -> Path:
    """`path` with the sandbox's app configured, as `auth.configure` leaves it."""
    flow.configure(
        CredentialsFile(path),
        get_provider("sandbox"),
        client_id=app.client_id,
        client_secret=app.client_secret,
        redirect_uri=DEMO_REDIRECT,
        scope="repo",
        host=sandbox.host,
    )
    return path


@pytest.fixture
def creds(sandbox: RunningSandbox, app: App, tmp_path: Path) -> Path:
    return configured(sandbox, app, tmp_path / "creds.json")


@pytest.fixture(scope="module")
def headless(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    """A kernel as on a server: no display, no BROWSER."""
    with running_kernel(tmp_path_factory.mktemp("headless")) as kernel:
        yield kernel


CLICK = """#!{python}
# A browser for the test: approve the authorize URL, then follow the redirect to the
# callback, from a process of its own (webbrowser waits for this one to exit).
import subprocess, sys
if len(sys.argv) == 2:
    subprocess.Popen([sys.executable, __file__, sys.argv[1], "go"], start_new_session=True)
    sys.exit(0)
import requests
from oauthdance.sandbox.browser import approve
requests.get(approve(sys.argv[1]), timeout=10)
"""


@pytest.fixture(scope="module")
def desktop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    """A kernel whose BROWSER is a script that plays the user's click."""
    folder = tmp_path_factory.mktemp("desktop")
    script = folder / "click.py"
    script.write_text(CLICK.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    with running_kernel(folder, env={"BROWSER": str(script)}) as kernel:
        yield kernel


def login_code(creds: Path, **options: object) -> str:
    arguments = "".join(f", {name}={value!r}" for name, value in options.items())
    return (
        "import oauthdance\n"
        f"me = oauthdance.login('sandbox', creds={str(creds)!r}, timeout={LOGIN_TIMEOUT}"
        f"{arguments})\nprint('logged in as', me.owner)\nme"
    )


class Approver:
    """The user at the notebook: reads the link the kernel showed, approves it in the
    (scripted) browser, and pastes where the browser landed."""

    def __init__(self) -> None:
        self.seen = ""

    def output(self, piece: str) -> None:
        self.seen += piece

    def paste(self, prompt: str) -> str:
        urls = AUTHORIZE_URL.findall(self.seen)
        assert urls, f"no authorize link shown before {prompt!r}:\n{self.seen}"
        return approve(urls[-1].replace("&amp;", "&"))


def assert_logged_in(creds: Path) -> None:
    record = creds_record(creds)
    assert record["tokens"]["octocat"]["verified_at"]
    assert "pending" not in record


def test_paste_gets_the_address_through_the_kernels_stdin(headless: Kernel, creds: Path) -> None:
    user = Approver()
    shown = headless.run(login_code(creds, mode="paste"), user.paste, user.output)
    assert shown.error is None, shown.error
    assert len(shown.prompts) == 1 and "paste the address" in shown.prompts[0]
    assert "logged in as octocat" in shown.text
    link = next(html for html in shown.html if "/login/oauth/authorize" in html)
    assert '<a href="http://127.0.0.1:' in link and 'target="_blank"' in link
    assert any("<table" in html and "octocat" in html for html in shown.html)  # the Identity
    assert_logged_in(creds)


def test_a_frontend_that_cannot_answer_input_gets_advice_not_a_hang(
    headless: Kernel, creds: Path
) -> None:
    shown = headless.run(login_code(creds, mode="paste"), allow_stdin=False)
    assert shown.error is not None and shown.error.ename == "UsageError", shown.text
    assert "cannot answer input()" in shown.error.evalue
    assert "oauthdance.device(" in shown.error.evalue  # the hint, as the Python call
    assert "pending" not in creds_record(creds)


def test_an_interrupt_at_the_paste_prompt_leaves_nothing_pending(
    headless: Kernel, creds: Path
) -> None:
    """The paste in a kernel has no deadline (Jupyter cannot withdraw an input request):
    Jupyter's interrupt is how the user cancels it, and the login's cleanup runs."""
    interrupted: list[str] = []

    def interrupt_instead_of_answering(prompt: str) -> None:
        assert "pending" in creds_record(creds)  # the authorization the prompt waits on
        interrupted.append(prompt)
        headless.interrupt()

    shown = headless.run(login_code(creds, mode="paste"), interrupt_instead_of_answering)
    assert interrupted and "paste the address" in interrupted[0], shown.text
    # ipykernel's input() catches the interrupt (our Stopped) and raises its own
    # KeyboardInterrupt in its place; run_login's finally block runs all the same.
    assert shown.error is not None, shown.text
    assert (shown.error.ename, shown.error.evalue) == ("KeyboardInterrupt", "Interrupted by user")
    assert "pending" not in creds_record(creds)
    assert not creds_record(creds).get("tokens")
    after = headless.run("print('still here')")  # the kernel lives on
    assert after.text == "still here\n"


def test_auto_in_a_kernel_without_a_display_pastes_and_says_why(
    headless: Kernel, creds: Path
) -> None:
    user = Approver()
    shown = headless.run(login_code(creds), user.paste, user.output)
    assert shown.error is None, shown.error
    assert (
        "(paste: this machine has no display, so the browser cannot reach its loopback "
        "callback; `oauthdance.device(" in shown.text
    )
    decided, link = shown.text.index("(paste: "), shown.text.index("Open this URL")
    assert decided < link  # said before the login starts
    assert shown.prompts and "logged in as octocat" in shown.text
    assert_logged_in(creds)


def test_device_flow_in_a_kernel(headless: Kernel, sandbox: RunningSandbox, creds: Path) -> None:
    sandbox.model.device_interval = 0
    approved: list[str] = []

    def output(piece: str) -> None:
        match = DEVICE_CODE.search(piece)
        if match and not approved:
            page, user_code = match.groups()
            answer = requests.post(
                page, data={"user_code": user_code, "decision": "approve"}, timeout=10
            )
            approved.append(answer.text)

    shown = headless.run(login_code(creds, mode="device"), on_output=output)
    assert shown.error is None, shown.error
    assert approved and "Device authorized" in approved[0]
    link = next(html for html in shown.html if "enter the code" in html)
    assert f'<a href="{sandbox.url}/login/device" target="_blank"' in link
    assert "logged in as octocat" in shown.text
    assert creds_record(creds)["tokens"]["octocat"]["verified_at"]


def test_browser_login_with_the_click_played_by_a_script(desktop: Kernel, creds: Path) -> None:
    shown = desktop.run(login_code(creds, mode="browser"))
    assert shown.error is None, shown.error
    assert "Waiting up to" in shown.text  # the loopback callback, not the paste
    assert "logged in as octocat" in shown.text and not shown.prompts
    assert_logged_in(creds)


def test_an_interrupt_during_the_wait_leaves_nothing_pending(desktop: Kernel, creds: Path) -> None:
    interrupted: list[bool] = []

    def output(piece: str) -> None:
        if "Waiting up to" in piece and not interrupted:
            interrupted.append(True)
            desktop.interrupt()

    # browser=False: the BROWSER script is not run, so nobody approves and the login waits.
    shown = desktop.run(login_code(creds, mode="browser", browser=False), on_output=output)
    assert interrupted, shown.text
    assert shown.error is not None and shown.error.ename == "Stopped"  # a KeyboardInterrupt
    assert shown.error.evalue == "SIGINT: the login was cancelled; nothing is left pending"
    assert "(SIGINT: cancelling the login)" in shown.text
    assert "interrupt the kernel to cancel" in shown.text
    assert "pending" not in creds_record(creds)
    assert "tokens" not in creds_record(creds) or not creds_record(creds)["tokens"]
    after = desktop.run("print('still here')")  # the kernel lives on
    assert after.text == "still here\n"


@pytest.mark.parametrize("notebook", ["dance.ipynb", "login.ipynb"])
def test_the_example_notebook_runs_top_to_bottom(
    notebook: str, sandbox: RunningSandbox, app: App, tmp_path: Path
) -> None:
    path = ROOT / "scripts" / notebook
    assert all(
        not cell.get("outputs") and not cell.get("execution_count")
        for cell in json.loads(path.read_text())["cells"]
    ), "the example notebook is saved without outputs"
    folder = tmp_path / "work"
    folder.mkdir()
    creds = configured(sandbox, app, folder / "creds.json")
    env = {"OAUTHDANCE_PROVIDER": "sandbox", "OAUTHDANCE_CREDS": str(creds)}
    user = Approver()
    with running_kernel(folder, env=env) as kernel:
        cells = run_notebook(kernel, path, user.paste, user.output, timeout=LOGIN_TIMEOUT)
    assert_logged_in(creds)
    shown = "\n".join(cell.text for cell in cells)
    assert re.search(r"\b[1-9]\d* repositories: octocat/", shown), shown
    assert any("<table" in html and "full_name" in html for c in cells for html in c.html)
