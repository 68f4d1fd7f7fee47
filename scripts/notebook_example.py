"""What a data notebook does with oauthdance: no invoke, just the Python API.

Run after a login (e.g. `invoke demo --creds creds.json` keeps one; real use: `invoke auth.login`):
    python scripts/notebook_example.py [--provider github] [--creds creds.json]
"""

from __future__ import annotations

import argparse

import oauthdance
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

    flat = read_creds(args.provider, str(creds.path))  # the old notebooks' view still works
    print("client_id from the old helper:", flat["client_id"])


if __name__ == "__main__":
    main()
