"""The invoke face of oauthdance: `namespace()` builds the collection `tasks.py` exposes.

Thin adapters: each task parses and checks its flags, calls one function of the layers
below (any of them), and prints. Imported only by `tasks.py` and `oauthdance.cli`."""

from __future__ import annotations

import sys

from invoke import Collection, Context

from oauthdance.tasks import auth, data, sandbox, store
from oauthdance.tasks.common import DEFAULTS, cli_task, redact_debug_output


@cli_task(creds="keep the credentials in this file (default: a temporary one)")
def demo(c: Context, creds: str | None = None) -> None:
    """Run a complete OAuth dance against the bundled local provider (no internet)."""
    from oauthdance.dance.demo import run_demo

    run_demo(creds)


def namespace() -> Collection:
    """The tasks `tasks.py` exposes; secrets given on this command line stay out of `-d`."""
    redact_debug_output(sys.argv)
    ns = Collection(
        demo,
        Collection.from_module(auth),
        Collection.from_module(data),
        Collection.from_module(sandbox),
        Collection.from_module(store),
    )
    ns.configure({"oauthdance": dict(DEFAULTS)})
    return ns
