"""Fetch every repository of the signed-in user into a list of dicts (a data notebook's
first cell), then show a small summary.

    python scripts/fetch_repos.py [--provider sandbox] [--creds creds.json]

--provider defaults to OAUTHDANCE_PROVIDER (the quick start's `sandbox`), else github.

Run after a login (the README's quick start, or `invoke auth.login`).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

import oauthdance
from oauthdance.base.errors import OAuthDanceError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--provider", default=None, help="default: OAUTHDANCE_PROVIDER, else github"
    )
    parser.add_argument("--creds", default=None)
    args = parser.parse_args()

    repos: list[dict] = list(
        oauthdance.fetch("/user/repos", provider=args.provider, creds=args.creds)
    )
    languages = Counter(repo.get("language") or "none" for repo in repos)
    print(f"{len(repos)} repositories; private: {sum(r['private'] for r in repos)}")
    print("languages:", ", ".join(f"{name} {count}" for name, count in languages.most_common()))


if __name__ == "__main__":
    try:
        main()
    except OAuthDanceError as exc:  # not logged in, provider unreachable: `next:` says what
        sys.exit(f"error: {exc}")
