"""What a data notebook does with oauthdance: no invoke, just the Python API.

Run after a login, with the provider reachable (the README's quick start, with the sandbox
still running, or `invoke auth.login` for real GitHub):
    python scripts/notebook_example.py [--provider sandbox] [--creds creds.json]
"""

from __future__ import annotations

import argparse
import sys

import requests

import oauthdance
from oauthdance.base.errors import OAuthDanceError
from oauthdance.compat import read_creds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--provider", default="github")
    parser.add_argument("--creds", default=None)
    args = parser.parse_args()

    creds = oauthdance.Credentials(args.creds)
    print("owners:", ", ".join(creds.owners(args.provider)) or "none")

    api = oauthdance.session(args.provider, creds=creds)  # token, headers, refresh, retries
    me = api.get("/user").json()
    repos = api.get("/user/repos", params={"per_page": 100}).json()
    print(f"{me['login']} has {len(repos)} repositories on the first page")
    print("first:", ", ".join(repo["full_name"] for repo in repos[:3]))

    flat = read_creds(args.provider, creds.location)  # the old notebooks' view still works
    print("client_id from the old helper:", flat["client_id"])


if __name__ == "__main__":
    try:
        main()
    except OAuthDanceError as exc:  # what to run first is in its `next:` line
        sys.exit(f"error: {exc}")
    except requests.RequestException as exc:
        sys.exit(
            f"error: the provider could not be reached ({type(exc).__name__})\n"
            "  next: start it first (for the sandbox: `invoke sandbox.serve --state "
            "sandbox-state.json` in another terminal), or check the network"
        )
