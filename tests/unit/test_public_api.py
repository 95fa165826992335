"""The public API: every name of ``appcase.__all__`` resolves, and importing appcase (as the
command line's ``--help`` does) loads neither the ORM models nor the engine."""

from __future__ import annotations

import subprocess
import sys

import appcase


def test_every_public_name_resolves_to_what_its_module_defines() -> None:
    assert sorted(appcase.__all__) == sorted(appcase._EXPORTS)
    for name in appcase.__all__:
        value = getattr(appcase, name)
        module = sys.modules[appcase._EXPORTS[name]]
        assert value is getattr(module, name), name
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
