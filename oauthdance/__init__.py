"""oauthdance: OAuth 2.0 user access tokens for data projects, over one credentials file.

For notebooks and scripts, every step of the dance and the token's use, imported on first
use so `import oauthdance` stays light:
    oauthdance.login("github")                  # or configure, authorize_url, store_code,
    oauthdance.status()                         #    exchange, verify, device, refresh, ...
    oauthdance.fetch("/user/repos")             # token(), session(), auth(), Credentials
`dir(oauthdance)` lists them all; `help(oauthdance.login)` says what each takes.
"""

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = [
    "Checked",
    "CodeStored",
    "Configured",
    "Credentials",
    "Exchanged",
    "Identity",
    "LoggedOut",
    "NotLoggedIn",
    "OAuthDanceError",
    "Refreshed",
    "Revoked",
    "Status",
    "TokenRejected",
    "TokenRejectedWarning",
    "auth",
    "authorize_url",
    "check",
    "configure",
    "device",
    "exchange",
    "fetch",
    "login",
    "logout",
    "refresh",
    "revoke",
    "session",
    "status",
    "store_code",
    "token",
    "use",
    "verify",
]


if TYPE_CHECKING:  # type checkers and editors see the calls; at run time they load on use
    from oauthdance.api import (
        Checked,
        CodeStored,
        Configured,
        Credentials,
        Exchanged,
        Identity,
        LoggedOut,
        NotLoggedIn,
        OAuthDanceError,
        Refreshed,
        Revoked,
        Status,
        TokenRejected,
        TokenRejectedWarning,
        auth,
        authorize_url,
        check,
        configure,
        device,
        exchange,
        fetch,
        login,
        logout,
        refresh,
        revoke,
        session,
        status,
        store_code,
        token,
        use,
        verify,
    )


def __getattr__(name: str) -> object:
    if name in __all__:
        from oauthdance import api

        return getattr(api, name)
    raise AttributeError(f"module 'oauthdance' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public calls, for `dir()` and a notebook's tab completion."""
    return sorted([*__all__, "__version__"])
