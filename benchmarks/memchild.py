"""Run one sweep in this process and print its peak RSS as JSON (item 6).

Usage: ``python -m benchmarks.memchild SQLITE_FILE [library|cli]``:

* ``library`` (default): :func:`appcase.sweep` consumed by
  :func:`appcase.workflow.sweep.summarise`, as a cron job embedding appcase would run it;
* ``cli``: ``appcase --db FILE sweep --at …`` run in this process (output discarded).

The peak is the process's ``VmHWM`` (``/proc/self/status``; high-water resident set since
this program started). ``getrusage().ru_maxrss`` is not used: on Linux a child inherits its
parent's peak across fork and exec, so a large parent would hide the child's own peak.
"""

from __future__ import annotations

import contextlib
import io
import json
import resource
import sys
import time
from pathlib import Path


def peak_rss_kib() -> int:
    """High-water resident set size of this process, in KiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # pragma: no cover - not Linux


class _Discard(io.TextIOBase):
    """Standard output that counts the escalation lines and keeps nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.escalated = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.escalated += text.count("  escalated")
        return len(text)


def main() -> None:
    """Open the database, sweep at the benchmark instant, print the measurements."""
    from benchmarks import lifecycle, seed

    path = Path(sys.argv[1])
    mode = sys.argv[2] if len(sys.argv) > 2 else "library"
    before = peak_rss_kib()
    start = time.perf_counter()
    if mode == "cli":
        from appcase.cli import cli

        args = ["--db", str(path), "sweep", "--at", lifecycle.SWEEP_AT.isoformat()]
        sink = _Discard()
        with contextlib.redirect_stdout(sink):
            cli.main(args, prog_name="appcase", standalone_mode=False)
        escalated = sink.escalated
    else:
        from appcase.workflow.sweep import summarise, sweep

        engine = seed.reopen(seed.sqlite_url(path))
        before = peak_rss_kib()
        escalated = summarise(lifecycle.SWEEP_AT, sweep(engine, lifecycle.SWEEP_AT)).escalated
        engine.close()
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "escalated": escalated,
                "seconds": seconds,
                "rss_before_kib": before,
                "peak_rss_kib": peak_rss_kib(),
            }
        ),
        file=sys.__stdout__,
    )


if __name__ == "__main__":
    main()
