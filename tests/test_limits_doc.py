"""docs/limits.md lists every limit of appcase.limits, with its value: rendered here."""

from __future__ import annotations

from pathlib import Path

from appcase.limits import LIMITS

DOC = Path(__file__).resolve().parents[1] / "docs" / "limits.md"
BEGIN, END = "<!-- limits table: begin -->", "<!-- limits table: end -->"


def render_table() -> str:
    rows = ["| limit | value | what |", "|---|---:|---|"]
    rows += [f"| `{lim.name}` | {lim.value:,} {lim.unit} | {lim.what} |" for lim in LIMITS]
    return "\n".join(rows)


def test_the_limits_table_in_the_docs_is_rendered_from_appcase_limits() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert table == render_table(), "regenerate docs/limits.md's table:\n" + render_table()


def test_the_readme_links_the_limits_and_documents_the_internal_error_code() -> None:
    readme = (DOC.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "docs/limits.md" in readme
    assert "**70**" in readme
