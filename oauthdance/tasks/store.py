"""`store.*` tasks: move records between backends, and say where they are and who can read them."""

from __future__ import annotations

import json as _json
from typing import Any

from invoke import Context

from oauthdance.base.advice import Command, Hint
from oauthdance.base.errors import UsageError
from oauthdance.store import open_store
from oauthdance.store.copying import copy_records
from oauthdance.tasks.common import cli_task, say, target


@cli_task(
    to="the store to copy into: a file, vault://HOST/MOUNT/PREFIX or keyring:FILE (required)",
    from_="the store to copy from (default: the current --creds)",
    provider="copy only this provider's record (default: every provider)",
)
def copy(
    c: Context,
    to: str | None = None,
    from_: str | None = None,
    provider: str | None = None,
    creds: str | None = None,
) -> None:
    """Copy every provider's record (or one, with -p) into another store; the source stays."""
    if not to:
        example = Command("store.copy").with_flags(to="vault://HOST/secret/team")
        raise UsageError("store.copy needs --to", Hint("e.g. {copy}", copy=example))
    source = open_store(from_) if from_ else target(c, None, None, creds).store
    destination = open_store(to)
    if destination.location == source.location:
        raise UsageError(f"--to names the store being copied ({source.location})", "name another")
    copied = copy_records(source, destination, provider)
    if not copied:
        say(
            f"nothing to copy: {source.location} holds no "
            + (f"{provider!r} record" if provider else "records")
        )
        return
    for name, owners in copied.items():
        tokens = f"{len(owners)} token{'s' * (len(owners) != 1)}"
        say(f"copied {name} ({tokens}) from {source.location} to {destination.location}")
    say(f"next: use it with `--creds {destination.location}` (or OAUTHDANCE_CREDS)")


@cli_task()
def status(c: Context, creds: str | None = None, json: bool = False) -> None:
    """Which backend holds the records, where, who can read them, and each secret's version."""
    facts = target(c, None, None, creds).store.describe()
    if json:
        print(_json.dumps(facts, indent=2, default=str))
        return
    for key, value in facts.items():
        say(f"{key}: {_shown(value)}")


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "".join(f"\n  {k}: {_shown(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)
