"""The provider record: one module names its keys, and its accessors keep a record whole."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from oauthdance.base.errors import NotLoggedIn
from oauthdance.store import record
from oauthdance.store.record import (
    drop_pending,
    forget_owner,
    pending_of,
    pick_owner,
    put_token,
    saved_client,
    tokens_of,
    unverified_of,
    upgrade,
)

PACKAGE = Path(record.__file__).parents[1]
RECORD_KEYS = {"pending", "unverified", "tokens", "default_user"}


def test_no_module_but_record_spells_a_record_key() -> None:
    spelt = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == Path(record.__file__) or "sandbox" in path.parts:
            continue  # the sandbox is a provider of its own, with its own state
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in RECORD_KEYS:
                spelt.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.value!r}")
    assert spelt == []


def test_a_hand_edited_record_reads_as_empty_where_it_is_broken() -> None:
    broken = {"tokens": "oops", "pending": ["x"], "unverified": None, "client_id": 42}
    assert tokens_of(broken) == {} and pending_of(broken) == {} and unverified_of(broken) == {}
    assert saved_client(broken).client_id == "42" and saved_client(broken).scope is None


def test_forgetting_the_default_owner_passes_the_default_on() -> None:
    rec: dict = {"default_user": "a"}
    put_token(rec, "a", {"access_token": "1"})
    put_token(rec, "b", {"access_token": "2"})
    assert forget_owner(rec, "a") and rec["default_user"] == "b"
    assert forget_owner(rec, "b") and rec == {}  # nothing left: no empty parts either
    assert not forget_owner(rec, "b")


def test_dropping_the_last_pending_authorization_drops_the_part() -> None:
    rec: dict = {"pending": {"s1": {"scope": "repo"}}, "client_id": "x"}
    drop_pending(rec, "s1")
    assert rec == {"client_id": "x"}


def test_the_notebooks_flat_record_becomes_pending_and_unverified() -> None:
    flat = {"client_id": "x", "state": "s", "code": "c", "token": "gho_t", "scope": "repo"}
    rec = upgrade(flat)
    assert pending_of(rec) == {"s": {"scope": "repo", "redirect_uri": None, "code": "c"}}
    assert unverified_of(rec) == {"notebook": {"access_token": "gho_t"}}
    assert "state" not in rec and "token" not in rec and rec["client_id"] == "x"
    assert upgrade({"client_id": "x"}) == {"client_id": "x"}


@pytest.mark.parametrize(
    ("rec", "user", "says"),
    [
        ({"unverified": {"s": {}}}, None, "has not been verified yet"),
        ({"tokens": {"a": {}}}, "b", "no sandbox token is stored for 'b'"),
        ({"tokens": {"a": {}, "b": {}}}, None, "none is the default"),
        ({}, None, "no sandbox token is stored yet"),
    ],
)
def test_pick_owner_says_why_there_is_none(rec: dict, user: str | None, says: str) -> None:
    with pytest.raises(NotLoggedIn, match=says):
        pick_owner(rec, user, "sandbox")
    assert pick_owner({"tokens": {"a": {}}}, None, "sandbox") == "a"
    assert pick_owner({"tokens": {"a": {}, "b": {}}, "default_user": "b"}, None, "x") == "b"
