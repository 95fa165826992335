"""A test file as a policy analyst would write it: it imports appcase and appcase.testing
only, writes a campaign file of its own and property-tests it (see docs/policy-testing.md)."""

import appcase
import appcase.testing

CAMPAIGN = """
id = "lakeside-2026"
case_prefix = "LS2026"
title = "Lakeside campaign against harmful education apps, 2026 (fictional)"
title_zh = "湖畔省教育类应用专项整治（虚构）"
issuers = ["湖畔省网信办"]
document_number = "湖网信〔2026〕1号"
issued_on = 2026-03-02
timezone = "Asia/Shanghai"
province = { code = "980000", name_zh = "湖畔省", name = "Lakeside" }
prefectures = [
  { code = "980100", name_zh = "湖城市", name = "Hucheng" },
  { code = "980200", name_zh = "畔山市", name = "Panshan" },
]
phases = [
  { id = "survey", name = "Survey", name_zh = "摸排", start = 2026-03-02, deadline = 2026-03-31 },
  { id = "judgment", name = "Judgment", name_zh = "研判", start = 2026-03-02, deadline = 2026-04-30 },
  { id = "summary", name = "Summary", name_zh = "总结", start = 2026-05-01, deadline = 2026-05-15 },
]
harm_categories = [
  { id = "vulgar", name_zh = "低俗", name = "Vulgar" },
  { id = "other", name_zh = "其他", name = "Other" },
]

[windows]
survey = ["survey"]
flag = ["survey"]
add_evidence = ["survey"]
judge = ["judgment"]
dismiss = ["judgment"]
interview = ["judgment"]
pledge = ["judgment"]
rectify = ["judgment"]
escalate = ["judgment", "summary"]
take_down = ["judgment", "summary"]
return_for_rectification = ["judgment", "summary"]
refer = ["judgment", "summary"]

[[roles]]
id = "officer"
name_zh = "市网信办"
name = "Prefecture office"
scope = "prefecture"
events = ["survey", "flag", "add_evidence", "judge", "dismiss", "interview", "pledge",
          "rectify", "escalate", "refer"]
may_override = true

[[roles]]
id = "province"
name_zh = "省网信办"
name = "Provincial office"
scope = "province"
events = ["take_down", "return_for_rectification", "refer"]

[policy]
version = "lakeside-2026/1"
disposition = { takedown_severity = "serious", takedown_serious_count = 2 }
"""


def load(tmp_path):
    path = tmp_path / "lakeside-2026.toml"
    path.write_text(CAMPAIGN, encoding="utf-8")
    return appcase.load_campaign(path)


def test_every_property_of_appcase_holds(tmp_path):
    campaign = load(tmp_path)
    for result in appcase.testing.check_campaign(campaign, examples=60, seed=1):
        assert result.holds, result.report()


def test_my_own_property_a_suspected_crime_is_always_referred(tmp_path):
    campaign = load(tmp_path)

    def referred(findings):
        answer = appcase.testing.explain(campaign, findings)
        if any(f.suspected_illegal for f in findings) and not answer.refer:
            return f"{findings} not referred"
        return None

    result = appcase.testing.for_all(
        "crimes_referred",
        appcase.testing.finding_lists(campaign),
        referred,
        examples=100,
        seed=1,
    )
    assert result.holds, result.report()
    assert result.examples == 100


def test_a_serious_finding_means_takedown_in_my_campaign(tmp_path):
    campaign = load(tmp_path)

    def takedown(findings):
        answer = appcase.testing.explain(campaign, findings)
        worst = max((appcase.testing.severity_rank(f.severity) for f in findings), default=-1)
        if worst >= 1 and answer.minimum is not appcase.Disposition.TAKEDOWN:
            return f"{findings} gave {answer.minimum}"
        return None

    result = appcase.testing.for_all(
        "serious_means_takedown", appcase.testing.finding_lists(campaign), takedown, seed=3
    )
    assert result.holds, result.report()
