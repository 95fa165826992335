"""The demo is written as an integrator's program would be: on ``appcase.__all__`` alone, with
no ORM, no SQLAlchemy and no command line (which renders what the demo returns)."""

from __future__ import annotations

import ast
from pathlib import Path

import appcase

DEMO = Path(appcase.__file__).parent / "demo"


def test_the_demo_imports_only_the_public_api() -> None:
    for source in sorted(DEMO.glob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
                assert not any(n.split(".")[0] in {"appcase", "sqlalchemy"} for n in names), (
                    source.name,
                    names,
                )
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                assert not module.startswith(("sqlalchemy", "appcase.")), (source.name, module)
                if module == "appcase":
                    assert {a.name for a in node.names} <= set(appcase.__all__), source.name
