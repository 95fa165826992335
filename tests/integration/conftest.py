"""Fixtures of the integration tests: the demo campaign, played once per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from appcase.demo import run_demo
from tests.builders import checkpoint


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's SQLite file, played once per session and checkpointed; copy it (with
    :func:`demo_copy`) before changing it."""
    path = tmp_path_factory.mktemp("demo-template") / "demo.sqlite"
    result = run_demo(path)
    assert result.audit_ok
    checkpoint(path)
    return path


@pytest.fixture
def demo_copy(demo_template: Path, tmp_path: Path) -> Path:
    """A private copy of the demo's SQLite file."""
    path = tmp_path / "demo.sqlite"
    shutil.copyfile(demo_template, path)
    return path
