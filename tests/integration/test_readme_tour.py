"""The README's command-line tour runs as written, line by line, in an empty folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_tour_runs_as_written(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = readme[readme.index("## A tour of the command line") :]
    block = re.search(r"```sh\n(.*?)```", tour, re.S)
    assert block is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPCASE_")} | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    }
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.group(1)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert "escalated" in result.stdout
    assert (tmp_path / "长沙市总结.docx").stat().st_size > 0
    assert "ok: bundle" in result.stdout
    assert "市民甲" not in result.stdout + result.stderr  # the reporter stays confidential
