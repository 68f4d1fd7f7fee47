"""The slice of GitHub's REST API the sandbox serves, as pure functions of (model, token).

Each resource returns an object or a `Listing` that the server paginates; a refusal is an
`ApiError` carrying the status, message and the scopes the endpoint accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from oauthdance.sandbox.model import Sandbox, Token


@dataclass(frozen=True)
class Listing:
    """`total` items, built on demand: a page costs only what it shows."""

    total: int
    item: Callable[[int], dict[str, Any]]


@dataclass
class ApiError(Exception):
    status: int
    message: str
    accepted_scopes: list[str] = field(default_factory=list)


Resource = dict[str, Any] | Listing


def user(model: Sandbox, token: Token, query: dict[str, str]) -> Resource:
    account = model.users[token.login]
    return {
        "login": account.login,
        "id": account.id,
        "name": account.name or account.login,
        "type": "User",
    }


def user_repos(model: Sandbox, token: Token, query: dict[str, str]) -> Resource:
    account = model.users[token.login]
    return Listing(account.repo_count, lambda i: repo(account.login, account.id, i))


def org_repos(model: Sandbox, token: Token, query: dict[str, str], org: str) -> Resource:
    if org not in model.orgs:
        raise ApiError(404, "Not Found")
    org_id = 900000 + sorted(model.orgs).index(org)
    return Listing(model.orgs[org], lambda i: repo(org, org_id, i))


def repo_issues(
    model: Sandbox, token: Token, query: dict[str, str], owner: str, name: str
) -> Resource:
    account = model.users.get(owner)
    index = _repo_index(name)
    if account is None or index is None or index >= account.repo_count:
        raise ApiError(404, "Not Found")
    private = repo(owner, account.id, index)["private"]
    if private and (token.login != owner or "repo" not in token.scopes):
        raise ApiError(404, "Not Found", ["repo"])
    state = query.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise ApiError(422, "Validation Failed")
    numbers = [
        n for n in range(1, model.issues_per_repo + 1) if state == "all" or _issue_state(n) == state
    ]
    return Listing(len(numbers), lambda i: issue(owner, name, numbers[i]))


def repo(login: str, owner_id: int, index: int) -> dict[str, Any]:
    name = f"repo-{index + 1:05d}"
    return {
        "id": owner_id * 100000 + index + 1,
        "name": name,
        "full_name": f"{login}/{name}",
        "private": index % 3 == 0,
        "owner": {"login": login, "id": owner_id},
        "description": f"Sandbox repository number {index + 1}",
        "fork": index % 7 == 0,
        "stargazers_count": (index * 37) % 101,
        "language": ("Python", "Go", "Rust")[index % 3],
    }


def issue(owner: str, name: str, number: int) -> dict[str, Any]:
    return {
        "number": number,
        "title": f"Issue {number} of {owner}/{name}",
        "state": _issue_state(number),
        "user": {"login": owner},
        "labels": [{"name": "bug"}] if number % 5 == 0 else [],
        "comments": number % 4,
    }


def _issue_state(number: int) -> str:
    return "closed" if number % 4 == 0 else "open"


def _repo_index(name: str) -> int | None:
    digits = name.removeprefix("repo-")
    return int(digits) - 1 if digits.isdigit() and int(digits) > 0 else None
