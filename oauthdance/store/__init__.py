"""Where the records live: a file (the default), Vault/OpenBao, or the OS keyring.

`open_store(creds)` picks the backend from the `--creds` value:

    creds.json, creds.yaml          the credentials file (`file.CredentialsFile`)
    vault://HOST[:PORT]/MOUNT/PREFIX  Vault or OpenBao KV v2 (`vault.VaultStore`); also
                                      openbao://, and vault+http:// on loopback only
    keyring:[FILE]                  secrets in the OS keyring, the rest in FILE

Every backend offers the same `Store` interface (`base.py`) over the same records, whose
keys only `record.py` names; only this module knows them all, and the Vault and keyring
modules (and their libraries) load only when used. Imports `protocol` and `base`.
"""

from __future__ import annotations

import os

from oauthdance.store.base import RefreshTurn, Store, apply_change
from oauthdance.store.file import LOCK_TIMEOUT_SECONDS, CredentialsFile

__all__ = [
    "LOCK_TIMEOUT_SECONDS",
    "CredentialsFile",
    "RefreshTurn",
    "Store",
    "apply_change",
    "open_store",
]


def open_store(creds: str | os.PathLike[str] | Store) -> Store:
    """The store a `--creds` value names (a `Store` is returned as it is)."""
    if isinstance(creds, Store):
        return creds
    text = os.fspath(creds)
    if "://" in text:
        from oauthdance.store.vault import is_vault_url

        if is_vault_url(text):
            from oauthdance.store.vault import VaultStore

            return VaultStore(text)
        from oauthdance.base.errors import UsageError

        raise UsageError(
            f"--creds {text.split('://')[0]}://... is not a store oauthdance knows",
            "use a file (creds.json, creds.yaml), vault://HOST/MOUNT/PREFIX, or keyring:FILE",
        )
    if text.lower().startswith("keyring:"):
        from oauthdance.store.oskeyring import KeyringFile

        return KeyringFile(text)
    return CredentialsFile(text)
