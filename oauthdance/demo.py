"""`invoke demo`: a complete dance against the embedded sandbox, each line as it happens."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from . import flow
from .http import send
from .providers import get_provider
from .sandbox import RunningSandbox, Sandbox
from .store import CredentialsFile
from .tokens import mask

DEMO_SCOPE = "repo read:org"
DEMO_REDIRECT = "http://127.0.0.1:8765/callback"


def run_demo(creds_path: str | None = None, say: Callable[[str], None] = print) -> flow.Verified:
    """Run configure → url → approve → code → exchange → verify; return the verified owner.

    Without `creds_path` the credentials live in a temporary folder removed afterwards.
    """
    model = Sandbox(auto_approve=True)
    app = model.register_app("http://127.0.0.1/callback", name="oauthdance demo")
    with tempfile.TemporaryDirectory(prefix="oauthdance-demo-") as tmp, RunningSandbox(model) as sb:
        creds = CredentialsFile(creds_path or Path(tmp) / "creds.json")
        provider = get_provider("sandbox")
        say(f"sandbox: a GitHub-compatible provider is listening on {sb.url}")
        say(f"credentials file: {creds.path}" + ("" if creds_path else " (temporary)"))

        flow.configure(
            creds,
            provider,
            client_id=app.client_id,
            client_secret=app.client_secret,
            redirect_uri=DEMO_REDIRECT,
            scope=DEMO_SCOPE,
            host=sb.host,
        )
        say(
            f"0. auth.configure: app {app.client_id}, secret {mask(app.client_secret)}, "
            f"callback {DEMO_REDIRECT}, scope {DEMO_SCOPE!r}"
        )

        started = flow.start_authorization(creds, provider)
        say(f"1. auth.url: the user opens {started.url}")

        answer = send("GET", started.url, allow_redirects=False)
        location = answer.headers["Location"]
        say(
            f"2-5. the user approves as {model.default_login!r}; the provider redirects the browser"
        )
        say(f"6. auth.code: the browser arrives at {location.split('?')[0]}?code=...&state=...")
        flow.store_code(creds, provider, url=location)

        exchanged = flow.exchange_code(creds, provider)
        say(
            f"7-8. auth.exchange: code + secret + PKCE verifier → token "
            f"{mask(exchanged.token['access_token'])}"
        )

        verified = flow.verify_token(creds, provider)[0]
        say(
            f"9. auth.verify: the token belongs to {verified.owner!r}, scopes "
            f"{', '.join(verified.scopes)}"
        )
        say(f"done: verified login {verified.owner}, token {mask(verified.token['access_token'])}")
        return verified
