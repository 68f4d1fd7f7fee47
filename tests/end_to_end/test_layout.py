"""The suite mirrors the package: a test folder per package folder, helpers in tests.support,
and no test importing conftest (pytest advises against it; the helpers are a package)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.invoking import ROOT

TESTS = ROOT / "tests"
PACKAGE = ROOT / "oauthdance"
FACES = "faces"  # the package's top-level modules: api, compat, cli, __main__
WHOLE_SYSTEM = "end_to_end"
# What may sit at the top of tests/ besides test folders.
TOP_LEVEL = {"__init__.py", "conftest.py"}


def package_folders() -> set[str]:
    return {p.parent.name for p in PACKAGE.glob("*/__init__.py")}


def modules_of_tests() -> list[Path]:
    return sorted(TESTS.rglob("test_*.py"))


def imports_conftest(path: Path) -> bool:
    """Does the module import conftest, at its top or inside a function?"""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "conftest":
            return True
        if isinstance(node, ast.Import) and any(a.name == "conftest" for a in node.names):
            return True
    return False


def test_no_module_of_the_suite_imports_conftest() -> None:
    offenders = [p for p in TESTS.rglob("*.py") if imports_conftest(p)]
    assert not offenders, f"import these from tests.support instead: {offenders}"


def test_every_test_module_lives_in_a_folder_named_for_a_package_folder() -> None:
    allowed = package_folders() | {FACES, WHOLE_SYSTEM}
    misplaced = [
        p.relative_to(TESTS).as_posix()
        for p in modules_of_tests()
        if len(p.relative_to(TESTS).parts) != 2 or p.parent.name not in allowed
    ]
    assert modules_of_tests(), "no test modules found"
    assert not misplaced, f"{misplaced}: not in tests/<{'|'.join(sorted(allowed))}>/"


def test_every_package_folder_has_its_test_folder_and_each_is_a_package() -> None:
    folders = package_folders() | {FACES, WHOLE_SYSTEM, "support"}
    present = {p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    assert present <= folders, f"test folders named for no package folder: {present - folders}"
    missing = [name for name in sorted(folders) if not (TESTS / name / "__init__.py").is_file()]
    assert not missing, f"without a test folder, or its __init__.py (names would clash): {missing}"


def test_nothing_loose_at_the_top_of_tests() -> None:
    loose = {p.name for p in TESTS.glob("*.py")} - TOP_LEVEL
    assert not loose, f"helpers go in tests/support/, tests in a folder: {sorted(loose)}"
