"""`invoke demo`, and the one headless login to the sandbox that the demo, the benchmarks
and the tests share: every line of the dance, run against the embedded provider."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from oauthdance.dance import flow
from oauthdance.protocol.providers import Provider, get_provider
from oauthdance.protocol.tokens import mask
from oauthdance.sandbox import App, RunningSandbox, Sandbox
from oauthdance.sandbox.browser import approve
from oauthdance.store import Store, open_store

DEMO_SCOPE = "repo read:org"
DEMO_REDIRECT = "http://127.0.0.1:8765/callback"


def sandbox_login(
    creds: Store,
    sandbox: RunningSandbox,
    app: App,
    *,
    login: str | None = None,
    scope: str = DEMO_SCOPE,
    redirect_uri: str = DEMO_REDIRECT,
    say: Callable[[str], None] = lambda line: None,
) -> flow.Verified:
    """Configure `app` as provider `sandbox` in `creds` and log `login` in, headlessly:
    configure → url → approve → code → exchange → verify, each line told to `say`."""
    provider = get_provider("sandbox")
    flow.configure(
        creds,
        provider,
        client_id=app.client_id,
        client_secret=app.client_secret,
        redirect_uri=redirect_uri,
        scope=scope,
        host=sandbox.host,
    )
    say(
        f"0. auth.configure: app {app.client_id}, secret {mask(app.client_secret)}, "
        f"callback {redirect_uri}, scope {scope!r}"
    )
    return headless_login(creds, provider, login or sandbox.model.default_login, say)


def headless_login(
    creds: Store,
    provider: Provider,
    login: str | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> flow.Verified:
    """The dance after configure, with the sandbox's consent page pressed by a script:
    url → approve as `login` → code → exchange → verify."""
    started = flow.start_authorization(creds, provider)
    say(f"1. auth.url: the user opens {started.url}")
    location = approve(started.url, login=login)
    say(f"2-5. the user approves as {login!r}; the provider redirects the browser")
    say(f"6. auth.code: the browser arrives at {location.split('?')[0]}?code=...&state=...")
    flow.store_code(creds, provider, url=location)
    exchanged = flow.exchange_code(creds, provider)
    say(
        f"7-8. auth.exchange: code + secret + PKCE verifier → token "
        f"{mask(exchanged.token['access_token'])}"
    )
    fresh = exchanged.token["access_token"]
    verified = next(
        v for v in flow.verify_token(creds, provider) if v.token["access_token"] == fresh
    )
    say(
        f"9. auth.verify: the token belongs to {verified.owner!r}, scopes "
        f"{', '.join(verified.scopes)}"
    )
    return verified


def run_demo(creds_path: str | None = None, say: Callable[[str], None] = print) -> flow.Verified:
    """Run the whole dance against a sandbox of its own; return the verified owner.

    Without `creds_path` the credentials live in a temporary folder removed afterwards.
    """
    model = Sandbox(auto_approve=True)
    app = model.register_app("http://127.0.0.1/callback", name="oauthdance demo")
    with tempfile.TemporaryDirectory(prefix="oauthdance-demo-") as tmp, RunningSandbox(model) as sb:
        creds = open_store(creds_path or Path(tmp) / "creds.json")
        say(f"sandbox: a GitHub-compatible provider is listening on {sb.url}")
        say(f"credentials: {creds.location}" + ("" if creds_path else " (temporary)"))
        verified = sandbox_login(creds, sb, app, say=say)
        say(f"done: verified login {verified.owner}, token {mask(verified.token['access_token'])}")
        return verified
