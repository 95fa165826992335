"""Results, the machine they were measured on, the printed table and ``RESULTS.md``."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "appcase",
    "SQLAlchemy",
    "transitions",
    "pydantic",
    "click",
    "alembic",
    "psycopg",
    "python-statemachine",
    "SpiffWorkflow",
    "pyinstrument",
    "psutil",
)


@dataclass
class Row:
    """One line of the results table.

    Attributes:
        item: the issue's item number (``"1"`` … ``"8c"``).
        what: what was measured.
        unit: unit of ``samples`` (``ms/op``, ``cases/s`` …).
        samples: one value per repeated run.
        baseline: what the ratio compares with (measured in the same run and process).
        ratios: one ratio per run (appcase ÷ baseline, in wall time: above 1 is slower).
        goal: the goal, as text.
        cpu_ratios: the same ratios in CPU time of the process (robust to other load).
        met: whether the goal is met (``None``: no goal or not measured).
        note: anything a reader must know (sizes, what is skipped and why).
    """

    item: str
    what: str
    unit: str = ""
    samples: list[float] = field(default_factory=list)
    baseline: str = ""
    ratios: list[float] = field(default_factory=list)
    goal: str = ""
    cpu_ratios: list[float] = field(default_factory=list)
    met: bool | None = None
    note: str = ""

    @property
    def median(self) -> float | None:
        """Median of the samples."""
        return statistics.median(self.samples) if self.samples else None

    @property
    def ratio(self) -> float | None:
        """Median of the per-run ratios."""
        return statistics.median(self.ratios) if self.ratios else None


def fmt(value: float | None) -> str:
    """A number with about three significant digits."""
    if value is None:
        return "–"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if value >= 1 else f"{value:.3f}"


def _cells(row: Row) -> list[str]:
    value = f"{fmt(row.median)} {row.unit}".strip() if row.samples else "not measured"
    spread = f"{fmt(min(row.samples))}–{fmt(max(row.samples))}" if len(row.samples) > 1 else ""
    ratio = ""
    if row.ratios:
        ratio = f"{fmt(row.ratio)}"
        if len(row.ratios) > 1:
            ratio += f" ({fmt(min(row.ratios))}–{fmt(max(row.ratios))})"
        ratio += f" vs {row.baseline}"
    cpu = ""
    if row.cpu_ratios:
        cpu = fmt(statistics.median(row.cpu_ratios))
        if len(row.cpu_ratios) > 1:
            cpu += f" ({fmt(min(row.cpu_ratios))}–{fmt(max(row.cpu_ratios))})"
    met = {True: "met", False: "MISSED", None: "–"}[row.met]
    return [row.item, row.what, value, spread, f"{len(row.samples)}", ratio, cpu, row.goal, met]


HEADERS = [
    "#",
    "benchmark",
    "median",
    "min–max",
    "runs",
    "ratio (median, min–max)",
    "CPU-time ratio",
    "goal",
    "",
]


def table(rows: list[Row]) -> str:
    """A plain-text table for the terminal."""
    cells = [HEADERS, *(_cells(r) for r in rows)]
    widths = [min(60, max(len(c[i]) for c in cells)) for i in range(len(HEADERS))]
    lines = []
    for c in cells:
        lines.append("  ".join(x[: widths[i]].ljust(widths[i]) for i, x in enumerate(c)).rstrip())
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=10, check=False
        )
        return out.stdout.strip()
    except OSError:
        return ""


def load() -> str:
    """The 1, 5 and 15 minute load averages."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = _git("status", "--porcelain", "--", "appcase")
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count()),
        "RAM": _ram(),
        "OS": f"{platform.system()} {platform.release()} ({platform.platform()})",
        "Python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "SQLite": __import__("sqlite3").sqlite_version,
        "appcase commit": (commit + (" with uncommitted changes to appcase/" if dirty else ""))
        or "unknown",
        "libraries": ", ".join(f"{p} {_version(p)}" for p in PACKAGES),
    }


def markdown(
    rows: list[Row],
    info: dict[str, str],
    *,
    size: str,
    command: str,
    loads: list[tuple[str, str]],
    seconds: float,
    notes: str,
    profiles: dict[str, str] | None = None,
) -> str:
    """The body of ``RESULTS.md`` (``profiles``: :mod:`benchmarks.profile` summaries taken
    in the run, by target)."""
    out = [
        "# appcase benchmarks",
        "",
        f"Produced by `{command}` (size `{size}`) in {seconds / 60:.1f} minutes. "
        "Every ratio compares appcase with a baseline measured in the same run and the same "
        "process, run by run (the two alternate, so that load from other users of the "
        "machine falls on both); it is appcase's time divided by the baseline's: above 1 "
        "appcase is slower. Medians are over the runs; min–max is the spread. Goals are "
        "judged on the wall-time ratio; the CPU-time ratio (the process's CPU time, "
        "`time.process_time`) is given beside it because it is far less disturbed by other "
        "users of the machine (it leaves out waiting for a core and for the disk).",
        "",
        "## Machine",
        "",
        *(f"- **{k}**: {v}" for k, v in info.items()),
        "- **load average (1, 5, 15 min)**: "
        + "; ".join(f"{when}: {value}" for when, value in loads)
        + " -- the machine has 2 cores shared with other users.",
        "",
        "## Results",
        "",
        "| " + " | ".join([*HEADERS[:-1], "met"]) + " |",
        "|" + "---|" * len(HEADERS),
    ]
    for r in rows:
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in _cells(r)) + " |")
    out += ["", "### Notes on each row", ""]
    for r in rows:
        if r.note:
            out.append(f"- **{r.item} {r.what}**: {r.note}")
    missed = [r for r in rows if r.met is False]
    out += [
        "",
        "## Goals missed",
        "",
        *(
            [
                f"- {r.item} {r.what}: {fmt(r.median)} {r.unit}"
                + (f", ratio {fmt(r.ratio)} vs {r.baseline}" if r.ratios else "")
                + f"; goal {r.goal}"
                for r in missed
            ]
            or ["- none"]
        ),
        "",
        *_profiles_section(profiles or {}),
        notes.strip(),
        "",
    ]
    return "\n".join(out)


PROFILE_TARGETS = {
    "fire": "item 1: 2,000 `engine.fire(escalate)` on a SQLite file, under `CaseEngine.fire`",
    "fire_pg": "item 2: the same 2,000 `engine.fire(escalate)` on PostgreSQL",
    "sweep": "item 3: the library sweep of 10,000 overdue pledges, under `summarise`",
    "raw_sweep": "item 3's baseline: the raw batched Core sweep of the same 10,000 cases",
}


def _profiles_section(profiles: dict[str, str], top: int = 30) -> list[str]:
    """The profiles taken in this run, each cut to its first ``top`` inclusive and self
    lines."""
    if not profiles:
        return []
    out = [
        "## Profiles of the missed goals, taken in this run",
        "",
        "`python -m benchmarks.profile TARGET --cpu` after the measurements, on the same "
        "machine: py-spy samples the process 250 times a second while it is on a CPU "
        "(waiting for a core or the disk does not count). *Inclusive*: share of the samples "
        "with the function on the stack; *self*: share with it on top. Seeding is left out.",
        "",
    ]
    for target, text in profiles.items():
        out += [f"### `{target}`: {PROFILE_TARGETS.get(target, target)}", ""]
        if text.startswith("not taken"):
            out += [text, ""]
            continue
        lines = text.splitlines()
        cut: list[str] = []
        section_lines = 0
        for line in lines:
            if line.endswith(":") or not line.strip():
                section_lines = 0
                cut.append(line)
                continue
            section_lines += 1
            if section_lines <= top:
                cut.append(line)
        out += ["```", *cut, "```", ""]
    return out
