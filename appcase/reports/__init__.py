"""The summary report (总结, source 三(三)): facts gathered in :mod:`appcase.reports.data`,
worded and rendered (Markdown, DOCX, JSON) in :mod:`appcase.reports.render`."""

from appcase.reports.data import TYPICAL_CASES, SummaryData, gather_summary
from appcase.reports.render import observations, render, render_docx, render_markdown

__all__ = [
    "TYPICAL_CASES",
    "SummaryData",
    "gather_summary",
    "observations",
    "render",
    "render_docx",
    "render_markdown",
]
