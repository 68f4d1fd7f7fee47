"""The `oauthdance` command: the same tasks as `invoke` in a checkout, from any folder.

An installed package has no tasks.py to find, so the namespace ships as a program of its
own (invoke's `Program`): `oauthdance auth.login -p sandbox`, `oauthdance --version`.
Settings resolve as for `invoke`, except that there is no project folder to hold an
`invoke.yaml`: invoke's configuration comes from `~/.invoke.yaml`, `-f FILE` or
`INVOKE_OAUTHDANCE_*` (nothing in the working folder is run or read as configuration but
`.env`). Start-up imports only invoke and the task definitions, not requests.
"""

from __future__ import annotations

import sys

from invoke import Program

from oauthdance import __version__
from oauthdance.base.advice import Face, asking
from oauthdance.tasks import namespace


class OAuthDance(Program):
    """invoke's `Program` as the `oauthdance` command."""

    def parse_core(self, argv: list[str] | None) -> None:
        # invoke stops bytecode caching so a tasks.py leaves no .pyc behind; an installed
        # package has none, and caching saves a third of each start-up. -B still wins.
        writes = sys.dont_write_bytecode
        super().parse_core(argv)
        sys.dont_write_bytecode = writes


def main(argv: list[str] | None = None) -> None:
    """Run the command line (`argv`: the whole of it, program name first); every command
    it suggests reads `oauthdance …`, as the user runs them here."""
    with asking(Face.CONSOLE):
        OAuthDance(
            namespace=namespace(),
            version=__version__,
            name="oauthdance",
            binary="oauthdance",
            binary_names=["oauthdance"],
        ).run(argv)


if __name__ == "__main__":
    main()
