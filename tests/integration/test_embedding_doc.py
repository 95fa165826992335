"""docs/embedding.md runs as written: its Python blocks, in order, as one script in an empty
folder, print what the page says they do."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "embedding.md"


def test_the_embedding_examples_run_as_written(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 5
    result = subprocess.run(
        [sys.executable, "-c", "\n".join(blocks)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "HN2018-430100-0001 surveyed"
    assert lines[1].startswith("refused: ")
    assert lines[1] == "refused: ['findings', 'role', 'state']"
    assert lines[2] == "flagged"
    assert lines[3] == "[('judge', 'judged')]"
    feed = [line.split() for line in lines[4:-2]]
    assert [f[2] for f in feed] == ["survey", "flag", "judge"]
    assert [int(f[0]) for f in feed] == sorted(int(f[0]) for f in feed)
    assert lines[-2] == "org.appcase.case.judge"
    assert lines[-1] == "True interviewed"
