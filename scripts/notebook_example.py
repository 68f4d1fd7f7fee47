"""What a data notebook does with oauthdance: no invoke, just the Python API.

Run after a login, with the provider reachable (the README's quick start, with the sandbox
still running, or `invoke auth.login` for real GitHub):
    python scripts/notebook_example.py [--provider sandbox] [--creds creds.json]

--provider defaults to OAUTHDANCE_PROVIDER (the quick start's `sandbox`), else github.
"""

from __future__ import annotations

import argparse
import sys

import requests

import oauthdance
from oauthdance.base.errors import OAuthDanceError, ProviderError
from oauthdance.compat import read_creds
from oauthdance.keep.target import resolve_target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--provider", default=None, help="default: OAUTHDANCE_PROVIDER, else github"
    )
    parser.add_argument("--creds", default=None)
    args = parser.parse_args()
    provider = resolve_target(args.provider, creds=args.creds).settings.provider

    creds = oauthdance.Credentials(args.creds)
    print("owners:", ", ".join(creds.owners(provider)) or "none")

    # fetch() raises TokenRejected (with the login to run) if the provider refuses the token
    (me,) = oauthdance.fetch("/user", provider=provider, creds=creds, max_pages=1)
    api = oauthdance.session(provider, creds=creds)  # token, headers, refresh, retries
    answer = api.get("/user/repos", params={"per_page": 100})
    if answer.status_code != 200:  # a session returns refusals, as requests does
        raise ProviderError.from_response(answer, "try again later", "GET /user/repos")
    repos = answer.json()
    print(f"{me['login']} has {len(repos)} repositories on the first page")
    print("first:", ", ".join(repo["full_name"] for repo in repos[:3]))

    flat = read_creds(provider, creds.location)  # the old notebooks' view still works
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
