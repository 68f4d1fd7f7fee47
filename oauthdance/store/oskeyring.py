"""`keyring:[FILE]`: the secrets in the OS keyring, everything else in the file (as gh does).

The file keeps the same records with each secret value replaced by a marker, so it can
be read, diffed and shared without leaking anything; the keyring entry for a secret is
named by the file and the secret's place in it (service `oauthdance:/abs/creds.json`,
user `sandbox/tokens/octocat/access_token`). Changes run under the file's lock: the
keyring entries are written first, then the file; entries the file no longer names are
deleted. The `keyring` package is imported only when this store is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from oauthdance.base.errors import StoreError, printable
from oauthdance.store.file import CredentialsFile

SCHEME = "keyring:"
DEFAULT_FILE = "creds.json"
MARKER = "(in the OS keyring)"
SECRET_KEYS = frozenset(
    {"client_secret", "access_token", "refresh_token", "id_token", "code", "code_verifier"}
)


def secrets_in(data: Any, where: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(place, value) of every secret-named string in a record tree, at any depth."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in SECRET_KEYS and isinstance(value, str):
                yield (*where, str(key)), value
            else:
                yield from secrets_in(value, (*where, str(key)))


def _set(data: dict[str, Any], place: tuple[str, ...], value: Any) -> None:
    for key in place[:-1]:
        data = data[key]
    data[place[-1]] = value


class KeyringFile(CredentialsFile):
    """A credentials file whose secrets live in the OS keyring."""

    kind = "keyring"

    def __init__(self, creds: str) -> None:
        super().__init__(creds[len(SCHEME) :] or DEFAULT_FILE)
        self.service = f"oauthdance:{self.path.resolve()}"

    @property
    def location(self) -> str:
        return f"{SCHEME}{self.path}"

    def describe(self) -> dict[str, Any]:
        facts = super().describe()
        facts["location"] = self.location
        facts["keyring"] = f"{type(self._keyring().get_keyring()).__name__} ({self.service})"
        return facts

    def read(self) -> dict[str, Any]:
        return self._filled(super().read())

    def _parse_raw(self) -> dict[str, Any]:
        return self._filled(super()._parse_raw())

    def _write(self, data: dict[str, Any]) -> None:
        """Keyring first, then the file with markers; then drop entries no longer named."""
        old = {place for place, value in secrets_in(super()._parse_raw()) if value == MARKER}
        stripped: dict[str, Any] = _deep_copy(data)
        new = set()
        with self._keyring_errors():
            for place, value in secrets_in(data):
                if value != MARKER:
                    self._keyring().set_password(self.service, "/".join(place), value)
                _set(stripped, place, MARKER)
                new.add(place)
        super()._write(stripped)
        with self._keyring_errors():
            for place in old - new:
                try:
                    self._keyring().delete_password(self.service, "/".join(place))
                except self._keyring().errors.PasswordDeleteError:
                    pass  # already gone

    def _filled(self, data: dict[str, Any]) -> dict[str, Any]:
        """The records with each marker replaced by its secret from the keyring."""
        with self._keyring_errors():
            for place, value in list(secrets_in(data)):
                if value != MARKER:
                    continue  # a secret written before this file moved to the keyring
                secret = self._keyring().get_password(self.service, "/".join(place))
                if secret is None:
                    raise StoreError(
                        f"the OS keyring has no secret for {'/'.join(place)} of {self.path}",
                        "log in again (or configure the app again) to store it, or remove "
                        "that entry from the file",
                    )
                _set(data, place, secret)
        return data

    @staticmethod
    def _keyring() -> Any:
        import keyring
        import keyring.errors

        return keyring

    def _keyring_errors(self) -> Any:
        return _KeyringErrors(self.location)


class _KeyringErrors:
    """The keyring's failures (no backend on a headless machine, a locked keyring) as ours."""

    def __init__(self, location: str) -> None:
        self.location = location

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        import keyring.errors

        if isinstance(exc, keyring.errors.KeyringError):
            raise StoreError(
                f"the OS keyring failed for {self.location}: {type(exc).__name__} "
                f"({printable(exc, 200)})",
                "unlock the keyring, or on a machine without one use a file or vault:// "
                "(--creds creds.json)",
            ) from exc


def _deep_copy(data: dict[str, Any]) -> dict[str, Any]:
    import copy

    return copy.deepcopy(data)
