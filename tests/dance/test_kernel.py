"""kernel.py without a kernel: the detection of a kernel and of a browser elsewhere, the
clickable link and its escaping, the paste through `input()`."""

from __future__ import annotations

import io
import sys
import types
from typing import Any

import pytest

from oauthdance.dance import kernel
from oauthdance.dance.kernel import ELSEWHERE, NO_DISPLAY, browser_elsewhere, in_kernel, link_html


def ipython_module(shell: object) -> types.ModuleType:
    module = types.ModuleType("IPython")
    module.get_ipython = lambda: shell  # type: ignore[attr-defined]
    return module


def test_in_kernel_needs_ipython_imported_and_a_shell_with_a_kernel() -> None:
    assert not in_kernel({})  # IPython not imported: never imported by us either
    assert not in_kernel({"IPython": ipython_module(None)})  # imported, no shell running
    terminal = types.SimpleNamespace()  # IPython's terminal shell has no kernel
    assert not in_kernel({"IPython": ipython_module(terminal)})
    jupyter = types.SimpleNamespace(kernel=object())
    assert in_kernel({"IPython": ipython_module(jupyter)})


def test_in_kernel_does_not_import_ipython(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert not in_kernel()
    assert "IPython" not in sys.modules


def test_a_broken_get_ipython_is_no_kernel() -> None:
    module = types.ModuleType("IPython")

    def broken() -> Any:
        raise RuntimeError("half imported")

    module.get_ipython = broken  # type: ignore[attr-defined]
    assert not in_kernel({"IPython": module})


@pytest.mark.parametrize(("variable", "place"), ELSEWHERE)
def test_each_variable_names_where_the_kernel_runs(variable: str, place: str) -> None:
    environ = {variable: "1", "DISPLAY": ":0"}  # a display does not bring the browser here
    assert browser_elsewhere(environ, {}, "linux") == place
    assert browser_elsewhere(environ, {}, "darwin") == place


def test_the_table_names_the_places_the_brief_lists() -> None:
    places = dict(ELSEWHERE)
    assert places["JUPYTERHUB_API_URL"] == "JupyterHub" and places["COLAB_RELEASE_TAG"] == "Colab"
    assert {places[k] for k in ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY")} == {"an SSH session"}


def test_colab_is_known_by_its_module_too() -> None:
    assert browser_elsewhere({"DISPLAY": ":0"}, {"google.colab": object()}, "linux") == "Colab"


def test_an_empty_variable_says_nothing() -> None:
    assert browser_elsewhere({"JUPYTERHUB_API_URL": "", "DISPLAY": ":0"}, {}, "linux") is None


@pytest.mark.parametrize(
    ("environ", "platform", "expected"),
    [
        ({}, "linux", NO_DISPLAY),
        ({"DISPLAY": ":0"}, "linux", None),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", None),
        ({"BROWSER": "lynx"}, "linux", None),  # a browser to run here is a browser here
        ({}, "darwin", None),  # a Mac or Windows desktop has no DISPLAY and needs none
        ({}, "win32", None),
    ],
)
def test_no_display_is_a_linux_matter(
    environ: dict[str, str], platform: str, expected: str | None
) -> None:
    assert browser_elsewhere(environ, {}, platform) == expected


def test_where_phrase_reads_as_a_sentence() -> None:
    assert kernel.where_phrase("JupyterHub") == "this kernel runs in JupyterHub"
    assert kernel.where_phrase(NO_DISPLAY) == "this machine has no display"


def test_link_html_makes_the_url_a_link_and_escapes_the_rest() -> None:
    url = "https://example.com/authorize?a=1&b=<2>"
    shown = link_html(f"Open this URL <now>:\n  {url}\n", url)
    assert '<a href="https://example.com/authorize?a=1&amp;b=&lt;2&gt;" target="_blank"' in shown
    assert "&lt;now&gt;" in shown and "<now>" not in shown
    assert shown.count("<a ") == 1


def test_link_html_links_only_http_urls() -> None:
    url = "javascript:alert(1)"
    shown = link_html(f"Open {url} and enter the code", url)
    assert "<a " not in shown and "javascript:alert(1)" in shown


def test_link_html_quotes_an_attribute_breaking_url() -> None:
    url = 'https://example.com/"onmouseover="x'
    shown = link_html(url, url)
    assert 'href="https://example.com/&quot;onmouseover=&quot;x"' in shown


def test_show_link_outside_a_kernel_prints_the_text() -> None:
    stderr = io.StringIO()
    kernel.show_link("Open https://x.test/a", "https://x.test/a", stderr, kernel=False)
    assert stderr.getvalue() == "Open https://x.test/a\n"


def test_show_link_in_a_kernel_displays_text_and_html(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython.display

    shown: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.append((a, k)))
    stderr = io.StringIO()
    kernel.show_link("Open https://x.test/a", "https://x.test/a", stderr, kernel=True)
    assert stderr.getvalue() == ""
    ((bundle,), options) = shown[0]
    assert options == {"raw": True}
    assert bundle["text/plain"] == "Open https://x.test/a"
    assert '<a href="https://x.test/a" target="_blank"' in bundle["text/html"]


def test_read_in_kernel_asks_with_input(monkeypatch: pytest.MonkeyPatch) -> None:
    prompts: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or "the-code")
    assert kernel.read_in_kernel("paste: ") == "the-code"
    assert prompts == ["paste: "]


def test_read_in_kernel_says_none_when_the_frontend_has_no_stdin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from IPython.core.error import StdinNotImplementedError

    def no_stdin(prompt: str) -> str:
        raise StdinNotImplementedError("raw_input was called, but this frontend does not support")

    monkeypatch.setattr("builtins.input", no_stdin)
    assert kernel.read_in_kernel("paste: ") is None
