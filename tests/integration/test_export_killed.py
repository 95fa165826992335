"""An ``audit export`` killed half way leaves no half-written bundle where it was asked to
write one, and the next export to the same place removes the hidden directory it left."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from appcase.workflow.engine import CaseEngine
from tests.builders import drive, run_cli

# Runs the real command line, made to stop for ever after the first line it writes, so
# that the test can kill it with a bundle half written.
_SLOW_EXPORT = """
import sys, time
import appcase.workflow.export as export

write = export._HashingWriter.write

def stuck(self, data):
    write(self, data)
    self.f.flush()
    time.sleep(600)

export._HashingWriter.write = stuck
from appcase.cli import cli
cli.main(["--db", sys.argv[1], "audit", "export", "--out", sys.argv[2]])
"""


def _partial(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if ".partial-" in p.name]


def test_a_killed_export_leaves_no_bundle_and_the_next_one_cleans_up(
    make_engine: Callable[[str], CaseEngine], sqlite_url: str, tmp_path: Path
) -> None:
    engine = make_engine(sqlite_url)
    for n in range(3):
        drive(engine, "pledged", n=n)
    engine.close()
    where = tmp_path / "exports"
    out = where / "bundle"
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_EXPORT, sqlite_url, str(out)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(f.stat().st_size for p in _partial_if(where) for f in p.iterdir()):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the export never started writing"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
    assert not out.exists()
    (left,) = _partial(where)
    assert left.name.startswith(".bundle.partial-")  # hidden, and named for what it was

    result = run_cli(sqlite_url, "audit", "export", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in where.iterdir()) == ["bundle"]


def _partial_if(directory: Path) -> list[Path]:
    return _partial(directory) if directory.exists() else []


def test_an_export_leaves_alone_the_directory_of_one_still_running(
    make_engine: Callable[[str], CaseEngine], sqlite_url: str, tmp_path: Path
) -> None:
    engine = make_engine(sqlite_url)
    drive(engine, "pledged")
    engine.close()
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        host = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
        theirs = tmp_path / f".bundle.partial-{host}-{running.pid}-0123abcd"
        theirs.mkdir()
        result = run_cli(sqlite_url, "audit", "export", "--out", str(tmp_path / "bundle"))
        assert result.exit_code == 0, result.output
        assert theirs.exists()
    finally:
        running.kill()
        running.wait()
