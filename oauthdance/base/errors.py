"""Every error oauthdance raises, the advice each carries, and the exit codes they map to.

Each error says what went wrong and, in `hint`, what to do next: prose, or a
`advice.Hint` whose commands the face in use spells (`invoke …`, `oauthdance …`, the Python
call). Tasks turn any
`OAuthDanceError` into its exit code with no traceback; anything else is a bug and keeps
its traceback. Text that came from a provider is made printable before it is shown.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from oauthdance.base.advice import Asked, Command, Face, Hint, asked, context_asking, resumed

# Exit codes, in one table (the README's "Errors" section is tested against it).
EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "an error: the message says what went wrong and `next:` what to run",
    2: "a usage error: a flag is missing or has a wrong value",
    3: "`--no-wait` stopped at a spent rate limit (what was fetched is saved)",
    4: "the shared credentials store (Vault/OpenBao) is unreachable or sealed: try again later",
    130: "interrupted (Ctrl-C; SIGTERM or SIGHUP during a login), with nothing left behind",
    141: "the reader of stdout went away (piped into `head`), as for a program killed by SIGPIPE",
}
BROKEN_PIPE = 141


def printable(text: Any, limit: int = 300) -> str:
    """Provider-chosen text made safe for a terminal: every character Python does not call
    printable (controls, escapes, bidi overrides, line breaks, unassigned) becomes `?`."""
    shown = "".join(c if c.isprintable() else "?" for c in str(text)[: limit + 1])
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


class OAuthDanceError(Exception):
    """Root of every error a user can cause or fix; `hint` says what to do next."""

    exit_code = 1

    def __init__(self, message: str, hint: Hint | str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.advice = hint
        self.asked: Asked | None = None  # the face it was raised to, once bound

    def bind(self, now: Asked) -> OAuthDanceError:
        """Spell the hint for this face and these flags from now on, wherever it is shown
        (a notebook shows the error after the call that raised it has returned)."""
        self.asked = now
        return self

    @property
    def hint(self) -> str | None:
        """The hint as the face it was raised to spells it."""
        if isinstance(self.advice, Hint):
            return self.advice.render(self.asked or asked())
        return self.advice

    def __str__(self) -> str:
        hint = self.hint
        return f"{self.message}\n  next: {hint}" if hint else self.message


@contextlib.contextmanager
def answering(now: Asked) -> Iterator[Asked]:
    """Within this block suggestions are spelt as `now` says, and an `OAuthDanceError`
    leaving it is bound to `now` (unless a call inside bound it first): the Python API's
    errors keep their face after the call that raised them has returned."""
    with resumed(now):
        try:
            yield now
        except OAuthDanceError as exc:
            if exc.asked is None:
                exc.bind(now)
            raise


F = TypeVar("F", bound=Callable[..., Any])


def python_face(func: F) -> F:
    """Run `func` as the Python face: its suggestions (and those of the errors it raises,
    wherever they are shown later) are spelt as Python calls, carrying the provider, user
    and creds it was given (`creds`, or `file` in the notebooks' helpers; a method of a
    store: its own location). A generator's every step runs so, and the caller's code
    between steps does not."""
    signature = inspect.signature(func)
    where = next((n for n in ("creds", "file", "self") if n in signature.parameters), "")

    def face(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Asked:
        given = signature.bind_partial(*args, **kwargs).arguments
        return Asked.of(Face.PYTHON, given.get("provider"), given.get("user"), given.get(where))

    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def steps(*args: Any, **kwargs: Any) -> Iterator[Any]:
            # Each step runs in a context of its own that says `now` (a C call per item:
            # a fetch yields tens of thousands), and the caller's code between steps not.
            now, items = face(args, kwargs), func(*args, **kwargs)
            context = context_asking(now)
            try:
                while True:
                    try:
                        item = context.run(next, items)
                    except StopIteration:
                        return
                    except OAuthDanceError as exc:
                        if exc.asked is None:
                            exc.bind(now)
                        raise
                    yield item
            finally:
                with answering(now):
                    items.close()  # a caller that stops early: func's cleanup runs now

        return steps  # type: ignore[return-value]  # it takes and yields what func does

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        with answering(face(args, kwargs)):
            return func(*args, **kwargs)

    return call  # type: ignore[return-value]  # it takes and returns what func does


class UsageError(OAuthDanceError):
    """A flag is missing or has a value that cannot be right."""

    exit_code = 2


class ConfigError(OAuthDanceError):
    """The app or provider configuration is missing or invalid."""


class CredentialsFileError(OAuthDanceError):
    """The credentials file cannot be read, parsed or written."""


class StoreError(CredentialsFileError):
    """The credentials store (Vault/OpenBao, the OS keyring) refused or failed; nothing of
    the change that met it was written."""


class StoreUnavailable(StoreError):
    """Vault/OpenBao cannot be reached, or is sealed: the same command may work later."""

    exit_code = 4


class StoreDenied(StoreError):
    """No Vault token, or the token's policy does not allow this path."""


class StoreMissing(StoreError):
    """The Vault mount named in `--creds` does not exist (or is not KV version 2)."""


class StoreConflict(StoreError):
    """Other writers kept changing the same secret: the change lost every retry."""


class AuthorizationError(OAuthDanceError):
    """The authorization step went wrong: a bad redirect, an error answer, a bad state."""


class UnknownState(AuthorizationError):
    """The `state` is not one this credentials file handed out."""


class StateMismatch(AuthorizationError):
    """The `state` given does not match the one in the redirect."""


class AuthorizationDenied(AuthorizationError):
    """The provider redirected back with `error=...` instead of a code."""


class IdTokenInvalid(AuthorizationError):
    """The id_token that came with the token failed validation."""


class LoginTimeout(OAuthDanceError):
    """No redirect arrived in time."""


class NotLoggedIn(OAuthDanceError):
    """No usable token is stored for this provider and owner."""


class TokenRejected(NotLoggedIn):
    """The provider refused the token: `auth.check` found it invalid, its refresh token was
    refused, or an API answered 401 and the one refresh-and-resend did not help (or the
    token cannot be refreshed), in `fetch()` and `data.*` (`session()` warns instead:
    `TokenRejectedWarning`). A `NotLoggedIn`, so every `except NotLoggedIn` catches it."""

    @staticmethod
    def advice_for(login: Command, token_from: str = "file") -> Hint:
        """What fixes a refused token: `login` (this owner's) logs in again, unless the
        token came from a variable (`token_from`: "environment (NAME)"), which no login
        can fix."""
        if token_from.startswith("environment"):
            return Hint(
                f"the token came from the {token_from}: set a valid one there, or unset it "
                "to use the stored one"
            )
        return Hint("log in again: {login}", login=login)

    @classmethod
    def at(cls, url: str, message: str, login: Command, token_from: str = "file") -> TokenRejected:
        """The error for a 401 at `url` (whose answer said `message`): one wording for
        `fetch()`'s error and `session()`'s warning."""
        return cls(
            f"the provider refused the token at {printable(url)} ({printable(message)})",
            cls.advice_for(login, token_from),
        )


class TokenRejectedWarning(UserWarning):
    """`session()` returned a 401 that the one refresh-and-resend did not cure (requests'
    semantics: the response, not an error); the message says which call fixes it."""


class NetworkError(OAuthDanceError):
    """The provider could not be reached, or answered with something unreadable."""


class ProviderError(OAuthDanceError):
    """The provider answered with an error; `status` is the HTTP status where there was one,
    and `response` the answer itself (never printed) when it came from `from_response`."""

    response: Any = None

    def __init__(
        self,
        error: str,
        description: str | None,
        hint: Hint | str | None = None,
        status: int | None = None,
    ) -> None:
        error = printable(error, 80)
        description = printable(description) if description else None
        text = f"the provider answered {error!r}"
        if description:
            text += f": {description}"
        super().__init__(text, hint)
        self.error = error
        self.description = description
        self.status = status

    @classmethod
    def from_response(cls, response: Any, hint: Hint | str | None, what: str = "") -> ProviderError:
        """An HTTP error answer, with its status and the start of its body as the description."""
        status = int(response.status_code)
        body = response_text(response)
        prefix = f"{what}: " if what else ""
        error = cls(f"http_{status}", prefix + body if body else what or None, hint, status)
        error.response = response
        return error


def response_text(response: Any) -> str:
    """What an error answer says in its `error_description`/`message`/`error` field; for any
    other body only its type and size: a body is never echoed, as it may hold a token."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("error_description", "message", "error"):
            if isinstance(data.get(key), str) and data[key]:
                return printable(data[key], 200)
    size = len(response.content or b"")
    kind = printable(response.headers.get("Content-Type") or "untyped", 60)
    return f"a {kind} body of {size} bytes" if size else "an empty body"


class RateLimited(OAuthDanceError):
    """The primary rate limit is spent and waiting was not wanted."""

    exit_code = 3

    def __init__(self, message: str, hint: Hint | str, reset_at: float) -> None:
        super().__init__(message, hint)
        self.reset_at = reset_at


# -- advice for the errors providers send --------------------------------------------------

# At the token endpoint (GitHub's documented errors and RFC 6749 §5.2). Each command
# gets the provider where the error is raised (`advice()`), the rest from the face in use.
_URL, _LOGIN = Command("auth.url"), Command("auth.login")
_CONFIGURE, _DEVICE = Command("auth.configure"), Command("auth.device")
_RESTART = "run {url} again (or {login}) to get a fresh code"
TOKEN_ERROR_HINTS: dict[str, Hint] = {
    "bad_verification_code": Hint(
        "the code is wrong, already used or older than {minutes}: " + _RESTART,
        url=_URL,
        login=_LOGIN,
    ),
    "invalid_grant": Hint(
        "the code is wrong, already used or older than {minutes} (or the refresh token is "
        "spent): " + _RESTART,
        url=_URL,
        login=_LOGIN,
    ),
    "incorrect_client_credentials": Hint(
        "the client_id or client_secret is wrong: check them in the app's settings and run "
        "{configure} (or fix <PROVIDER>_CLIENT_SECRET)",
        configure=_CONFIGURE,
    ),
    "invalid_client": Hint(
        "the client_id or client_secret is wrong (or the server registered the client for "
        "another authentication method): run {configure}",
        configure=_CONFIGURE,
    ),
    "redirect_uri_mismatch": Hint(
        "the redirect_uri differs from the app's callback URL: make them the same with "
        "{configure}, then " + _RESTART,
        configure=_CONFIGURE.with_flags(redirect_uri="..."),
        url=_URL,
        login=_LOGIN,
    ),
    "unverified_user_email": Hint(
        "the account's primary email is not verified: verify it at the provider, then " + _RESTART,
        url=_URL,
        login=_LOGIN,
    ),
    "bad_refresh_token": Hint(
        "the refresh token is wrong, used or expired: log in again with {login}", login=_LOGIN
    ),
    "unsupported_grant_type": Hint("the provider does not accept this grant type for this app"),
}

# On the redirect back from the authorize page.
REDIRECT_ERROR_HINTS: dict[str, Hint] = {
    "access_denied": Hint(
        "the user pressed Deny (or cancelled): run {url} again and approve the app", url=_URL
    ),
    "redirect_uri_mismatch": Hint(
        "the redirect_uri is not the app's callback URL: fix it with {configure}, then run "
        "{url} again",
        configure=_CONFIGURE.with_flags(redirect_uri="..."),
        url=_URL,
    ),
    "application_suspended": Hint(
        "the app is suspended: its owner must unsuspend it in the provider's settings"
    ),
}

# In the device flow (RFC 8628 §3.5 and GitHub's additions).
DEVICE_ERROR_HINTS: dict[str, Hint] = {
    "expired_token": Hint(
        "the code expired before it was entered: run {device} again", device=_DEVICE
    ),
    "access_denied": Hint("the user pressed Cancel: run {device} again to retry", device=_DEVICE),
    "device_flow_disabled": Hint(
        "enable 'Device Flow' in the app's settings, or use {login}", login=_LOGIN
    ),
    "incorrect_device_code": Hint(
        "the device code is not valid: run {device} again", device=_DEVICE
    ),
    "incorrect_client_credentials": Hint(
        "the client_id is wrong: check {status}", status=Command("auth.status")
    ),
    "unsupported_grant_type": Hint("the provider does not offer the device flow for this app"),
}


def advice(hints: dict[str, Hint], error: str, provider: str = "", **values: str) -> Hint | None:
    """The hint for `error`, its commands naming `provider`, its fields filled in."""
    hint = hints.get(error)
    return hint.for_provider(provider).with_values(**values) if hint else None


def token_error(
    error: str,
    description: str | None,
    code_lifetime: int = 600,
    status: int | None = None,
    provider: str = "",
) -> ProviderError:
    """The error for a token-endpoint answer, with the matching advice.

    `code_lifetime` (seconds) is how long the provider's codes live: eBay's die after 5
    minutes, GitHub's after 10, and the advice says which.
    """
    minutes = code_lifetime / 60
    lifetime = f"{minutes:g} minute" + ("" if minutes == 1 else "s")
    hint = advice(TOKEN_ERROR_HINTS, error, provider, minutes=lifetime)
    return ProviderError(error, description, hint, status)
