"""Set up API access for one provider in one command: what a team gives a new member (or a
CI job). Run it again at any time: when everything already works it changes nothing.

    scripts/onboard [-p PROVIDER] [--scope SCOPES] [--mode auto|browser|paste|device|ci]

It reads the app's `<PROVIDER>_CLIENT_ID` and `<PROVIDER>_CLIENT_SECRET` from the environment
or the team's `.env`, configures the app in the credentials file (unless it already is),
keeps a token that already works (one that has the required scopes and can fetch --path),
else logs in the best way this machine allows, checks the owner and the granted scopes,
fetches one page of --path to prove the API answers, and prints the status and the next
commands. Every step is a function of the `oauthdance` package; this script only chooses.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

import requests

import oauthdance
from oauthdance.base.errors import (
    AuthorizationError,
    ConfigError,
    LoginTimeout,
    NetworkError,
    NotLoggedIn,
    OAuthDanceError,
    ProviderError,
    UsageError,
    printable,
)
from oauthdance.base.settings import app_variable, dotenv_file
from oauthdance.dance import flow
from oauthdance.dance.device import device_login
from oauthdance.dance.login import has_display, is_remote_session, open_browser, run_login
from oauthdance.keep.lifecycle import FoundToken, environment_token, find_token
from oauthdance.keep.target import Target, resolve_target
from oauthdance.net import endpoints
from oauthdance.protocol.oauth import missing_scopes, split_scopes
from oauthdance.protocol.providers import Provider
from oauthdance.protocol.tokens import mask

MODES = ("auto", "browser", "paste", "device", "ci")
COMMAND = "scripts/onboard"
INTERRUPTED = 130  # as `oauthdance.base.errors.EXIT_CODES` says: Ctrl-C, SIGTERM or SIGHUP


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors look like every other error here (`error:` and `next:`),
    with the exit code the package gives usage errors."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(UsageError.exit_code, f"error: {message}\n  next: see `{COMMAND} --help`\n")


def positive_seconds(text: str) -> float:
    """A --timeout: 0, a negative, nan or inf would end (or never end) a login at once."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return seconds


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = Parser(
        prog=COMMAND,
        description="Set up OAuth access to a provider's API: configure the team's app, log in "
        "(or keep a token that already works), check the scopes, prove the API answers.",
        epilog="Exit codes: 0 ready (also when nothing needed doing), 1 error (the message says "
        "what to do next), 2 usage error, 130 interrupted.",
    )
    parser.add_argument(
        "-p", "--provider", help="provider name (default: OAUTHDANCE_PROVIDER, else github)"
    )
    parser.add_argument(
        "--creds",
        metavar="FILE",
        help="credentials file (default: OAUTHDANCE_CREDS, else creds.json)",
    )
    parser.add_argument(
        "-s",
        "--scope",
        metavar="SCOPES",
        help="the scopes the team requires, space- or comma-separated (default: the configured "
        "scope, else the provider's default)",
    )
    parser.add_argument(
        "--redirect-uri", metavar="URI", help="the app's callback URL (default: as configured)"
    )
    parser.add_argument(
        "--host",
        metavar="HOST[:PORT]",
        help="serve the provider from this host[:port] (GitHub Enterprise, the sandbox)",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="auto",
        help="how to log in: auto (a browser where there is a display, paste over SSH, else "
        "the device flow where the provider has one), browser, paste, device, or ci (never "
        "prompt: use the provider's token variable, e.g. GITHUB_TOKEN, or a stored token)",
    )
    parser.add_argument(
        "--path", default="/user", help="API path fetched to prove the API works (default /user)"
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=300.0,
        metavar="SECONDS",
        help="how long to wait for the login (default 300)",
    )
    return parser.parse_args(argv)


def say(text: str) -> None:
    """Progress and prompts go to stderr; stdout carries only the final status."""
    print(text, file=sys.stderr, flush=True)


# -- the app ------------------------------------------------------------------------------


def configuration_drift(
    target: Target, host: str | None, redirect_uri: str | None, scope: str | None
) -> list[str]:
    """What differs between the stored configuration and the wanted one ([] = nothing, so
    the file is not rewritten)."""
    record = target.store.record(target.provider.name)
    current = flow.current_client(target.store, target.provider)
    drift = []
    if not record.get("client_id") or record["client_id"] != current.client_id:
        drift.append("client_id")
    if host and current.provider.host != host.strip().rstrip("/"):
        drift.append("host")
    if redirect_uri and current.redirect_uri != redirect_uri.strip():
        drift.append("redirect_uri")
    if scope and scope_gap(current.provider, scope, split_scopes(current.scope)):
        drift.append("scope")
    from_env = current.secret_source in ("environment", ".env")
    if from_env and record.get("client_secret") != current.client_secret:
        drift.append("client_secret")
    return drift


def configure(target: Target, args: argparse.Namespace) -> bool:
    """Record the team's app in the credentials file, unless it already is recorded so;
    True when the file was written."""
    name, prefix = target.provider.name, target.provider.env_prefix
    has_id = app_variable(f"{prefix}_CLIENT_ID")[0] or target.store.record(name).get("client_id")
    if not has_id:
        if args.mode == "ci" and not args.host:
            return False  # an environment token needs no app
        raise ConfigError(
            f"no client_id for {name!r}: onboarding reads {prefix}_CLIENT_ID from the team's "
            f".env ({dotenv_file()}) or the environment",
            f"get the team's .env (it sets {prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET) into "
            f"this folder, or export them, then run `{COMMAND}` again",
        )
    drift = configuration_drift(target, args.host, args.redirect_uri, args.scope)
    if not drift:
        return False
    new = not target.store.record(name).get("client_id")
    scope = args.scope if "scope" in drift else None
    app = flow.configure(
        target.store, target.provider, redirect_uri=args.redirect_uri, scope=scope, host=args.host
    )
    say(
        f"configured {name} in {target.store.location} "
        f"({'new' if new else 'changed: ' + ', '.join(drift)}): client_id {app.client_id}, "
        f"secret {mask(app.client_secret) or '(none)'} from {app.secret_source}, "
        f"scope {app.scope!r}"
    )
    return True


def scope_gap(provider: Provider, required: str, granted: list[str]) -> list[str]:
    """Required scopes that `granted` lacks (a broader scope covers a narrower one)."""
    return missing_scopes(required, granted, provider.implied_scopes)


# -- checking a token ----------------------------------------------------------------------


@dataclass(frozen=True)
class Ready:
    """A token that works: whose it is, what it may do, and what the API said."""

    found: FoundToken
    owner: str
    scopes: list[str]
    missing: list[str]
    page: str


class TokenRefused(OAuthDanceError):
    """The provider refused a token (401): only another token helps."""


def check(target: Target, found: FoundToken, required: str, path: str) -> Ready:
    """Ask the user endpoint whose token it is and which scopes it has; with every required
    scope there, fetch one page of `path`."""
    api = flow.current_client(target.store, target.provider).provider
    owner, scopes = found.owner or "(not known)", list(found.record.get("scope") or [])
    if api.user_endpoint:
        try:
            identity = endpoints.fetch_identity(api, found.access_token)
        except ProviderError as exc:
            if exc.status == 401:
                raise TokenRefused(
                    f"the provider refused the token from the {found.source}"
                ) from exc
            raise
        owner = identity.login
        scopes = identity.scopes if identity.scopes is not None else scopes
    missing = scope_gap(api, required, scopes)
    page = "" if missing else fetch_page(target, found.owner, path)
    return Ready(found, owner, scopes, missing, page)


def fetch_page(target: Target, owner: str | None, path: str) -> str:
    """GET one page of `path` with the token in use: what it answered, in a few words."""
    name = target.provider.name
    session = oauthdance.session(name, owner, target.store)
    shown = printable(path, 200)
    try:
        answer = session.get(path)
    except requests.RequestException as exc:
        raise NetworkError(
            f"GET {shown} failed: {type(exc).__name__}",
            "check the network, and the provider's host (--host)",
        ) from exc
    if answer.status_code >= 400:
        raise ProviderError.from_response(
            answer,
            "the token works but cannot read that path: check --path, and whether the app "
            "is allowed where the path points (an organization may have to approve it)"
            if answer.status_code in (401, 403)
            else f"check --path {shlex.quote(path)} (an API path such as /user/repos)",
            f"GET {shown}",
        )
    try:
        body = answer.json()
    except ValueError:
        return f"GET {shown}: {answer.status_code}, {len(answer.content)} bytes"
    what = f"{len(body)} items" if isinstance(body, list) else "an object"
    return f"GET {shown}: {answer.status_code}, {what}"


def usable_token(target: Target, ci: bool) -> FoundToken | None:
    """The token a run would use now (refreshed if due), or None when a login is needed.
    Interactive modes look at stored tokens only: setting one up is the point of them."""
    try:
        return find_token(target.store, target.provider, target.user, use_environment=ci)
    except NotLoggedIn as exc:
        if ci:
            raise no_token_for_ci(target, exc.message) from exc
        say(f"{exc.message}: logging in")
        return None


def no_token_for_ci(target: Target, why: str) -> NotLoggedIn:
    """A CI job cannot log in: say which variable to set (or what to keep from a login)."""
    provider = target.provider
    variables = " or ".join(provider.token_env) or "a token variable"
    return NotLoggedIn(
        f"--mode ci never prompts, and has no {provider.name} token: {variables} is not set, "
        f"and {why}",
        f"set {provider.token_env[0] if provider.token_env else 'the token'} (from the CI's "
        f"secrets) to a token with the scopes {required_text(target)}, or run `{COMMAND} "
        f"-p {shlex.quote(provider.name)}` once interactively and keep {target.store.location}",
    )


def required_text(target: Target, scope: str | None = None) -> str:
    """The required scopes, to name in advice: `scope`, else the configured ones."""
    wanted = scope or flow.current_client(target.store, target.provider).scope
    return ", ".join(split_scopes(wanted)) or "(none)"


# -- logging in ----------------------------------------------------------------------------


def login_way(mode: str, provider: Provider, environ: Mapping[str, str] = os.environ) -> str:
    """browser, paste or device: what `mode` means on this machine."""
    if mode != "auto":
        return mode
    if has_display(dict(environ)):
        return "browser"
    if is_remote_session(dict(environ)) or not provider.device_url:
        return "paste"
    return "device"


def deadline_sleep(timeout: float) -> Callable[[float], None]:
    """A `sleep` for the device flow's polling that ends the wait at `timeout` seconds."""
    end = time.monotonic() + timeout

    def sleep(seconds: float) -> None:
        left = end - time.monotonic()
        if left <= seconds:
            time.sleep(max(left, 0))
            raise LoginTimeout(
                f"the code was not entered within {timeout:g} seconds",
                f"run `{COMMAND} --mode device` again (with a longer --timeout)",
            )
        time.sleep(seconds)

    return sleep


def log_in(target: Target, mode: str, timeout: float) -> flow.Verified:
    """Log in `mode`'s way on this machine; the token is stored under its owner."""
    provider, store, user = target.provider, target.store, target.user
    app = flow.current_client(store, provider).require_client_id()
    way = login_way(mode, app.provider)
    say(f"logging in to {provider.name}: {way}{' (--mode auto)' if mode == 'auto' else ''}")
    if way == "device":
        try:
            return device_login(
                store,
                provider,
                user=user,
                opener=open_browser if has_display() else None,
                sleep=deadline_sleep(timeout),
            )
        except ProviderError as exc:
            if mode != "auto" or exc.error != "device_flow_disabled":
                raise
            say("(the app has no device flow: pasting the redirect instead)")
            way = "paste"
    if app.auth_method != "none":
        app.require_secret()  # before the user approves, not after
    return run_login(
        store, provider, user=user, timeout=timeout, mode="paste" if way == "paste" else "auto"
    )


# -- the whole run -------------------------------------------------------------------------


def onboard(args: argparse.Namespace) -> None:
    """configure → keep a working token, or log in → check scopes → fetch --path → status.
    Raises `OAuthDanceError` for anything that stops it (the message says what to do)."""
    target = resolve_target(args.provider, None, args.creds)
    provider, ci = target.provider, args.mode == "ci"
    configured = configure(target, args)
    required = args.scope or flow.current_client(target.store, provider).scope
    shadow = environment_token(provider)
    if shadow and not ci:
        say(
            f"warning: {shadow[1]} is set: invoke data.* and oauthdance.token() use it, not the "
            "stored token, unless --user names its owner (unset it to use the stored one)"
        )
    found = usable_token(target, ci)
    if found:
        try:
            ready = check(target, found, required, args.path)
        except TokenRefused as exc:
            if ci:
                raise refused_in_ci(target, found, exc) from exc
            say(f"{exc.message}: logging in")
        else:
            if not ready.missing:
                headline = "ready" if configured else "already set up (nothing to do)"
                show(target, ready, headline, args.path)
                return
            if ci:
                raise lacks_scopes(ready, target, required)
            say(f"the token lacks the scope(s) {', '.join(ready.missing)}: logging in")
    verified = log_in(target, args.mode, args.timeout)
    found = find_token(target.store, provider, verified.owner, use_environment=False)
    ready = check(target, found, required, args.path)
    if ready.missing:
        raise lacks_scopes(ready, target, required)
    show(target, ready, "set up", args.path)


def refused_in_ci(target: Target, found: FoundToken, exc: TokenRefused) -> TokenRefused:
    """The refusal with CI's way out: another variable, or a login somewhere interactive."""
    env = environment_token(target.provider)
    fix = (
        f"set {env[1]} to a valid token"
        if found.owner is None and env
        else f"run `{COMMAND} -p {shlex.quote(target.provider.name)}` once interactively "
        "to log in again"
    )
    return TokenRefused(f"{exc.message} (revoked, expired or wrong)", fix)


def lacks_scopes(ready: Ready, target: Target, required: str) -> AuthorizationError:
    """The missing scopes, named, and who can grant them (the user, or the token's maker)."""
    name = shlex.quote(target.provider.name)
    granted = ", ".join(printable(s, 80) for s in ready.scopes) or "none"
    if ready.found.owner is None:
        wanted = required_text(target, required)
        fix = f"give the token in the {ready.found.source} the scopes {wanted}"
    else:
        fix = (
            f"run `{COMMAND} -p {name}` again and approve every scope asked for (an "
            "organization may have to allow the app first)"
        )
    return AuthorizationError(
        f"the {target.provider.name} token of {printable(ready.owner, 80)} lacks the required "
        f"scope(s) {', '.join(ready.missing)} (granted: {granted})",
        fix,
    )


def show(target: Target, ready: Ready, headline: str, path: str) -> None:
    """The status on stdout (every secret masked), and the commands to use next."""
    record, provider = ready.found.record, target.provider
    env = environment_token(provider)
    if ready.found.owner is None and env:
        source, expires = env[1], "not known (a token from the environment)"
    else:
        source, expires = target.store.location, record.get("expires_at") or "never"
        if record.get("refresh_token"):
            expires += " (refreshed automatically)"
    flags = f"-p {shlex.quote(provider.name)}"
    if target.settings.sources.get("creds") == "flag":
        flags += f" --creds {shlex.quote(target.store.location)}"
    lines = [
        f"{headline}: {provider.name} as {printable(ready.owner, 80)}",
        f"  token    {mask(ready.found.access_token)} from {source}",
        f"  scopes   {', '.join(printable(s, 80) for s in ready.scopes) or 'none'}",
        f"  expires  {expires}",
        f"  api      {ready.page}",
        "next:",
        f"  invoke data.fetch {flags} --path {shlex.quote(path)} --out data.json",
    ]
    if "X-GitHub-Api-Version" in provider.api_headers:  # the data.* presets are GitHub's paths
        lines.append(f"  invoke data.repos {flags} --out repos.csv")
    lines.append(f"  invoke auth.status {flags}")
    print("\n".join(lines), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """The exit code: 0, the error's own (`oauthdance.base.errors.EXIT_CODES`), or 130."""
    args = parse_args(argv)
    try:
        onboard(args)
    except OAuthDanceError as exc:
        say("error: " + "\n".join(printable(line, 100_000) for line in str(exc).split("\n")))
        return exc.exit_code
    except KeyboardInterrupt:  # Ctrl-C, and SIGTERM/SIGHUP during a login
        say("interrupted")
        return INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
