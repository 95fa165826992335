"""A second engine on a SQLite file keeps the first one's locks.

Opening an engine checks the file's header; reading it through a descriptor of its own and
closing that would release every POSIX lock the process holds on the file, SQLite's
included. Another process would then take the database for unused: the last connection
to close checkpoints and deletes the write-ahead log under the first engine's connections
(and, with writers, the file is corrupted -- seen with a server process and a library
engine on one file). Real files, another real process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from appcase.bootstrap import init_database, open_engine


def test_a_second_engine_leaves_the_first_ones_locks(tmp_path: Path) -> None:
    path = tmp_path / "cases.sqlite"
    url = f"sqlite:///{path}"
    init_database(url, "hunan-2018").close()
    first = open_engine(url)
    try:
        first.list_cases()  # a connection stays open in the pool, in WAL mode
        wal = Path(f"{path}-wal")
        assert wal.exists()
        open_engine(url).close()
        # another process opens and closes the database: were it the only user, it would
        # checkpoint and delete the log
        code = (
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
            "c.execute('select count(*) from sqlite_master').fetchall(); c.close()"
        )
        subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=60)
        assert wal.exists(), "the first engine's locks were released"
        assert first.list_cases() == []
    finally:
        first.close()
