"""Compare two checkouts of appcase in one run: ``python -m benchmarks.compare``.

Runs the chosen benchmark items of each checkout in turn, alternating which goes first
round by round (so that a machine that slows down or speeds up during the run favours
neither), each with its own benchmark code and its own ``appcase`` (the checkout's folder
comes first on ``sys.path``), and prints, per item, the median of each checkout's rows
and the ratio after / before, with each checkout's ratio to its own raw baseline.

Example (the checkout before a change in a git worktree of its own)::

    git worktree add --detach ../before <commit>
    python -m benchmarks.compare --before ../before --after . --only 1,3 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _run(checkout: Path, only: str, size: str, out: Path) -> list[dict[str, Any]]:
    """One benchmark run of ``checkout``; its rows."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    cmd = [sys.executable, "-m", "benchmarks", "--size", size, "--only", only]
    cmd += ["--no-postgres", "--profiles", "none", "--out", str(out)]
    subprocess.run(cmd, cwd=checkout, env=env, check=True)
    rows: list[dict[str, Any]] = json.loads(out.with_suffix(".json").read_text("utf-8"))["rows"]
    return rows


def _median(rows: list[dict[str, Any]], item: str, baseline: bool) -> float | None:
    """The median of an item's engine row (or of its baseline row) over the samples."""
    for row in rows:
        is_base = row["what"].startswith("baseline")
        if row["item"] == item and is_base == baseline:
            return float(statistics.median(row["samples"]))
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; print the table; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare")
    parser.add_argument("--before", required=True, type=Path, help="the checkout before")
    parser.add_argument("--after", required=True, type=Path, help="the checkout after")
    parser.add_argument("--only", default="1,3", help="comma-separated items (default 1,3)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each checkout")
    parser.add_argument("--size", default="full")
    args = parser.parse_args(argv)
    items = [x.strip() for x in args.only.split(",") if x.strip()]
    runs: dict[str, list[list[dict[str, Any]]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="appcase-compare-") as tmp:
        for r in range(args.rounds):
            order = ("before", "after") if r % 2 == 0 else ("after", "before")
            for label in order:
                checkout = (args.before if label == "before" else args.after).resolve()
                out = Path(tmp) / f"{label}-{r}.md"
                print(f"round {r + 1}/{args.rounds}: {label} ({checkout})", file=sys.stderr)
                runs[label].append(_run(checkout, args.only, args.size, out))
    print("| item | before | after | after / before | before / raw | after / raw |")
    print("|---|---|---|---|---|---|")
    for item in items:
        rows = {k: [_median(rs, item, False) for rs in v] for k, v in runs.items()}
        base = {k: [_median(rs, item, True) for rs in v] for k, v in runs.items()}
        b = statistics.median([x for x in rows["before"] if x is not None] or [0.0])
        a = statistics.median([x for x in rows["after"] if x is not None] or [0.0])
        braw = statistics.median([x for x in base["before"] if x is not None] or [0.0])
        araw = statistics.median([x for x in base["after"] if x is not None] or [0.0])
        unit = next((r["unit"] for r in runs["after"][0] if r["item"] == item), "")
        cells = [
            f"{b:.4g} {unit}",
            f"{a:.4g} {unit}",
            f"{a / b:.3f}" if b else "-",
            f"{b / braw:.3f}" if braw else "-",
            f"{a / araw:.3f}" if araw else "-",
        ]
        print(f"| {item} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
