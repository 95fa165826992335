"""Reports and diagrams: ``appcase report hotline``, ``appcase report summary``,
``appcase diagram``."""

from __future__ import annotations

import click

__all__ = ["COMMANDS"]


@click.group("report")
def report_group() -> None:
    """Hotline reports (举报) in, the summary report (总结) out.

    \b
    Example:
      appcase report summary --prefecture 430100 --format docx --out 长沙市总结.docx
    """


COMMANDS = [report_group]
