"""Records in HashiCorp Vault or OpenBao (KV version 2), shared by a team or a fleet.

`vault://HOST[:PORT]/MOUNT[/PREFIX]` (or `openbao://`) speaks https; `vault+http://` is
allowed for a loopback host only (every endpoint is https or loopback http). Each
provider's record is split into secrets a policy can grant one by one:

    PREFIX/PROVIDER/app            client_id, client_secret, redirect_uri, scope, default_user...
    PREFIX/PROVIDER/flow           logins under way: `pending` and `unverified`
    PREFIX/PROVIDER/tokens/OWNER   one owner's token

Every write is a check-and-set on the version read, so two machines never overwrite each
other: the loser re-reads and re-runs its change (a few times, then `StoreConflict`). A
removed secret is written empty (still with check-and-set) and reads as absent. The Vault
token comes from VAULT_TOKEN / BAO_TOKEN, ~/.vault-token, or an AppRole login
(VAULT_ROLE_ID / VAULT_SECRET_ID); it is kept in memory only and never shown. hvac is
imported only when a Vault store is first used.
"""

from __future__ import annotations

import base64
import copy
import os
import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from oauthdance.base.advice import PLACEHOLDER, Command, Hint
from oauthdance.base.errors import (
    StoreConflict,
    StoreDenied,
    StoreError,
    StoreMissing,
    StoreUnavailable,
    UsageError,
    printable,
)
from oauthdance.protocol.tokens import TokenRecord
from oauthdance.protocol.urls import is_loopback
from oauthdance.store.base import Change, Store, T, apply_change
from oauthdance.store.claims import ClaimTurn
from oauthdance.store.claims import claim_seconds as claim_life
from oauthdance.store.record import PENDING, TOKENS, UNVERIFIED, put_token, tokens_of

SCHEMES = {"vault": "https", "openbao": "https", "vault+https": "https", "openbao+https": "https"}
SCHEMES |= {"vault+http": "http", "openbao+http": "http"}
DEFAULT_PORT = 8200
DEFAULT_PREFIX = "oauthdance"
TIMEOUT_SECONDS = 10
ATTEMPTS = 8  # check-and-set rounds before a change gives up
SPLIT_KEYS = (TOKENS, PENDING, UNVERIFIED)  # kept apart from the app's settings
_PLAIN_NAME = re.compile(r"[A-Za-z0-9@._+-]+")


def is_vault_url(creds: str) -> bool:
    return creds.split("://", 1)[0].lower() in SCHEMES and "://" in creds


@dataclass(frozen=True)
class VaultAddress:
    """Where the records are: the server's URL, the KV v2 mount and the prefix in it."""

    url: str
    mount: str
    prefix: str
    scheme: str  # as written: vault, openbao+http...

    @property
    def location(self) -> str:
        return f"{self.scheme}://{urlsplit(self.url).netloc}/{self.mount}/{self.prefix}"


def parse_vault_url(creds: str) -> VaultAddress:
    """`vault://HOST[:PORT]/MOUNT[/PREFIX]` → the server URL, mount and prefix."""
    scheme, _, rest = creds.partition("://")
    hint = "write it as vault://HOST[:PORT]/MOUNT[/PREFIX] (e.g. vault://vault.example.com/secret/team)"
    parts = urlsplit(f"{SCHEMES.get(scheme.lower(), 'https')}://{rest}")
    try:
        host, port = parts.hostname, parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise UsageError(f"--creds {printable(creds)!r} has a bad port", hint) from exc
    segments = [s for s in parts.path.split("/") if s]
    if not host or not segments or parts.username or parts.password or parts.query:
        raise UsageError(
            f"--creds {printable(creds)!r} is not a Vault address"
            + (" (never put a token in it)" if parts.username or parts.password else ""),
            hint,
        )
    http = SCHEMES[scheme.lower()] == "http"
    if http and not is_loopback(host):
        raise UsageError(
            f"--creds {printable(creds)!r} would send secrets over plain http to {host}",
            f"use https: vault://{host}:{port}/{'/'.join(segments)} (plain http only on "
            "127.0.0.1 / localhost)",
        )
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    prefix = "/".join(segments[1:]) or DEFAULT_PREFIX
    return VaultAddress(f"{'http' if http else 'https'}://{netloc}", segments[0], prefix, scheme)


def segment(name: str) -> str:
    """A provider or owner name as one path segment (a `/` or odd characters are encoded)."""
    if _PLAIN_NAME.fullmatch(name) and name not in (".", "..") and not name.startswith("~"):
        return name
    return "~" + base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def unsegment(part: str) -> str:
    if not part.startswith("~"):
        return part
    body = part[1:]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


def split_record(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A provider record as its secrets: {"app": ..., "flow": ..., "tokens/OWNER": ...}."""
    secrets = {
        "app": {k: v for k, v in record.items() if k not in SPLIT_KEYS},
        "flow": {k: record[k] for k in (PENDING, UNVERIFIED) if record.get(k)},
    }
    for owner, token in tokens_of(record).items():
        secrets[f"tokens/{segment(owner)}"] = dict(token)
    return secrets


def join_record(secrets: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The provider record its secrets make up (a deep copy: changing it changes no secret)."""
    secrets = copy.deepcopy(secrets)
    record = dict(secrets.get("app") or {})
    record.update(secrets.get("flow") or {})
    tokens = {
        unsegment(name.removeprefix("tokens/")): data
        for name, data in sorted(secrets.items())
        if name.startswith("tokens/") and data
    }
    for owner, token in tokens.items():
        put_token(record, owner, cast("TokenRecord", token))
    return record


@dataclass
class Secret:
    version: int  # 0: never written (check-and-set 0 means "create only")
    data: dict[str, Any]


# Logged-in clients by (server, TLS verification, credential): connections are kept alive
# across the stores a process opens (`oauthdance.token()` opens one per call).
_CLIENTS: dict[tuple[str, bool | str, str], Any] = {}


class _Conflict(Exception):
    """A check-and-set lost: someone wrote the secret since we read it."""


class VaultStore(Store):
    """The records in Vault/OpenBao KV v2 (see the module's docstring for the layout)."""

    kind = "vault"

    def __init__(
        self,
        creds: str,
        *,
        claim_seconds: float | None = None,
        environ: dict[str, str] | None = None,
    ) -> None:
        self.address = parse_vault_url(creds)
        self.claim_seconds = claim_life(claim_seconds)
        self._environ = os.environ if environ is None else environ
        self._client: Any = None

    @property
    def location(self) -> str:
        return self.address.location

    @property
    def local_folder(self) -> Path:
        base = self._environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base).expanduser() / "oauthdance"

    # -- reading ---------------------------------------------------------------------

    def read(self) -> dict[str, Any]:
        names = [unsegment(n.rstrip("/")) for n in self._list("") if n.endswith("/")]
        records = {name: self.record(name) for name in names}
        return {name: rec for name, rec in records.items() if rec}

    def record(self, provider: str) -> dict[str, Any]:
        return join_record({k: s.data for k, s in self._secrets(provider).items()})

    def versions(self, provider: str) -> dict[str, int]:
        """Each of the provider's secrets and the version read (for `store.status`)."""
        return {k: s.version for k, s in self._secrets(provider).items() if s.data}

    def _secrets(self, provider: str) -> dict[str, Secret]:
        base = segment(provider)
        found = {"app": self._get(f"{base}/app"), "flow": self._get(f"{base}/flow")}
        for owner in self._list(f"{base}/tokens"):
            if not owner.endswith("/"):
                found[f"tokens/{owner}"] = self._get(f"{base}/tokens/{owner}")
        return found

    # -- writing ---------------------------------------------------------------------

    def change(self, provider: str, change: Change[T]) -> T:
        """Read, change, write with check-and-set; on a lost race, all again on fresh data."""
        for attempt in range(ATTEMPTS):
            secrets = self._secrets(provider)
            data = {provider: join_record({k: s.data for k, s in secrets.items()})}
            if not data[provider]:
                del data[provider]
            result, changed = apply_change(data, provider, change)
            if not changed:
                return result
            try:
                self._write(provider, secrets, split_record(data[provider]))
            except _Conflict:
                time.sleep(0.01 * (attempt + 1) * random.random())
                continue
            return result
        raise StoreConflict(
            f"other writers kept changing the {provider} secrets in {self.location}: "
            f"{ATTEMPTS} attempts lost the check-and-set",
            "try again; if it keeps happening, look for a process writing in a loop",
        )

    def _write(
        self, provider: str, before: dict[str, Secret], after: dict[str, dict[str, Any]]
    ) -> None:
        """Write each changed secret, tokens first (a token is what cannot be redone)."""
        names = sorted(set(before) | set(after), key=lambda n: (not n.startswith("tokens/"), n))
        for name in names:
            old = before.get(name) or Secret(0, {})
            new = after.get(name) or {}
            if new != old.data:
                self._put(f"{segment(provider)}/{name}", new, old.version)

    @contextmanager
    def refresh_turn(self, provider: str, owner: str) -> Iterator[ClaimTurn]:
        yield ClaimTurn(self.location, self.claim_seconds)

    # -- status ----------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        facts: dict[str, Any] = {
            "backend": self.kind,
            "location": self.location,
            "server": self.address.url,
        }
        client = self._connect()
        with self._errors("look up the token of", ""):
            facts["policies"] = (client.auth.token.lookup_self().get("data") or {}).get("policies")
        paths = [self._api_path("data", ""), self._api_path("metadata", "")]
        records = {}
        for name in self.read():
            base = segment(name)
            paths += [
                self._api_path("data", f"{base}/app"),
                self._api_path("data", f"{base}/tokens/"),
            ]
            records[name] = self.versions(name)
        try:
            answer = client.adapter.post("/v1/sys/capabilities-self", json={"paths": paths})
            facts["capabilities"] = {p: answer.get(p) for p in paths}
        except Exception:  # a policy may not allow asking: say so rather than fail
            facts["capabilities"] = "not allowed to ask (sys/capabilities-self)"
        facts["secrets"] = records
        return facts

    # -- the server ------------------------------------------------------------------

    def _api_path(self, kind: str, path: str) -> str:
        return f"{self.address.mount}/{kind}/{self.address.prefix}/{path}".rstrip("/")

    def _full(self, path: str) -> str:
        return f"{self.address.prefix}/{path}".strip("/")

    def _get(self, path: str) -> Secret:
        client = self._connect()
        import hvac.exceptions

        with self._errors("read", path):
            try:
                answer = client.secrets.kv.v2.read_secret_version(
                    self._full(path), mount_point=self.address.mount, raise_on_deleted_version=False
                )
            except hvac.exceptions.InvalidPath as exc:
                if "no handler for route" in str(exc):
                    raise
                return Secret(0, {})
        body = answer.get("data") or {}
        version = int((body.get("metadata") or {}).get("version") or 0)
        return Secret(version, dict(body.get("data") or {}))

    def _list(self, path: str) -> list[str]:
        client = self._connect()
        import hvac.exceptions

        with self._errors("list", path):
            try:
                answer = client.secrets.kv.v2.list_secrets(
                    self._full(path), mount_point=self.address.mount
                )
            except hvac.exceptions.InvalidPath as exc:
                if "no handler for route" in str(exc):
                    raise
                return []
        return list((answer.get("data") or {}).get("keys") or [])

    def _put(self, path: str, data: dict[str, Any], version: int) -> None:
        client = self._connect()
        import hvac.exceptions

        with self._errors("write", path):
            try:
                client.secrets.kv.v2.create_or_update_secret(
                    self._full(path), secret=data, cas=version, mount_point=self.address.mount
                )
            except hvac.exceptions.InvalidRequest as exc:
                if "check-and-set" in str(exc):
                    raise _Conflict from None
                raise

    def _connect(self) -> Any:
        """The hvac client, logged in once per process and server (hvac is imported here,
        on first use; the client and its connections are reused by every later store)."""
        if self._client is not None:
            return self._client
        skip = self._environ.get("VAULT_SKIP_VERIFY", "").lower() in ("1", "true", "yes")
        verify: bool | str = not skip
        if self._environ.get("VAULT_CACERT") and not skip:
            verify = self._environ["VAULT_CACERT"]
        token = self._token()
        role, secret = self._environ.get("VAULT_ROLE_ID"), self._environ.get("VAULT_SECRET_ID")
        key = (self.address.url, verify, token or f"approle:{role}:{hash(secret)}")
        if key not in _CLIENTS:
            _CLIENTS[key] = self._new_client(verify, token, role, secret)
        self._client = _CLIENTS[key]
        return self._client

    def _new_client(
        self, verify: bool | str, token: str, role: str | None, secret: str | None
    ) -> Any:
        import hvac

        client = hvac.Client(
            url=self.address.url, token=token or "", verify=verify, timeout=TIMEOUT_SECONDS
        )
        client.session.trust_env = False  # no proxy or netrc of the environment's choosing
        if not token:
            if not (role and secret):
                raise StoreDenied(
                    f"no Vault token to read {self.location} with",
                    "set VAULT_TOKEN (or BAO_TOKEN), log in with `bao login` / `vault login` "
                    "(writes ~/.vault-token), or set VAULT_ROLE_ID and VAULT_SECRET_ID "
                    "(AppRole)",
                )
            mount = self._environ.get("VAULT_APPROLE_MOUNT") or "approle"
            with self._errors("log in (AppRole) at", f"auth/{mount}"):
                client.auth.approle.login(role_id=role, secret_id=secret, mount_point=mount)
        return client

    def _token(self) -> str:
        for name in ("VAULT_TOKEN", "BAO_TOKEN"):
            if self._environ.get(name):
                return self._environ[name].strip()
        for file in ("~/.vault-token", "~/.bao-token"):
            try:
                return Path(file).expanduser().read_text(encoding="utf-8").strip()
            except OSError:
                continue
        return ""

    @contextmanager
    def _errors(self, doing: str, path: str) -> Iterator[None]:
        """hvac's and requests' failures as our errors: what, where, and what to do."""
        import hvac.exceptions
        import requests

        where = f"{self.address.mount}/{self._full(path)}" if path else self.location
        server = self.address.url
        try:
            yield
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise StoreUnavailable(
                f"cannot reach Vault at {server} to {doing} {where}"
                + (" (timed out)" if isinstance(exc, requests.Timeout) else ""),
                f"check that the server runs and that --creds names it (try "
                f"`curl {server}/v1/sys/health`); nothing was changed",
            ) from None
        except hvac.exceptions.VaultDown as exc:
            raise StoreUnavailable(
                f"Vault at {server} is sealed (or down) and cannot {doing} {where}",
                "ask its operators to unseal it (`bao operator unseal`); nothing was changed",
            ) from exc
        except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized) as exc:
            raise StoreDenied(
                f"Vault denied the permission to {doing} {where} (the token's policy does "
                "not allow it, or the token expired)",
                Hint(
                    "ask for a policy granting it (README: Teams and fleets), or log in again "
                    "with `bao login`; see {status}",
                    status=Command("store.status", creds=PLACEHOLDER),
                ),
            ) from exc
        except hvac.exceptions.InvalidPath as exc:
            raise StoreMissing(
                f"there is no KV secrets engine at {self.address.mount}/ on {server}",
                f"enable one (`bao secrets enable -path={self.address.mount} kv-v2`), or fix "
                "the mount in --creds",
            ) from exc
        except hvac.exceptions.VaultError as exc:
            raise StoreError(
                f"Vault could not {doing} {where}: {printable(exc, 200)}",
                "check the mount is KV version 2 and the server's log; nothing was changed",
            ) from exc
        except requests.RequestException as exc:
            raise StoreUnavailable(
                f"Vault at {server} failed to {doing} {where}: {type(exc).__name__}",
                "try again; nothing was changed",
            ) from exc
