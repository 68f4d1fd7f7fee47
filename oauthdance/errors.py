"""One exception family: each error says what went wrong and what to do next.

Tasks turn any `OAuthDanceError` into a clean non-zero exit; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations


class OAuthDanceError(Exception):
    """Root of every error a user can cause or fix; `hint` says what to run next."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  next: {self.hint}" if self.hint else self.message


class ConfigError(OAuthDanceError):
    """The app or provider configuration is missing or invalid."""


class CredentialsFileError(OAuthDanceError):
    """The credentials file cannot be read, parsed or written."""


class AuthorizationError(OAuthDanceError):
    """The authorization step went wrong: a bad redirect, an error answer, a bad state."""


class UnknownState(AuthorizationError):
    """The `state` is not one this credentials file handed out."""


class StateMismatch(AuthorizationError):
    """The `state` given does not match the one in the redirect."""


class AuthorizationDenied(AuthorizationError):
    """The provider redirected back with `error=...` instead of a code."""


class NotLoggedIn(OAuthDanceError):
    """No usable token is stored for this provider and owner."""


class NetworkError(OAuthDanceError):
    """The provider could not be reached or answered with something unreadable."""


class ProviderError(OAuthDanceError):
    """The provider answered a token or API request with an error."""

    def __init__(self, error: str, description: str | None, hint: str | None = None) -> None:
        text = f"the provider answered {error!r}"
        if description:
            text += f": {description}"
        super().__init__(text, hint)
        self.error = error
        self.description = description


# What to do next, for each error GitHub (and RFC 6749) documents at the token endpoint.
_RESTART = "run `invoke auth.url` again (or `invoke auth.login`) to get a fresh code"
TOKEN_ERROR_HINTS: dict[str, str] = {
    "bad_verification_code": "the code is wrong, already used or older than {minutes}: " + _RESTART,
    "invalid_grant": "the code is wrong, already used or older than {minutes} (or the "
    "refresh token is spent): " + _RESTART,
    "incorrect_client_credentials": "the client_id or client_secret is wrong: check them in "
    "the app's settings and run `invoke auth.configure` (or fix <PROVIDER>_CLIENT_SECRET)",
    "invalid_client": "the client_id or client_secret is wrong: run `invoke auth.configure`",
    "redirect_uri_mismatch": "the redirect_uri differs from the app's callback URL: make them "
    "the same with `invoke auth.configure --redirect-uri ...`, then " + _RESTART,
    "unverified_user_email": "the account's primary email is not verified: verify it at the "
    "provider, then " + _RESTART,
    "bad_refresh_token": "the refresh token is wrong, used or expired: log in again",
    "unsupported_grant_type": "the provider does not accept this grant type for this app",
}


def token_error(error: str, description: str | None, code_lifetime: int = 600) -> ProviderError:
    """Build the error for a token-endpoint answer, with the matching advice.

    `code_lifetime` (seconds) is how long the provider's codes live: eBay's die after 5
    minutes, GitHub's after 10, and the advice says which.
    """
    minutes = code_lifetime / 60
    lifetime = f"{minutes:g} minute" + ("" if minutes == 1 else "s")
    hint = TOKEN_ERROR_HINTS.get(error)
    return ProviderError(error, description, hint.format(minutes=lifetime) if hint else None)
