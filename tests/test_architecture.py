"""The layer rules, checked on every test run.

- Each import contract of ``pyproject.toml`` ([tool.importlinter]) holds: ``lint-imports``
  runs once per contract, so that every broken contract is reported with its own output.
- No import cycle between appcase's modules: every import that runs counts, also one inside
  a function; an import under ``if TYPE_CHECKING:`` does not.
- ``appcase.audit`` imports the standard library alone (``cryptography`` optionally).
- Nothing reaches another module's private names (``_name``), neither in ``appcase/`` nor
  in ``tests/``.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from collections import deque
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "appcase"
CONTRACTS: list[dict[str, object]] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
    "importlinter"
]["contracts"]


# --- import contracts -----------------------------------------------------------------------


def _lint_imports() -> str:
    script = Path(sys.executable).with_name("lint-imports")
    found = str(script) if script.exists() else shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is not installed: pip install -e '.[test]'")
    return found


@pytest.mark.parametrize(
    "contract", CONTRACTS, ids=[str(c.get("id", c["name"])) for c in CONTRACTS]
)
def test_import_contract(contract: dict[str, object], tmp_path: Path) -> None:
    assert "id" in contract, f"give the contract {contract['name']!r} an id in pyproject.toml"
    result = subprocess.run(
        [_lint_imports(), "--no-logo", "--no-cache", "--contract", str(contract["id"])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"{contract['name']}\n\n{result.stdout}{result.stderr}"


# --- import cycles --------------------------------------------------------------------------


def _runtime_graph(*, externals: bool = False) -> grimp.ImportGraph:
    return grimp.build_graph(
        "appcase",
        include_external_packages=externals,
        exclude_type_checking_imports=True,
        cache_dir=None,
    )


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_edges(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    """Who imports whom. Importing ``a.b.c`` first runs ``a/__init__.py`` and
    ``a/b/__init__.py``: an importer outside those packages imports them too."""
    edges: dict[str, set[str]] = {module: set() for module in graph.modules}
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            edges[importer].add(imported)
            outer = set(_ancestors(importer)) | {importer}
            edges[importer] |= {p for p in _ancestors(imported) if p not in outer}
    return edges


def _shortest_cycle(edges: dict[str, set[str]], start: str) -> list[str] | None:
    """The shortest chain of imports from ``start`` back to itself, or None."""
    parents: dict[str, str] = {}
    queue = deque([start])
    while queue:
        module = queue.popleft()
        for imported in sorted(edges[module]):
            if imported == start:
                chain = [module]
                while chain[-1] != start:
                    chain.append(parents[chain[-1]])
                return [*reversed(chain), start]
            if imported not in parents:
                parents[imported] = module
                queue.append(imported)
    return None


def import_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle through each module that is on a cycle, each cycle once."""
    cycles: dict[frozenset[tuple[str, str]], list[str]] = {}
    for module in sorted(edges):
        chain = _shortest_cycle(edges, module)
        if chain is not None:
            cycles.setdefault(frozenset(pairwise(chain)), chain)
    return sorted(cycles.values())


def test_no_import_cycles() -> None:
    graph = _runtime_graph()
    cycles = import_cycles(import_edges(graph))
    lines = []
    for chain in cycles:
        lines.append(" -> ".join(chain))
        for importer, imported in pairwise(chain):
            details = graph.get_import_details(importer=importer, imported=imported)
            at = ", ".join(f"l.{d['line_number']}" for d in details) or "its package runs first"
            lines.append(f"    {importer} -> {imported} ({at})")
    assert not cycles, f"{len(cycles)} import cycle(s):\n" + "\n".join(lines)


def test_audit_imports_the_standard_library_alone() -> None:
    graph = _runtime_graph(externals=True)
    audit = {m for m in graph.modules if m == "appcase.audit" or m.startswith("appcase.audit.")}
    # the standard library, the optional cryptography, and a sibling audit module imported
    # by its bare name (how the modules find each other when copied out of appcase)
    siblings = {m.rsplit(".", 1)[-1] for m in audit}
    allowed = set(sys.stdlib_module_names) | {"cryptography"} | siblings
    found = []
    for module in sorted(audit):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            top = imported.split(".")[0]
            if imported not in audit and (top == "appcase" or top not in allowed):
                lines = [
                    d["line_number"]
                    for d in graph.get_import_details(importer=module, imported=imported)
                ]
                found.append(f"{module} imports {imported} (l.{lines})")
    assert audit, "appcase.audit does not exist"
    assert not found, "\n".join(found)


# --- private names --------------------------------------------------------------------------


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _private_module_outside(imported: str, importer: str) -> str | None:
    """A private module on the path of ``imported`` that ``importer`` is not inside of."""
    parts = imported.split(".")
    for i, part in enumerate(parts):
        parent = ".".join(parts[:i])
        if _private(part) and not (importer == parent or importer.startswith(parent + ".")):
            return ".".join(parts[: i + 1])
    return None


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _names_in(annotation: ast.expr | None) -> set[str]:
    """The names an annotation mentions (also inside a quoted annotation)."""
    if annotation is None:
        return set()
    names = set()
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            with suppress(SyntaxError):
                names |= _names_in(ast.parse(node.value, mode="eval").body)
    return names


@dataclass
class Violation:
    path: Path
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.text}"


class _PrivateAccess(ast.NodeVisitor):
    """Finds, in one file, what reaches a private name of another appcase module:

    - ``from appcase.x import _y`` (also relative), or an import of a private module
      ``appcase.x._y`` from outside ``appcase.x``;
    - ``v._y``, where ``v`` is a name bound by an appcase import (a module, class or
      function), an attribute chain starting at one, a name annotated or constructed with
      an imported appcase type, or ``self.a``/``cls.a`` where the class annotates or assigns
      ``a`` so; ``getattr``/``setattr``/``delattr``/``hasattr`` with a literal private name
      count the same;
    - ``monkeypatch.setattr``/``delattr`` and ``unittest.mock.patch`` on such a target with
      a private name, or with a dotted string ``"appcase....._y"``.

    ``self._y``, ``cls._y``, ``super()._y`` and dunder names are fine; so is a private name
    of a class defined in the same file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.module = _module_name(path)
        self.is_package = path.name == "__init__.py"
        self.violations: list[Violation] = []
        self.imported: set[str] = set()  # names bound by appcase imports
        self.typed: list[set[str]] = [set()]  # names holding appcase objects, per scope
        self.attributes: list[set[str]] = []  # self.<attr> holding appcase objects, per class

    def flag(self, node: ast.AST, text: str) -> None:
        self.violations.append(Violation(self.path, getattr(node, "lineno", 0), text))

    # which expressions hold appcase objects

    def _appcase_type(self, annotation: ast.expr | None) -> bool:
        return bool(_names_in(annotation) & self.imported)

    def _appcase_value(self, node: ast.expr | None) -> bool:
        if isinstance(node, ast.Call):
            node = node.func
        return node is not None and self._appcase_object(node)

    def _appcase_object(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.imported or any(node.id in scope for scope in self.typed)
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                return bool(self.attributes) and node.attr in self.attributes[-1]
            root = _root_name(node)
            return root is not None and root in self.imported
        return False

    # imports

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] != "appcase":
                continue
            self.imported.add(alias.asname or alias.name.split(".")[0])
            private = _private_module_outside(alias.name, self.module)
            if private:
                self.flag(node, f"imports the private module {private}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        source = _absolute(self.module, self.is_package, node)
        if source.split(".")[0] != "appcase":
            return
        private = _private_module_outside(source, self.module)
        if private:
            self.flag(node, f"imports from the private module {private}")
        for alias in node.names:
            self.imported.add(alias.asname or alias.name)
            if _private(alias.name) and not self._own_private_module(source, alias.name):
                self.flag(node, f"imports the private name {alias.name} from {source}")

    def _own_private_module(self, package: str, name: str) -> bool:
        """Whether ``from package import name`` takes a private module of a package that
        this module is part of."""
        folder = ROOT.joinpath(*package.split("."))
        is_module = (folder / f"{name}.py").exists() or (folder / name).is_dir()
        return is_module and (self.module + ".").startswith(package + ".")

    # scopes and what their names hold

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.imported.discard(node.name)  # a class of this file: its privates are its own
        held = set()
        for item in ast.walk(node):
            if isinstance(item, ast.AnnAssign) and self._appcase_type(item.annotation):
                target = item.target
                if isinstance(target, ast.Name):
                    held.add(target.id)
                elif isinstance(target, ast.Attribute) and _root_name(target) == "self":
                    held.add(target.attr)
            elif isinstance(item, ast.Assign) and len(item.targets) == 1:
                target = item.targets[0]
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                    and self._holds(item.value, node)
                ):
                    held.add(target.attr)
        self.attributes.append(held)
        self.generic_visit(node)
        self.attributes.pop()

    def _holds(self, value: ast.expr, cls: ast.ClassDef) -> bool:
        """Whether ``value`` (assigned to ``self.x`` in ``cls``) holds an appcase object."""
        if self._appcase_value(value):
            return True
        if isinstance(value, ast.Name):
            for method in cls.body:
                if isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef):
                    args = method.args
                    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
                        if arg.arg == value.id and self._appcase_type(arg.annotation):
                            return True
        return False

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        args = node.args
        params = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        scope = {a.arg for a in params if a is not None and self._appcase_type(a.annotation)}
        for item in ast.walk(node):
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                if self._appcase_type(item.annotation) or self._appcase_value(item.value):
                    scope.add(item.target.id)
            elif isinstance(item, ast.Assign) and self._appcase_value(item.value):
                scope |= {t.id for t in item.targets if isinstance(t, ast.Name)}
            elif (
                isinstance(item, ast.withitem)
                and isinstance(item.optional_vars, ast.Name)
                and self._appcase_value(item.context_expr)
            ):
                scope.add(item.optional_vars.id)
        self.typed.append(scope)
        self.generic_visit(node)
        self.typed.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    # the accesses

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if _private(node.attr) and self._appcase_object(node.value):
            self.flag(node, f"reaches the private name {ast.unparse(node)}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = ast.unparse(node.func)
        args = node.args
        name = args[1] if len(args) > 1 else None
        literal = name.value if isinstance(name, ast.Constant) else None
        by_name = func in ("getattr", "setattr", "delattr", "hasattr") or func.endswith(
            ("monkeypatch.setattr", "monkeypatch.delattr", "patch.object")
        )
        if (
            by_name
            and isinstance(literal, str)
            and _private(literal)
            and self._appcase_object(args[0])
        ):
            self.flag(node, f"{func}({ast.unparse(args[0])}, {literal!r}) on a private name")
        first = args[0] if args else None
        dotted = first.value if isinstance(first, ast.Constant) else None
        if (
            isinstance(dotted, str)
            and dotted.startswith("appcase.")
            and any(_private(part) for part in dotted.split("."))
            and (func.endswith(("setattr", "delattr")) or func.split(".")[-1] == "patch")
        ):
            self.flag(node, f"{func}({dotted!r}) on a private name")
        self.generic_visit(node)


def private_accesses(*folders: str) -> Iterator[Violation]:
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" in path.parts or ".venv" in path.parts:
                continue
            finder = _PrivateAccess(path)
            finder.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
            yield from finder.violations


SNIPPETS_FLAGGED = {
    "private name imported": "from appcase.workflow.engine import _fire",
    "relative import": "from .engine import _fire",
    "module attribute": "import appcase.workflow.engine\nappcase.workflow.engine._fire()",
    "imported module": "from appcase.workflow import engine\nengine._fire()",
    "class attribute": "from appcase.workflow.engine import CaseEngine\nCaseEngine._fire",
    "annotated parameter": "from .engine import CaseEngine\ndef f(e: CaseEngine):\n    e._fire()",
    "optional parameter": "from .engine import CaseEngine\ndef f(e: 'CaseEngine | None'):\n e._f",
    "constructed": "from .engine import CaseEngine\ndef f():\n    e = CaseEngine()\n    e._fire()",
    "held by self": (
        "from .engine import CaseEngine\nclass S:\n    def __init__(self, e: CaseEngine):\n"
        "        self.e = e\n    def f(self):\n        self.e._fire()"
    ),
    "getattr": "from .engine import CaseEngine\ndef f(e: CaseEngine):\n    getattr(e, '_fire')",
    "monkeypatch": (
        "from .engine import CaseEngine\ndef test(monkeypatch, engine: CaseEngine):\n"
        "    monkeypatch.setattr(engine, '_fire', None)"
    ),
    "dotted target": "def test(mp):\n    mp.setattr('appcase.persistence.db._timeout', 1)",
}
SNIPPETS_FINE = {
    "own privates": "class A:\n    def f(self):\n        return self._x, A._y, super()._z",
    "dunder": "from .engine import CaseEngine\ndef f(e: CaseEngine):\n    return e.__class__",
    "a class of this file": "class R:\n    def _close(self): ...\ndef f(r: R):\n    r._close()",
    "not appcase": "import os\nfrom typing import NamedTuple\ndef f(p: NamedTuple):\n"
    "    os._exit(p._asdict())",
    "public": "from .engine import CaseEngine\ndef f(e: CaseEngine):\n    e.fire(e.store)",
}


def _check_snippet(source: str) -> list[Violation]:
    finder = _PrivateAccess(PACKAGE / "workflow" / "hotline.py")
    finder.visit(ast.parse(source))
    return finder.violations


@pytest.mark.parametrize("source", SNIPPETS_FLAGGED.values(), ids=SNIPPETS_FLAGGED.keys())
def test_the_private_name_check_finds(source: str) -> None:
    assert len(_check_snippet(source)) == 1


@pytest.mark.parametrize("source", SNIPPETS_FINE.values(), ids=SNIPPETS_FINE.keys())
def test_the_private_name_check_lets_pass(source: str) -> None:
    assert _check_snippet(source) == []


@pytest.mark.parametrize("folder", ["appcase", "tests"])
def test_nothing_reaches_another_modules_private_names(folder: str) -> None:
    found = [str(v) for v in private_accesses(folder)]
    assert not found, f"{len(found)} private name(s) reached from outside:\n" + "\n".join(found)
