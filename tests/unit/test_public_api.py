"""The public API: every name of ``appcase.__all__`` resolves, and importing appcase (as the
command line's ``--help`` does) loads neither the ORM models nor the engine."""

from __future__ import annotations

import subprocess
import sys

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
