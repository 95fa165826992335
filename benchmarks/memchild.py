"""Run one sweep in this process and print its peak RSS as JSON (item 6).

Usage: ``python -m benchmarks.memchild SQLITE_FILE`` -- the library's way of sweeping
(:func:`appcase.sweep` consumed by :func:`appcase.workflow.sweep.summarise`, as a cron job
embedding appcase would run it). The peak comes from ``getrusage(RUSAGE_SELF).ru_maxrss``
(kilobytes on Linux).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def main() -> None:
    """Open the database, sweep at the benchmark instant, print the measurements."""
    from appcase.workflow.sweep import summarise, sweep
    from benchmarks import lifecycle, seed

    path = Path(sys.argv[1])
    engine = seed.reopen(seed.sqlite_url(path))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    report = summarise(lifecycle.SWEEP_AT, sweep(engine, lifecycle.SWEEP_AT))
    seconds = time.perf_counter() - start
    engine.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "escalated": report.escalated,
                "seconds": seconds,
                "rss_before_kib": before,
                "peak_rss_kib": peak,
            }
        )
    )


if __name__ == "__main__":
    main()
