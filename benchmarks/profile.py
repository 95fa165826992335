"""Profile the hot paths behind the benchmarks (needs the ``bench`` extra: pyinstrument).

Usage::

    python -m benchmarks.profile fire sweep verify import lifecycle cli --out /tmp/profiles

Each target runs a small, seeded workload under pyinstrument and writes
``<target>.txt`` (the call tree, with time per frame) into ``--out``; ``cli`` writes
``cli-importtime.txt``, the slowest imports of ``python -X importtime -m appcase --help``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import lifecycle, seed
from benchmarks.run import ROOT, write_ledger


def _profile(name: str, out: Path, fn: Callable[[], Any]) -> None:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    fn()
    profiler.stop()
    text = profiler.output_text(unicode=True, color=False, show_all=False, short_mode=False)
    (out / f"{name}.txt").write_text(text, encoding="utf-8")
    print(f"wrote {out / name}.txt", file=sys.stderr)


def fire(work: Path, out: Path) -> None:
    """500 ``engine.fire(escalate)`` on seeded judged cases (SQLite)."""
    engine = seed.new_engine(seed.sqlite_url(work / "fire.sqlite"))
    ids = seed.seed(engine, lifecycle.TO_JUDGED_TAKEDOWN, 520)
    s = lifecycle.ESCALATE
    for cid in ids[:20]:
        engine.fire(cid, s.event, actor=s.actor, payload=s.payload, at=s.at, reason=s.reason)

    def go() -> None:
        for cid in ids[20:]:
            engine.fire(cid, s.event, actor=s.actor, payload=s.payload, at=s.at, reason=s.reason)

    _profile("fire", out, go)


def sweep(work: Path, out: Path) -> None:
    """The library sweep over 10,000 overdue pledges (SQLite)."""
    from appcase.workflow.sweep import summarise
    from appcase.workflow.sweep import sweep as run_sweep

    engine = seed.new_engine(seed.sqlite_url(work / "sweep.sqlite"))
    seed.seed(engine, lifecycle.TO_PLEDGED, 10_000)
    _profile(
        "sweep", out, lambda: summarise(lifecycle.SWEEP_AT, run_sweep(engine, lifecycle.SWEEP_AT))
    )


def verify(work: Path, out: Path) -> None:
    """``appcase.verify`` over 10,000 cases (50,000 events)."""
    from appcase.workflow.audit import verify as run_verify

    engine = seed.new_engine(seed.sqlite_url(work / "verify.sqlite"))
    seed.seed(engine, lifecycle.TO_PLEDGED, 9_999)
    _profile("verify", out, lambda: run_verify(engine))


def import_(work: Path, out: Path) -> None:
    """``appcase.ledger.import_ledger`` of 10,000 rows."""
    from appcase.ledger import import_ledger

    engine = seed.new_engine(seed.sqlite_url(work / "import.sqlite"))
    ledger = work / "ledger.csv"
    write_ledger(ledger, 10_000)
    _profile(
        "import",
        out,
        lambda: import_ledger(engine, ledger, actor=lifecycle.SURVEY_ACTOR, at=lifecycle.SURVEY_AT),
    )


def lifecycle_(work: Path, out: Path) -> None:
    """The six-step lifecycle of 100 cases (the peers' workload)."""
    engine = seed.new_engine(seed.sqlite_url(work / "lifecycle.sqlite"))
    lifecycle.run_lifecycle(engine, 10_000)

    def go() -> None:
        for i in range(100):
            lifecycle.run_lifecycle(engine, i)

    _profile("lifecycle", out, go)


def cli(work: Path, out: Path) -> None:
    """The slowest imports of ``python -X importtime -m appcase --help`` (cumulative µs)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "appcase", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cum_us, name = line[len("import time:") :].split("|")
        rows.append((int(cum_us), int(self_us), name.rstrip()))
    rows.sort(reverse=True)
    text = "cumulative_us  self_us  module\n" + "\n".join(
        f"{c:>13}  {s:>7}  {n}" for c, s, n in rows[:60]
    )
    (out / "cli-importtime.txt").write_text(text + "\n", encoding="utf-8")
    print(f"wrote {out / 'cli-importtime.txt'}", file=sys.stderr)


TARGETS: dict[str, Callable[[Path, Path], None]] = {
    "fire": fire,
    "sweep": sweep,
    "verify": verify,
    "import": import_,
    "lifecycle": lifecycle_,
    "cli": cli,
}


def main() -> None:
    """Run the named targets."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("targets", nargs="*", help=f"any of {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--out", default=".", help="directory for the profiles")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; choose from {', '.join(TARGETS)}")
    for name in args.targets or TARGETS:
        with tempfile.TemporaryDirectory(prefix="appcase-profile-") as tmp:
            TARGETS[name](Path(tmp), out)


if __name__ == "__main__":
    main()
