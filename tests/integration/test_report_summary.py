"""The summary report (总结) of the demo campaign, in Markdown, DOCX and JSON."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import docx
import pytest
from sqlalchemy import select

from appcase.adapters.render import render
from appcase.bootstrap import open_engine
from appcase.demo import run_demo
from appcase.persistence.models import EventRow, ReporterRow
from appcase.workflow import reports
from appcase.workflow.engine import CaseEngine
from appcase.workflow.reports import SummaryData, gather_summary, typical_rank
from tests.builders import SHANGHAI
from tests.dbcheck import orm

AS_OF = datetime(2018, 4, 5, 18, tzinfo=SHANGHAI)
HEADINGS_ZH = ["一、教育类移动应用程序基本情况", "二、存在问题", "三、典型案例",
               "四、专项整治具体做法", "五、主要成果", "六、意见建议"]  # fmt: skip


@pytest.fixture(scope="module")
def demo_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaseEngine]:
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    run_demo(path)
    engine = open_engine(f"sqlite:///{path}")
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def province(demo_engine: CaseEngine) -> SummaryData:
    return gather_summary(demo_engine, as_of=AS_OF, notes=["建议建立常态化巡查机制。"])


def test_markdown_has_the_six_parts_in_order(province: SummaryData) -> None:
    text = render(province, "md").decode("utf-8")
    positions = [text.index(f"## {h}") for h in HEADINGS_ZH]
    assert positions == sorted(positions)
    assert text.startswith("# 湖南省教育类移动应用程序专项整治工作总结")
    assert f"共{province.apps}个" in text
    assert "建议建立常态化巡查机制。" in text
    english = render(province, "md", "en").decode("utf-8")
    assert "## 6. Suggestions" in english
    assert "Hunan Province" in english


def test_docx_opens_with_the_six_parts(province: SummaryData) -> None:
    document = docx.Document(io.BytesIO(render(province, "docx")))
    paragraphs = [p.text for p in document.paragraphs]
    assert [h for h in HEADINGS_ZH if h in paragraphs] == HEADINGS_ZH
    assert document.tables  # the counts are tables


def test_json_carries_the_facts(province: SummaryData) -> None:
    data = json.loads(render(province, "json"))
    assert data["apps"] == 300
    assert data["rectification_rate"] == pytest.approx(
        data["rectified_cases"] / data["pledged_cases"]
    )
    assert sum(data["outcomes"].values()) == 300


def test_counts_agree_with_the_events(demo_engine: CaseEngine, province: SummaryData) -> None:
    with orm(demo_engine) as repo:
        events = list(repo.scalars(select(EventRow)))
    pledged = {e.case_id for e in events if e.event == "pledge"}
    rectified = {e.case_id for e in events if e.event == "rectify"}
    assert (province.pledged_cases, province.rectified_cases) == (len(pledged), len(rectified))
    overrides = [e for e in events if e.override]
    assert len(province.overrides) == len(overrides) > 0
    text = render(province, "md").decode("utf-8")
    for e in overrides:  # every override listed with its reason and authoriser
        assert e.case_id in text
        assert f"{e.override['reason']}；批准人 {e.override['authorised_by']}" in text


def test_typical_cases_follow_the_rule(province: SummaryData) -> None:
    chosen = province.typical
    assert len(chosen) == 5
    first = chosen[0]
    assert first.state == "taken_down" or first.judicial_state == "referred_to_judiciary"
    keys = [
        typical_rank(c.state, c.judicial_state, [f[1] for f in c.findings], c.case_id)
        for c in chosen
    ]
    assert keys == sorted(keys)
    assert typical_rank("taken_down", "not_referred", ["minor"], "B") < typical_rank(
        "escalated_for_takedown", "not_referred", ["severe"], "A"
    )


def test_a_prefecture_report_covers_only_its_cases(demo_engine: CaseEngine) -> None:
    data = gather_summary(demo_engine, prefecture="430100", as_of=AS_OF)
    assert data.apps == sum(data.outcomes.values()) == 70
    assert all(c.prefecture == "430100" for c in data.typical)
    assert "长沙市" in render(data, "md").decode("utf-8")


def test_reporters_never_appear(demo_engine: CaseEngine, province: SummaryData) -> None:
    with orm(demo_engine) as repo:
        reporters = list(repo.scalars(select(ReporterRow)))
    assert reporters
    outputs = [
        render(province, fmt, lang) for fmt in ("md", "json", "docx") for lang in ("zh", "en")
    ]  # type: ignore[arg-type]
    text = b"".join(outputs).decode("utf-8", "replace")
    text += "".join(p.text for p in docx.Document(io.BytesIO(outputs[4])).paragraphs)
    for r in reporters:
        assert r.name not in text
        assert r.contact not in text
        assert r.ref not in text


def test_docx_converts_to_pdf_with_libreoffice(province: SummaryData, tmp_path: Path) -> None:
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office is None:
        pytest.skip("LibreOffice (soffice) is not installed; apt-get install libreoffice-writer")
    source = tmp_path / "总结.docx"
    source.write_bytes(render(province, "docx"))
    subprocess.run(
        [office, f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless",
         "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    pdf = tmp_path / "总结.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    pdftotext = shutil.which("pdftotext")
    if pdftotext is not None:
        text = subprocess.run(
            [pdftotext, str(pdf), "-"], check=True, capture_output=True, text=True
        ).stdout
        assert "专项整治工作总结" in text.replace(" ", "")


@pytest.mark.parametrize("batch", [1, 7])
def test_the_report_read_in_small_batches_is_the_same_report(
    demo_engine: CaseEngine, province: SummaryData, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report adds its counts up a batch of cases at a time (its memory does not grow
    with the events of the campaign) and keeps its typical cases in a bounded heap: any
    batch size gives the same facts, typical cases and overrides in the same order."""
    monkeypatch.setattr(reports, "REPORT_BATCH", batch)
    again = gather_summary(demo_engine, as_of=AS_OF, notes=["建议建立常态化巡查机制。"])
    assert again == province
    assert len(again.typical) == 5
    every = gather_summary(demo_engine, as_of=AS_OF, typical=100_000).typical
    ranks = [
        typical_rank(t.state, t.judicial_state, [f[1] for f in t.findings], t.case_id)
        for t in every
    ]
    assert ranks == sorted(ranks)
    assert len(every) > 5
    for n in (0, 1, 2, 5, len(every) - 1):
        assert gather_summary(demo_engine, as_of=AS_OF, typical=n).typical == every[:n]
