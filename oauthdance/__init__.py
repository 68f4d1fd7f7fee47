"""oauthdance: OAuth 2.0 user access tokens for data projects, over one credentials file.

For notebooks and scripts: `oauthdance.token()`, `oauthdance.session()`,
`oauthdance.auth()`, `oauthdance.fetch()` and `oauthdance.Credentials` (imported on first
use, so `import oauthdance` stays light).
The steps live in `oauthdance.dance.flow`, the file in `oauthdance.store`, providers in
`oauthdance.protocol.providers`, the local provider in `oauthdance.sandbox`.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Credentials", "auth", "fetch", "session", "token"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from oauthdance import api

        return getattr(api, name)
    raise AttributeError(f"module 'oauthdance' has no attribute {name!r}")
