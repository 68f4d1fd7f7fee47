"""One machine of a fleet, as a process: `python fleet_child.py CREDS GO [slow]`.

It shares nothing with its siblings but the Vault address (the test gives each its own
HOME and working folder). It says "ready" on stdout, waits until the file GO exists (so
all ask at once), asks for the sandbox token and prints it. With `slow`, its refresh
request never leaves: it sleeps first, so the test can SIGKILL it while it holds the claim.
"""

from __future__ import annotations

import os
import sys
import time

import oauthdance
from oauthdance.net import endpoints


def main(creds: str, go: str, slow: bool) -> None:
    if slow:
        real = endpoints.request_token

        def stuck(*args, **kwargs):
            print("claimed", flush=True)
            time.sleep(60)
            return real(*args, **kwargs)

        endpoints.request_token = stuck
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.005)
    print(oauthdance.token("sandbox", creds=creds), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:] == ["slow"])
