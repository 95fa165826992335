"""Profile the hot paths behind the benchmarks (needs the ``bench`` extra: pyinstrument).

Usage::

    python -m benchmarks.profile fire sweep verify import lifecycle cli --out /tmp/profiles

Each target runs a small, seeded workload under pyinstrument and writes
``<target>.txt`` (the call tree, with wall time per frame) into ``--out``; ``cli`` writes
``cli-importtime.txt``, the slowest imports of ``python -X importtime -m appcase --help``.

With ``--cpu`` each target runs under py-spy instead (which samples only while the process
is on a CPU, so time waiting for a busy shared machine does not count) and
``<target>-cpu.txt`` lists the functions by share of samples, inclusive and self.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import lifecycle, seed
from benchmarks.run import DEFAULT_PG, ROOT, write_ledger

PLAIN = False  # set by --plain: run the workload without a profiler (under py-spy)


def _profile(name: str, out: Path, fn: Callable[[], Any]) -> None:
    if PLAIN:
        fn()
        return
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    fn()
    profiler.stop()
    text = profiler.output_text(unicode=True, color=False, show_all=False, short_mode=False)
    (out / f"{name}.txt").write_text(text, encoding="utf-8")
    print(f"wrote {out / name}.txt", file=sys.stderr)


def _fire_on(url: str, name: str, out: Path) -> None:
    engine = seed.new_engine(url)
    ids = seed.seed(engine, lifecycle.TO_JUDGED_TAKEDOWN, 2020)
    s = lifecycle.ESCALATE
    for cid in ids[:20]:
        engine.fire(cid, s.event, actor=s.actor, payload=s.payload, at=s.at, reason=s.reason)

    def go() -> None:
        for cid in ids[20:]:
            engine.fire(cid, s.event, actor=s.actor, payload=s.payload, at=s.at, reason=s.reason)

    _profile(name, out, go)
    engine.close()


def fire(work: Path, out: Path) -> None:
    """2,000 ``engine.fire(escalate)`` on seeded judged cases (SQLite)."""
    _fire_on(seed.sqlite_url(work / "fire.sqlite"), "fire", out)


def fire_pg(work: Path, out: Path) -> None:
    """The same on PostgreSQL (``APPCASE_BENCH_DATABASE_URL``, else
    ``APPCASE_TEST_DATABASE_URL``, else the local server), in a schema of its own."""
    url = (
        os.environ.get("APPCASE_BENCH_DATABASE_URL")
        or os.environ.get("APPCASE_TEST_DATABASE_URL")
        or DEFAULT_PG
    )
    with seed.postgres_schema(url) as schema_url:
        _fire_on(schema_url, "fire_pg", out)


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
    from appcase.workflow.verify import verify as run_verify

    engine = seed.new_engine(seed.sqlite_url(work / "verify.sqlite"))
    seed.seed(engine, lifecycle.TO_PLEDGED, 9_999)
    _profile("verify", out, lambda: run_verify(engine))


def import_(work: Path, out: Path) -> None:
    """``appcase.workflow.ledger.import_ledger`` of 10,000 rows, read by
    ``appcase.adapters.ledger_file.read_ledger``."""
    from appcase.adapters.ledger_file import read_ledger
    from appcase.workflow.ledger import import_ledger

    engine = seed.new_engine(seed.sqlite_url(work / "import.sqlite"))
    ledger = work / "ledger.csv"
    write_ledger(ledger, 10_000)
    _profile(
        "import",
        out,
        lambda: import_ledger(
            engine, read_ledger(ledger), actor=lifecycle.SURVEY_ACTOR, at=lifecycle.SURVEY_AT
        ),
    )


def raw_sweep(work: Path, out: Path) -> None:
    """The raw batched Core baseline sweep over 10,000 overdue pledges (SQLite)."""
    from benchmarks import raw

    engine = seed.new_engine(seed.sqlite_url(work / "sweep.sqlite"))
    seed.seed(engine, lifecycle.TO_PLEDGED, 10_000)
    _profile(
        "raw_sweep",
        out,
        lambda: raw.sweep(
            engine.storage.engine,
            engine.campaign.id,
            at=lifecycle.SWEEP_AT,
            now=engine.clock.now(),
            province=engine.campaign.province.code,
        ),
    )


def lifecycle_(work: Path, out: Path) -> None:
    """The six-step lifecycle of 100 cases (the peers' workload)."""
    engine = seed.new_engine(seed.sqlite_url(work / "lifecycle.sqlite"))
    lifecycle.run_lifecycle(engine, 10_000)

    def go() -> None:
        for i in range(100):
            lifecycle.run_lifecycle(engine, i)

    _profile("lifecycle", out, go)


def survey_large(work: Path, out: Path) -> None:
    """200 surveys into a prefecture that already holds 100,000 cases (item 9's worst)."""
    engine = seed.new_engine(seed.sqlite_url(work / "survey-large.sqlite"))
    seed.seed(engine, lifecycle.FULL_LIFECYCLE, 100_000)

    def go() -> None:
        for i in range(200):
            engine.survey(lifecycle.app(i), actor=lifecycle.SURVEY_ACTOR, at=lifecycle.SURVEY_AT)

    _profile("survey_large", out, go)


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
    "fire_pg": fire_pg,
    "sweep": sweep,
    "raw_sweep": raw_sweep,
    "verify": verify,
    "import": import_,
    "lifecycle": lifecycle_,
    "survey_large": survey_large,
    "cli": cli,
}


ROOTS = {
    "fire": "CaseEngine.fire (",
    "fire_pg": "CaseEngine.fire (",
    "sweep": "summarise (appcase/workflow/sweep.py",
    "raw_sweep": "sweep (benchmarks/raw.py",
    "verify": "verify (appcase/workflow/verify.py",
    "import": "import_ledger (",
    "lifecycle": "run_lifecycle (",
    "survey_large": "CaseEngine.survey (",
}
"""The frame each ``--cpu`` summary starts from (seeding is left out)."""


def _short(frame: str) -> str:
    if frame.endswith(")") and " (" in frame:
        func, where = frame[:-1].rsplit(" (", 1)
        where = where.rsplit(":", 1)[0]
        for marker in ("site-packages/", "lib/python3.11/", f"{ROOT}/"):
            where = where.split(marker, 1)[-1]
        return f"{func} ({where})"
    return frame


def summarise_collapsed(raw: Path, root: str, top: int = 45) -> str:
    """Inclusive and self shares of samples per function, from py-spy's raw output,
    counting only stacks that pass through the frame whose name starts with ``root``."""
    from collections import Counter

    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [_short(f) for f in stack.split(";")]
        start = next((i for i, f in enumerate(frames) if f.startswith(root)), None)
        if start is None:
            continue
        frames = frames[start:]
        n = int(count)
        total += n
        for f in set(frames):
            inclusive[f] += n
        own[frames[-1]] += n
    lines = [f"{total} samples under {root}...", "", "inclusive:"]
    lines += [f"{100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    lines += ["", "self:"]
    lines += [f"{100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top // 2)]
    return "\n".join(lines) + "\n"


def py_spy() -> str | None:
    """The py-spy executable (on ``PATH``, or beside this interpreter), or ``None``."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


def _cpu(name: str, out: Path) -> None:
    raw = out / f"{name}.raw"
    spy = py_spy()
    if spy is None:
        raise SystemExit("py-spy is not installed: pip install -e '.[bench]'")
    cmd = [spy, "record", "-r", "250", "-f", "raw", "-o", str(raw), "--"]
    cmd += [sys.executable, "-m", "benchmarks.profile", name, "--plain", "--out", str(out)]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    text = summarise_collapsed(raw, ROOTS[name])
    (out / f"{name}-cpu.txt").write_text(text, encoding="utf-8")
    raw.unlink()
    print(f"wrote {out / name}-cpu.txt", file=sys.stderr)


def main() -> None:
    """Run the named targets."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("targets", nargs="*", help=f"any of {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--out", default=".", help="directory for the profiles")
    parser.add_argument("--cpu", action="store_true", help="sample on-CPU time with py-spy")
    parser.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global PLAIN
    PLAIN = args.plain
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; choose from {', '.join(TARGETS)}")
    for name in args.targets or TARGETS:
        if args.cpu and name != "cli":
            _cpu(name, out)
            continue
        with tempfile.TemporaryDirectory(prefix="appcase-profile-") as tmp:
            TARGETS[name](Path(tmp), out)


if __name__ == "__main__":
    main()
