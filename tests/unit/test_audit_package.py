"""The audit package is the standard library alone: an auditor runs it from copied files.

Every module of ``appcase/audit/`` imports only the standard library and its sibling
modules (as ``appcase.audit.X``, or as ``X`` in the fallback for copied files); the one
third-party package allowed, ``cryptography`` for Ed25519, is imported inside functions."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

AUDIT = Path(__file__).resolve().parents[2] / "appcase" / "audit"
MODULES = sorted(p for p in AUDIT.glob("*.py"))
SIBLINGS = {p.stem for p in MODULES} - {"__init__"}


def _imports(tree: ast.AST) -> list[tuple[str, bool]]:
    """``(module, at module level)`` for every import of a module's tree."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = top and not isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
            )
            if isinstance(child, ast.Import):
                found.extend((alias.name, top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((child.module, top))
            visit(child, inner)

    visit(tree, True)
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_an_audit_module_imports_the_standard_library_and_its_siblings_only(path: Path) -> None:
    tree = ast.parse(path.read_text("utf-8"))
    for module, top in _imports(tree):
        root = module.split(".")[0]
        if module.startswith("appcase.audit.") or module in SIBLINGS:
            continue
        if root == "cryptography":
            assert not top, f"{path.name} imports cryptography at module level"
            continue
        assert root in sys.stdlib_module_names, f"{path.name} imports {module}"


def test_every_sibling_import_has_a_fallback_for_copied_files() -> None:
    for path in MODULES:
        tree = ast.parse(path.read_text("utf-8"))
        package = {m.removeprefix("appcase.audit.") for m, _ in _imports(tree)}
        package &= SIBLINGS
        plain = {m for m, _ in _imports(tree) if m in SIBLINGS}
        assert package == plain, f"{path.name}: {sorted(package ^ plain)} lack a fallback"
