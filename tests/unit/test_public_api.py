"""The public API: every name of ``appcase.__all__`` resolves, and importing appcase (as the
command line's ``--help`` does) loads neither the ORM models nor the engine."""

from __future__ import annotations

import enum
import inspect
import subprocess
import sys
import typing
from collections.abc import Iterator

import appcase


def test_every_public_name_resolves_to_what_its_module_defines() -> None:
    assert len(set(appcase.__all__)) == len(appcase.__all__)
    for name in appcase.__all__:
        value = getattr(appcase, name)
        home = getattr(value, "__module__", None)
        if home is not None and home.startswith("appcase."):  # classes and functions
            assert value is getattr(sys.modules[home], name), name
    assert set(appcase.__all__) <= set(dir(appcase))


def test_importing_appcase_is_cheap() -> None:
    code = (
        "import sys, appcase.cli; "
        "print(sorted(m for m in sys.modules if m in "
        "('appcase.persistence.models', 'appcase.workflow.engine', 'sqlalchemy.orm')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def _public_callables() -> list[tuple[str, object]]:
    """Every public function, class and public method of a public class of ``appcase``."""
    found: list[tuple[str, object]] = []
    for name in appcase.__all__:
        value = getattr(appcase, name)
        if inspect.isclass(value):
            if issubclass(value, enum.Enum):
                continue
            found.append((name, value))
            for attr, member in vars(value).items():
                if attr.startswith("_") and attr != "__init__":
                    continue
                if inspect.isfunction(member):
                    found.append((f"{name}.{attr}", member))
        elif callable(value):
            found.append((name, value))
    return found


def _classes_in(hint: object) -> Iterator[type]:
    if inspect.isclass(hint):
        yield hint
    for arg in typing.get_args(hint):
        yield from _classes_in(arg)


def test_type_hints_resolve_on_every_public_callable() -> None:
    failures = []
    for name, value in _public_callables():
        try:
            typing.get_type_hints(value)
        except Exception as exc:  # reported below, all at once
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    assert failures == []


def test_every_appcase_type_in_a_public_signature_is_exported() -> None:
    exported = {id(getattr(appcase, n)) for n in appcase.__all__}
    missing = set()
    for name, value in _public_callables():
        for hint in typing.get_type_hints(value).values():
            for cls in _classes_in(hint):
                if cls.__module__.startswith("appcase") and id(cls) not in exported:
                    missing.add(f"{cls.__module__}.{cls.__qualname__} (in {name})")
    assert sorted(missing) == []
