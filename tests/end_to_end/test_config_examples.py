"""config/: the examples a user copies. Each must load as it stands and name only what is
real, so a copy starts from something that works."""

from __future__ import annotations

from pathlib import Path

import pytest

from oauthdance.base import yamlio
from oauthdance.base.settings import SETTINGS, resolve
from oauthdance.protocol.providers import BUILTIN_FILE, load_providers
from oauthdance.store import CredentialsFile
from tests.support.invoking import ROOT, run_invoke

PROVIDERS_EXAMPLE = ROOT / "config" / "providers.example.yaml"
INVOKE_EXAMPLE = ROOT / "config" / "invoke.example.yaml"


def test_the_providers_example_loads_and_every_entry_is_valid() -> None:
    own = yamlio.load(PROVIDERS_EXAMPLE.read_text())
    assert len(own) == 3
    providers = load_providers(PROVIDERS_EXAMPLE)
    for name in own:
        provider = providers[name].check_endpoints()  # every URL https, {host} filled in
        assert provider.authorize_endpoint.startswith("https://")
        assert provider.token_endpoint.startswith("https://")
    assert own["acme-github"]["extends"] == "github-enterprise"
    assert providers["acme-sso"].oidc and providers["acme-sso"].issuer
    assert providers["acme-data"].introspection_url and not providers["acme-data"].oidc
    builtin = yamlio.load(BUILTIN_FILE.read_text())
    assert not set(own) & set(builtin), "an example must add providers, not change presets"


def test_a_task_takes_the_providers_example_from_the_variable(tmp_path: Path) -> None:
    done = run_invoke(
        "auth.configure", "-p", "acme-github", "--client-id", "Iv1.acme",
        env={"OAUTHDANCE_PROVIDERS": str(PROVIDERS_EXAMPLE)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = CredentialsFile(tmp_path / "creds.json").record("acme-github")
    assert record["client_id"] == "Iv1.acme" and record["scope"] == "repo read:org"


def test_the_invoke_example_names_every_setting_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    section = yamlio.load(INVOKE_EXAMPLE.read_text())
    assert list(section) == ["oauthdance"]
    assert set(section["oauthdance"]) == {s.name for s in SETTINGS}
    # empty values: a copy as it stands outranks no OAUTHDANCE_* variable
    monkeypatch.setenv("OAUTHDANCE_PROVIDER", "gitlab")
    assert resolve(config=section["oauthdance"]) == resolve()
    assert resolve(config=section["oauthdance"]).provider == "gitlab"
    monkeypatch.delenv("OAUTHDANCE_PROVIDER")
    done = run_invoke("-f", str(INVOKE_EXAMPLE), "auth.status")
    assert done.returncode == 0 and "creds.json" in done.stdout, done.stderr
