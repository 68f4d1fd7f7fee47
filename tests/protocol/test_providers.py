"""Providers as data: presets, the user's own file, and errors that name what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from oauthdance.base.errors import ConfigError
from oauthdance.protocol.providers import get_provider, load_providers


def test_builtin_presets_load() -> None:
    providers = load_providers()
    assert {"github", "sandbox"} <= set(providers)
    github = providers["github"]
    assert github.token_endpoint == "https://github.com/login/oauth/access_token"
    assert github.api_root == "https://api.github.com"
    assert github.any_loopback_port and github.pkce
    assert github.env_prefix == "GITHUB"


def test_user_file_adds_and_extends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine = tmp_path / "providers.yaml"
    mine.write_text(
        "my-ghe:\n  extends: github\n  host: ghe.corp.example\n"
        "  api_base: https://{host}/api/v3\n  pkce: false\n"
        "github:\n  default_scope: repo\n"
    )
    ghe = get_provider("my-ghe", mine)
    assert ghe.authorize_endpoint == "https://ghe.corp.example/login/oauth/authorize"
    assert ghe.api_root == "https://ghe.corp.example/api/v3"
    assert not ghe.pkce and ghe.env_prefix == "MY_GHE"
    assert get_provider("github", mine).default_scope == "repo"
    assert get_provider("github", mine).token_url.startswith("https://")


@pytest.mark.parametrize(
    "entry,field",
    [
        (
            "bad:\n  authorize_url: https://x/a\n  token_url: https://x/t\n  api_base: https://x\n"
            "  scopes_separator: ','\n",
            "scopes_separator",
        ),
        ("bad:\n  authorize_url: https://x/a\n  api_base: https://x\n", "token_url"),
        ("bad:\n  extends: github\n  client_auth: magic\n", "client_auth"),
        ("bad:\n  extends: github\n  pkce: maybe\n", "pkce"),
        ("bad:\n  extends: nothing\n", "extends"),
    ],
)
def test_malformed_entry_names_file_provider_and_field(
    tmp_path: Path, entry: str, field: str
) -> None:
    mine = tmp_path / "providers.yaml"
    mine.write_text(entry)
    with pytest.raises(ConfigError) as info:
        load_providers(mine)
    assert str(mine) in str(info.value) and "'bad'" in str(info.value)
    assert repr(field) in str(info.value)
