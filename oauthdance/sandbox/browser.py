"""A scripted browser for the sandbox's consent page: open the authorize URL, press a button.

What a person does in steps 2-5 of the dance, for the demo, the benchmarks and the tests.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import requests

TIMEOUT = 10.0


class _Form(HTMLParser):
    """Reads the consent page's form the way a browser would."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.action = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = attr.get("action", "")
        if tag == "input" and attr.get("name"):
            self.fields[attr["name"]] = attr.get("value", "")


def approve(url: str, decision: str = "approve", login: str | None = None) -> str:
    """Open the authorize URL, press Authorize (or Deny) as `login`; return where the
    provider redirects the browser (the callback URL with its code or error)."""
    page = requests.get(url, allow_redirects=False, timeout=TIMEOUT)
    if page.status_code in (302, 303):  # auto-approve, or an error sent straight back
        return page.headers["Location"]
    if page.status_code != 200:
        raise RuntimeError(f"the authorize page answered HTTP {page.status_code}: {page.text}")
    form = _Form()
    form.feed(page.text)
    fields = {**form.fields, "decision": decision}
    if login:
        fields["login"] = login
    origin = re.match(r"https?://[^/]+", url)
    assert origin, url
    answer = requests.post(
        origin.group(0) + form.action, data=fields, allow_redirects=False, timeout=TIMEOUT
    )
    if answer.status_code not in (302, 303):
        raise RuntimeError(f"the consent form answered HTTP {answer.status_code}: {answer.text}")
    return answer.headers["Location"]
