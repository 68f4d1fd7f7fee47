"""Fixtures of the whole-system tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["json", "yaml"])
def creds_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return tmp_path / f"creds.{request.param}"
