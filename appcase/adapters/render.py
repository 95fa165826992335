"""Wording and rendering the summary report: Markdown, DOCX (Word) and JSON.

The report has the six parts 三(三) asks for, in its order: 一、基本情况 (basic situation of
education apps), 二、存在问题 (problems found), 三、典型案例 (typical cases), 四、主要做法
(measures taken), 五、主要成果 (main results), 六、意见建议 (suggestions). Chinese by default;
``lang="en"`` gives English. The suggestions are observations computed from the facts
(:func:`observations`), followed by the officer's own text.

The DOCX is built with python-docx in the layout of a Chinese official document
(GB/T 9704-2012 margins, 宋体 body, 黑体 headings, A4) and opens in Word and LibreOffice.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any, Literal

from appcase.workflow.reports import SummaryData, TypicalCase

__all__ = ["Lang", "observations", "render", "render_docx", "render_json", "render_markdown"]

Lang = Literal["zh", "en"]

_L: dict[str, dict[str, str]] = {
    "title": {
        "zh": "{scope}教育类移动应用程序专项整治工作总结",
        "en": "{scope}: summary of the campaign against harmful education apps",
    },
    "meta": {
        "zh": "依据{doc}《{title}》三(三)，截至{as_of}，报送省互联网信息办公室网络管理与执法处（{deadline}前）。",
        "en": "Under {doc} ({title}), section 3(3); facts as of {as_of}; due to the provincial office by {deadline}.",
    },
    "s1": {"zh": "一、教育类移动应用程序基本情况", "en": "1. Education apps: the basic situation"},
    "s2": {"zh": "二、存在问题", "en": "2. Problems found"},
    "s3": {"zh": "三、典型案例", "en": "3. Typical cases"},
    "s4": {"zh": "四、专项整治具体做法", "en": "4. Measures taken"},
    "s5": {"zh": "五、主要成果", "en": "5. Main results"},
    "s6": {"zh": "六、意见建议", "en": "6. Suggestions"},
    "basic": {
        "zh": "纳入管理台账的教育类移动应用程序共{apps}个，其中与学校合作或在学校使用的{schools}个。",
        "en": "The ledger lists {apps} education apps; {schools} of them are used by or cooperate with schools.",
    },
    "by_prefecture": {"zh": "各市州台账数量", "en": "Apps by prefecture"},
    "by_platform": {"zh": "分发平台", "en": "Distribution platforms"},
    "by_target": {"zh": "目标用户", "en": "Target users"},
    "count": {"zh": "数量", "en": "count"},
    "problems": {
        "zh": "巡查和举报共发现{flagged}个应用存在问题，取证{evidence}条（{sources}）。",
        "en": "Patrols and reports found problems in {flagged} apps: {evidence} evidence items ({sources}).",
    },
    "category": {"zh": "问题类别", "en": "harm category"},
    "evidence": {"zh": "证据", "en": "evidence"},
    "apps": {"zh": "涉及应用", "en": "apps"},
    "minor": {"zh": "轻微", "en": "minor"},
    "serious": {"zh": "严重", "en": "serious"},
    "severe": {"zh": "特别严重", "en": "severe"},
    "illegal": {"zh": "涉嫌违法", "en": "suspected illegal"},
    "typical_rule": {
        "zh": (
            "选取规则：已下架关停或移送司法的案例优先，其次为已提请下架的案例，再按研判认定的最严重程度和问题数量排序。"
        ),
        "en": (
            "Chosen by rule: cases taken down or referred to the judiciary first, then "
            "cases escalated for takedown, then by the most severe finding and the "
            "number of findings."
        ),
    },
    "no_typical": {
        "zh": "本地区暂无研判认定存在问题的案例。",
        "en": "No case was judged to have problems.",
    },
    "found": {"zh": "发现问题", "en": "Found"},
    "done": {"zh": "处置情况", "en": "Done"},
    "operator": {"zh": "运营方", "en": "operator"},
    "measures": {
        "zh": (
            "集中约谈运营方{interviews}次，签订整改承诺书{pledges}份，复查整改{verifications}次；"
            "研判无违规销号{dismissals}件；向省网信办提出下架、关停建议{escalations}件（"
            "{grounds}）；省网信办决定下架、关停{takedowns}件，退回限期整改{returns}件；"
            "移送司法部门{referrals}件。"
        ),
        "en": (
            "{interviews} interviews of operators, {pledges} rectification pledges "
            "signed, {verifications} rectification checks; {dismissals} cases closed "
            "as no violation; {escalations} takedown proposals to the province ({grounds});"
            " {takedowns} takedowns decided, {returns} cases returned for rectification;"
            " {referrals} referrals to the judiciary."
        ),
    },
    "overrides": {
        "zh": "逾期办理特批{n}件（均记录理由和批准人）：",
        "en": "{n} overrides (acts after a window closed), each with its reason and authoriser:",
    },
    "no_overrides": {"zh": "无逾期办理特批。", "en": "No overrides."},
    "override_row": {
        "zh": "{case}（{event}，{on}）：{reason}；批准人 {by}",
        "en": "{case} ({event}, {on}): {reason}; authorised by {by}",
    },
    "results": {
        "zh": (
            "整改率（整改到位/签订承诺书）为{rate}（{rectified}/{pledged}）；逾期未整改{overdue}件（"
            "其中已提请下架{overdue_escalated}件）。"
        ),
        "en": (
            "Rectification rate (rectified / pledged): {rate} ({rectified}/{pledged});"
            " {overdue} rectifications overdue ({overdue_escalated} escalated for takedown)."
        ),
    },
    "outcome": {"zh": "案件状态", "en": "outcome"},
    "cases": {"zh": "案件数", "en": "cases"},
    "none": {"zh": "无", "en": "none"},
    "notes": {"zh": "工作人员意见：", "en": "The officer's notes:"},
}

_STATE: dict[str, dict[str, str]] = {
    "surveyed": {"zh": "已摸排建档", "en": "surveyed"},
    "flagged": {"zh": "已取证待研判", "en": "flagged"},
    "judged": {"zh": "已研判", "en": "judged"},
    "interviewed": {"zh": "已约谈", "en": "interviewed"},
    "pledged": {"zh": "已签订整改承诺书", "en": "pledged"},
    "rectified": {"zh": "整改到位", "en": "rectified"},
    "escalated_for_takedown": {"zh": "已提请下架关停", "en": "escalated for takedown"},
    "taken_down": {"zh": "已下架关停", "en": "taken down"},
}
_EVENT: dict[str, dict[str, str]] = {
    "flag": {"zh": "取证", "en": "flagged"},
    "add_evidence": {"zh": "补充取证", "en": "evidence added"},
    "judge": {"zh": "研判", "en": "judged"},
    "dismiss": {"zh": "无违规销号", "en": "dismissed"},
    "interview": {"zh": "约谈并责令限期整改", "en": "interviewed, deadline set"},
    "pledge": {"zh": "签订整改承诺书，期限", "en": "pledge signed, deadline"},
    "rectify": {"zh": "复查整改到位", "en": "rectification verified"},
    "escalate": {"zh": "提请下架关停", "en": "escalated for takedown"},
    "take_down": {"zh": "省网信办决定下架关停", "en": "taken down by the province"},
    "return_for_rectification": {"zh": "退回限期整改", "en": "returned for rectification"},
    "refer": {"zh": "移送司法部门", "en": "referred to the judiciary"},
}
_CODE: dict[str, dict[str, str]] = {
    "patrol": {"zh": "巡查", "en": "patrol"},
    "hotline": {"zh": "群众举报", "en": "hotline"},
    "school": {"zh": "学校反映", "en": "schools"},
    "media": {"zh": "媒体", "en": "media"},
    "other": {"zh": "其他", "en": "other"},
    "takedown_disposition": {"zh": "研判建议下架", "en": "judged for takedown"},
    "pledge_refused": {"zh": "拒签承诺书", "en": "pledge refused"},
    "rectification_failed": {"zh": "整改不到位", "en": "rectification failed"},
    "rectification_overdue": {"zh": "逾期未整改", "en": "rectification overdue"},
    "no_violation": {"zh": "无违规", "en": "no violation"},
    "interview_rectify": {"zh": "约谈整改", "en": "interview and rectify"},
    "takedown": {"zh": "下架", "en": "takedown"},
    "service_shutdown": {"zh": "关停服务", "en": "service shutdown"},
    "takedown_and_shutdown": {"zh": "下架并关停服务", "en": "takedown and shutdown"},
    "phase_window": {"zh": "阶段时限", "en": "phase window"},
    "disposition_minimum": {"zh": "处置下限", "en": "disposition minimum"},
}


def _t(key: str, lang: Lang, **kw: object) -> str:
    return _L[key][lang].format(**kw)


def _code(value: str, lang: Lang) -> str:
    return _CODE.get(value, {}).get(lang, value)


def _sep(lang: Lang) -> str:
    return "、" if lang == "zh" else ", "


def _pct(value: float | None, lang: Lang) -> str:
    return _t("none", lang) if value is None else f"{value:.1%}"


def observations(d: SummaryData, lang: Lang = "zh") -> list[str]:
    """Suggestions computed from the facts (意见建议): what stands out, and what to do.

    Each is a rule on the numbers (configurable defaults): the leading harm category; the
    share of evidence from the public hotline; overdue rectifications; cases awaiting
    judgment or action; apps used by schools among those judged to violate; and, for the
    province, the prefecture with the lowest rectification rate.

    Args:
        d: the facts.
        lang: ``zh`` or ``en``.

    Returns:
        One sentence per observation that applies.
    """
    zh = lang == "zh"
    out: list[str] = []
    cats = sorted(d.categories, key=lambda c: (-c.evidence, c.category))
    total = sum(c.evidence for c in d.categories)
    if cats and cats[0].evidence:
        c = cats[0]
        share = c.evidence / total
        out.append(
            f"{c.name_zh}类问题最为突出（占证据的{share:.0%}），建议作为日常巡查监看的重点。"
            if zh
            else f"{c.name} is the leading problem ({share:.0%} of the evidence); make it a "
            "focus of daily patrols."
        )
    hotline = d.evidence_by_source.get("hotline", 0)
    if total:
        share = hotline / total
        out.append(
            f"群众举报提供了{share:.0%}的证据，建议继续丰富举报渠道、广泛发动网民举报。"
            if zh
            else f"The public hotline gave {share:.0%} of the evidence; keep widening the "
            "reporting channels."
        )
    overdue = d.overdue_escalated + d.overdue_open
    if overdue:
        out.append(
            f"{overdue}件未在期限内完成整改，建议对整改承诺加强跟踪督办，对逾期未整改的依规提请下架。"
            if zh
            else f"{overdue} rectifications missed their deadline; follow pledges up more "
            "closely and escalate those overdue."
        )
    if d.awaiting_judgment or d.awaiting_action:
        out.append(
            f"尚有{d.awaiting_judgment}件已取证待研判、{d.awaiting_action}件已研判待处置，建议尽快办结。"
            if zh
            else f"{d.awaiting_judgment} flagged cases await judgment and {d.awaiting_action} "
            "judged cases await action; close them."
        )
    if d.school_apps_with_findings:
        out.append(
            f"研判存在问题的应用中有{d.school_apps_with_findings}个在学校使用，建议教育行政部门督促学校审慎选用教育类应用。"
            if zh
            else f"{d.school_apps_with_findings} apps judged to violate are used by schools; "
            "the education bureaus should have schools review the apps they use."
        )
    rated = [(code, p, r) for code, (p, r) in d.prefecture_rates.items() if p]
    if d.province and rated:
        code, p, r = min(rated, key=lambda x: (x[2] / x[1], x[0]))
        code = d.prefecture_names.get(code, code)
        out.append(
            f"{code}整改率最低（{r}/{p}），建议省级加强督导。"
            if zh
            else f"{code} has the lowest rectification rate ({r}/{p}); the province should "
            "supervise it more closely."
        )
    return out


def _counts_table(rows: dict[str, int], head: str, lang: Lang) -> tuple[list[str], list[list[str]]]:
    return [head, _t("count", lang)], [[_code(k, lang), str(v)] for k, v in rows.items()]


def _typical_lines(case: TypicalCase, cats: dict[str, str], lang: Lang) -> tuple[str, str, str]:
    head = (
        f"{case.app}（{_t('operator', lang)}：{case.operator}；{case.prefecture_name}；{case.case_id}）"
        if lang == "zh"
        else f"{case.app} ({_t('operator', lang)}: {case.operator}; {case.prefecture_name}; "
        f"{case.case_id})"
    )
    found = _sep(lang).join(
        f"{cats.get(c, c)}（{_t(sev, lang)}{'，' + _t('illegal', lang) if ill else ''}）"
        if lang == "zh"
        else f"{cats.get(c, c)} ({_t(sev, lang)}{', ' + _t('illegal', lang) if ill else ''})"
        for c, sev, ill in case.findings
    )
    if case.evidence:
        found += ("；" if lang == "zh" else "; ") + _sep(lang).join(case.evidence)
    steps = []
    for s in case.steps:
        label = _EVENT.get(s.event, {}).get(lang, s.event)
        detail = (
            _sep(lang).join(_code(x, lang) for x in s.detail.split(", ") if x)
            if s.event in ("flag", "add_evidence")
            else " ".join(_code(x, lang) for x in s.detail.split(" ") if x)
        )
        steps.append(f"{s.on.isoformat()} {label}" + (f" {detail}" if detail else ""))
    return head, found or "-", ("；" if lang == "zh" else "; ").join(steps) or "-"


def _sections(
    d: SummaryData, lang: Lang
) -> list[tuple[str, list[str | tuple[list[str], list[list[str]]]]]]:
    """The report as (heading, blocks); a block is a paragraph or a (header, rows) table."""
    zone_date = d.as_of.date().isoformat()
    cats = {c.category: (c.name_zh if lang == "zh" else c.name) for c in d.categories}
    s1: list[str | tuple[list[str], list[list[str]]]] = [
        _t("basic", lang, apps=d.apps, schools=d.used_by_schools)
    ]
    if d.province:
        named = {d.prefecture_names.get(k, k): v for k, v in d.by_prefecture.items()}
        s1.append(_counts_table(named, _t("by_prefecture", lang), lang))
    s1.append(_counts_table(d.by_platform, _t("by_platform", lang), lang))
    s1.append(_counts_table(d.by_target_users, _t("by_target", lang), lang))
    sources = _sep(lang).join(f"{_code(k, lang)} {v}" for k, v in d.evidence_by_source.items())
    s2: list[str | tuple[list[str], list[list[str]]]] = [
        _t(
            "problems",
            lang,
            flagged=d.flagged_cases,
            evidence=sum(d.evidence_by_source.values()),
            sources=sources or "-",
        ),
        (
            [
                _t("category", lang),
                _t("evidence", lang),
                _t("apps", lang),
                _t("minor", lang),
                _t("serious", lang),
                _t("severe", lang),
                _t("illegal", lang),
            ],
            [
                [
                    cats[c.category],
                    str(c.evidence),
                    str(c.cases),
                    str(c.findings.get("minor", 0)),
                    str(c.findings.get("serious", 0)),
                    str(c.findings.get("severe", 0)),
                    str(c.suspected_illegal),
                ]
                for c in d.categories
            ],
        ),
    ]
    s3: list[str | tuple[list[str], list[list[str]]]] = [_t("typical_rule", lang)]
    if not d.typical:
        s3.append(_t("no_typical", lang))
    for i, case in enumerate(d.typical, 1):
        head, found, done = _typical_lines(case, cats, lang)
        s3.append(f"{'（' + _CN_NUM[i] + '）' if lang == 'zh' else f'({i}) '}{head}")
        s3.append(f"{_t('found', lang)}{'：' if lang == 'zh' else ': '}{found}")
        s3.append(f"{_t('done', lang)}{'：' if lang == 'zh' else ': '}{done}")
    grounds = _sep(lang).join(f"{_code(k, lang)} {v}" for k, v in d.escalations.items())
    s4: list[str | tuple[list[str], list[list[str]]]] = [
        _t(
            "measures",
            lang,
            interviews=d.interviews,
            pledges=d.pledges,
            verifications=d.verifications,
            dismissals=d.dismissals,
            escalations=sum(d.escalations.values()),
            grounds=grounds or _t("none", lang),
            takedowns=sum(d.takedowns.values()),
            returns=d.returns,
            referrals=d.referrals,
        )
    ]
    if d.overrides:
        s4.append(_t("overrides", lang, n=len(d.overrides)))
        for o in d.overrides:
            s4.append(
                _t(
                    "override_row",
                    lang,
                    case=o.case_id,
                    event=_EVENT.get(o.event, {}).get(lang, o.event),
                    on=o.occurred_at.date().isoformat(),
                    reason=o.reason,
                    by=o.authorised_by,
                )
            )
    else:
        s4.append(_t("no_overrides", lang))
    s5: list[str | tuple[list[str], list[list[str]]]] = [
        (
            [_t("outcome", lang), _t("cases", lang)],
            [[_STATE.get(k, {}).get(lang, k), str(v)] for k, v in d.outcomes.items()]
            + [[_EVENT["refer"][lang], str(d.referrals)]],
        ),
        _t(
            "results",
            lang,
            rate=_pct(d.rectification_rate, lang),
            rectified=d.rectified_cases,
            pledged=d.pledged_cases,
            overdue=d.overdue_escalated + d.overdue_open,
            overdue_escalated=d.overdue_escalated,
        ),
    ]
    s6: list[str | tuple[list[str], list[list[str]]]] = [
        f"{i}. {text}" for i, text in enumerate(observations(d, lang), 1)
    ]
    if d.notes:
        s6.append(_t("notes", lang))
        s6.extend(d.notes)
    del zone_date
    return [
        (_t("s1", lang), s1),
        (_t("s2", lang), s2),
        (_t("s3", lang), s3),
        (_t("s4", lang), s4),
        (_t("s5", lang), s5),
        (_t("s6", lang), s6),
    ]


_CN_NUM = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十"] + [
    str(n) for n in range(11, 100)
]


def _title(d: SummaryData, lang: Lang) -> tuple[str, str]:
    scope = d.scope_name_zh if lang == "zh" else d.scope_name
    title = _t("title", lang, scope=scope)
    meta = _t(
        "meta",
        lang,
        doc=d.document_number,
        title=d.title_zh,
        as_of=d.as_of.isoformat(timespec="minutes"),
        deadline=d.deadline.isoformat(),
    )
    return title, meta


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(d: SummaryData, lang: Lang = "zh") -> str:
    """The report as Markdown (GitHub-flavoured tables).

    Args:
        d: the facts; lang: ``zh`` (default) or ``en``.
    """
    title, meta = _title(d, lang)
    lines = [f"# {title}", "", meta, ""]
    for heading, blocks in _sections(d, lang):
        lines += [f"## {heading}", ""]
        for block in blocks:
            if isinstance(block, str):
                lines += [block, ""]
                continue
            head, rows = block
            lines.append("| " + " | ".join(_md_cell(h) for h in head) + " |")
            lines.append("|" + "|".join("---" for _ in head) + "|")
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_json(d: SummaryData) -> str:
    """The facts as JSON (stable field names; instants in ISO 8601 with offset)."""
    return (
        json.dumps(d.model_dump(mode="json"), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    )


def _set_font(run_or_style: Any, latin: str, east_asian: str) -> None:
    from docx.oxml.ns import qn

    font = run_or_style.font
    font.name = latin
    element = run_or_style.element
    rpr = element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), east_asian)


def render_docx(d: SummaryData, lang: Lang = "zh") -> bytes:
    """The report as a Word document (.docx bytes).

    Layout: A4, GB/T 9704-2012 margins (top 37 mm, bottom 35 mm, left 28 mm, right 26 mm),
    body 宋体 (SimSun) 12 pt, headings 黑体 (SimHei), the title centred; tables with grid
    lines. Viewers without those fonts substitute their own CJK fonts.

    Args:
        d: the facts; lang: ``zh`` (default) or ``en``.
    """
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm, Pt

    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    normal = doc.styles["Normal"]
    _set_font(normal, "SimSun", "宋体")
    normal.font.size = Pt(12)
    for name in ("Title", "Heading 1", "Heading 2"):
        style = doc.styles[name]
        _set_font(style, "SimHei", "黑体")
        style.font.color.rgb = None
    title, meta = _title(d, lang)
    heading = doc.add_heading(title, level=0)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.styles["Title"].font.size = Pt(20)
    doc.add_paragraph(meta)
    for text, blocks in _sections(d, lang):
        doc.add_heading(text, level=1)
        for block in blocks:
            if isinstance(block, str):
                doc.add_paragraph(block)
                continue
            head, rows = block
            table = doc.add_table(rows=1, cols=len(head))
            table.style = "Table Grid"
            for cell, value in zip(table.rows[0].cells, head, strict=True):
                cell.text = value
                for run in cell.paragraphs[0].runs:
                    run.bold = True
            for row in rows:
                cells = table.add_row().cells
                for cell, value in zip(cells, row, strict=True):
                    cell.text = value
            doc.add_paragraph()
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def render(d: SummaryData, fmt: Literal["md", "docx", "json"], lang: Lang = "zh") -> bytes:
    """The report in ``fmt`` as bytes (UTF-8 for ``md`` and ``json``).

    Raises:
        ValueError: an unknown format.
    """
    renderers: dict[str, Callable[[], bytes]] = {
        "md": lambda: render_markdown(d, lang).encode("utf-8"),
        "json": lambda: render_json(d).encode("utf-8"),
        "docx": lambda: render_docx(d, lang),
    }
    if fmt not in renderers:
        raise ValueError(f"unknown report format {fmt!r}; use md, docx or json")
    return renderers[fmt]()
