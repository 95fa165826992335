"""Generate the demo ledger appcase/data/hunan-2018-ledger.csv.

The ledger lists about 300 FICTIONAL education apps found in Hunan's 14 prefectures, the
kind of table the 2018 campaign's survey phase (摸排巡查) produced. Every name, company,
unified social credit code and ICP filing number in it is made up:

* app names are assembled from parts, checked to be unique and to contain none of a list of
  well-known real product names;
* the credit codes have valid check characters but random organization-code parts;
* the ICP filing numbers have the right shape but random serials.

The output is deterministic: it depends only on this file and ``random.Random(2018)``, so
running the script twice gives byte-identical files.

Usage, from the repository root::

    python tools/make_demo_ledger.py [--output PATH]
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script without the package installed
    sys.path.insert(0, str(REPO_ROOT))

from appcase.states.identifiers import make_uscc  # noqa: E402

SEED = 2018
DEFAULT_OUTPUT = REPO_ROOT / "appcase" / "data" / "hunan-2018-ledger.csv"

HEADER = (
    "app_name",
    "operator",
    "uscc",
    "icp_filing",
    "platforms",
    "target_users",
    "used_by_schools",
    "prefecture",
)


@dataclass(frozen=True)
class Prefecture:
    """A prefecture of Hunan: GB/T 2260 code, name, short name used in company names."""

    code: str
    name: str
    short: str
    apps: int


# App counts: most operators sit in the capital, few in the small mountain prefectures.
PREFECTURES = (
    Prefecture("430100", "长沙市", "长沙", 70),
    Prefecture("430200", "株洲市", "株洲", 22),
    Prefecture("430300", "湘潭市", "湘潭", 18),
    Prefecture("430400", "衡阳市", "衡阳", 28),
    Prefecture("430500", "邵阳市", "邵阳", 22),
    Prefecture("430600", "岳阳市", "岳阳", 24),
    Prefecture("430700", "常德市", "常德", 22),
    Prefecture("430800", "张家界市", "张家界", 8),
    Prefecture("430900", "益阳市", "益阳", 16),
    Prefecture("431000", "郴州市", "郴州", 18),
    Prefecture("431100", "永州市", "永州", 18),
    Prefecture("431200", "怀化市", "怀化", 16),
    Prefecture("431300", "娄底市", "娄底", 12),
    Prefecture("433100", "湘西土家族苗族自治州", "湘西", 6),
)

PLATFORMS = (
    "华为应用市场",
    "小米应用商店",
    "OPPO软件商店",
    "vivo应用商店",
    "应用宝",
    "App Store",
    "百度手机助手",
    "360手机助手",
)
# Chance that an app is listed on each platform, in the order above.
PLATFORM_ODDS = (0.6, 0.45, 0.4, 0.4, 0.65, 0.55, 0.25, 0.2)

TARGET_USERS = ("小学生", "初中生", "高中生", "中小学生", "学前儿童", "家长和学生")
TARGET_WEIGHTS = (30, 20, 12, 22, 8, 8)

USED_BY_SCHOOLS_RATE = 0.35

# How many apps one operator runs: mostly one, sometimes two or three.
APPS_PER_OPERATOR = (1, 2, 3)
APPS_PER_OPERATOR_WEIGHTS = (60, 28, 12)

# App name parts: prefix + subject + suffix, e.g. 湘学 + 口算 + 宝.
NAME_PREFIXES = (
    "湘学", "星禾", "青橙", "麓学", "晨读", "橘洲", "云帆", "小橡", "智果", "乐学",
    "优课", "书香", "芙蓉", "启明", "知行", "萌芽", "彩虹", "蓝鲸", "竹韵", "满分",
)  # fmt: skip
NAME_SUBJECTS = (
    "口算", "作业", "听写", "错题", "英语", "阅读", "练字", "古诗", "奥数", "单词",
    "拼音", "物理", "化学", "作文", "数学", "识字", "背诵", "编程",
)  # fmt: skip
NAME_SUFFIXES = (
    "宝", "通", "助手", "乐园", "课堂", "星球", "小站", "达人", "精练", "天天练",
)  # fmt: skip

# Substrings of well-known real products (and their makers) that no generated name may
# contain, so that the fictional ledger never names a real app.
REAL_NAME_FRAGMENTS = (
    "作业帮", "小猿", "猿题库", "猿辅导", "学而思", "一起作业", "一起学", "作业盒子", "洋葱",
    "百词斩", "扇贝", "纳米盒", "快对", "作业精灵", "掌门", "火花思维", "斑马", "叫叫",
    "有道", "学霸君", "阿凡题", "口袋老师", "乐教乐学", "翼课", "智学网", "好分数", "七天",
    "晓黑板", "钉钉", "凯叔", "宝宝巴士", "洪恩", "讯飞", "星火", "作业大师", "口算大师",
)  # fmt: skip

# Operator trade names (字号): two characters, one from each list, each used by one operator only.
TRADE_FIRST = (
    "禾", "启", "博", "知", "慧", "嘉", "睿", "鸿", "新", "华",
    "卓", "青", "锦", "天", "立", "众", "恒", "墨", "沐", "朗",
)  # fmt: skip
TRADE_SECOND = (
    "丰", "航", "源", "思", "言", "达", "图", "蕾", "章", "远",
    "云", "程", "衡", "智", "香", "阳", "润", "毅", "才", "邦",
)  # fmt: skip
COMPANY_KINDS = ("教育科技有限公司", "网络科技有限公司", "信息技术有限公司", "文化传播有限公司")
COMPANY_KIND_WEIGHTS = (60, 20, 15, 5)


def _app_name(rng: random.Random, taken: set[str]) -> str:
    while True:
        name = rng.choice(NAME_PREFIXES) + rng.choice(NAME_SUBJECTS) + rng.choice(NAME_SUFFIXES)
        if name not in taken and not any(part in name for part in REAL_NAME_FRAGMENTS):
            taken.add(name)
            return name


def _operator_name(rng: random.Random, prefecture: Prefecture, taken: set[str]) -> str:
    while True:
        trade_name = rng.choice(TRADE_FIRST) + rng.choice(TRADE_SECOND)
        if trade_name not in taken and trade_name[0] != trade_name[1]:
            taken.add(trade_name)
            kind = rng.choices(COMPANY_KINDS, COMPANY_KIND_WEIGHTS)[0]
            return prefecture.short + trade_name + kind


def _icp_main_number(rng: random.Random, taken: set[str]) -> str:
    while True:
        number = f"湘ICP备18{rng.randrange(1, 1_000_000):06d}号"
        if number not in taken:
            taken.add(number)
            return number


def _platforms(rng: random.Random) -> str:
    chosen = [p for p, odds in zip(PLATFORMS, PLATFORM_ODDS, strict=True) if rng.random() < odds]
    if not chosen:
        chosen = [rng.choice(PLATFORMS)]
    return ";".join(chosen)


def generate_rows(rng: random.Random) -> list[tuple[str, ...]]:
    """Generate the ledger rows, in prefecture order, an operator's apps together.

    Args:
        rng: The random source; the rows depend only on its state.

    Returns:
        One tuple per app, with the fields of :data:`HEADER` in order.
    """
    rows: list[tuple[str, ...]] = []
    app_names: set[str] = set()
    trade_names: set[str] = set()
    usccs: set[str] = set()
    icp_numbers: set[str] = set()
    for prefecture in PREFECTURES:
        remaining = prefecture.apps
        while remaining > 0:
            count = min(remaining, rng.choices(APPS_PER_OPERATOR, APPS_PER_OPERATOR_WEIGHTS)[0])
            remaining -= count
            operator = _operator_name(rng, prefecture, trade_names)
            uscc = make_uscc(rng, prefecture.code)
            while uscc in usccs:  # vanishingly unlikely, but keep codes one per operator
                uscc = make_uscc(rng, prefecture.code)
            usccs.add(uscc)
            icp_main = _icp_main_number(rng, icp_numbers)
            # A one-app operator's number is written with or without "-1"; several apps of
            # one operator share the main number and are told apart by -1, -2, -3.
            bare = count == 1 and rng.random() < 0.5
            for index in range(1, count + 1):
                rows.append(
                    (
                        _app_name(rng, app_names),
                        operator,
                        uscc,
                        icp_main if bare else f"{icp_main}-{index}",
                        _platforms(rng),
                        rng.choices(TARGET_USERS, TARGET_WEIGHTS)[0],
                        "true" if rng.random() < USED_BY_SCHOOLS_RATE else "false",
                        prefecture.code,
                    )
                )
    return rows


def render_csv(rows: list[tuple[str, ...]]) -> bytes:
    """Render rows as UTF-8 CSV (no BOM, LF line endings) under :data:`HEADER`.

    Args:
        rows: The rows, each with the fields of :data:`HEADER` in order.

    Returns:
        The file's bytes.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def main(output: Path | str = DEFAULT_OUTPUT) -> Path:
    """Generate the ledger from ``random.Random(2018)`` and write it.

    Args:
        output: Where to write the CSV; defaults to ``appcase/data/hunan-2018-ledger.csv``.

    Returns:
        The path written.
    """
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_csv(generate_rows(random.Random(SEED))))
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="CSV path to write")
    written = main(parser.parse_args().output)
    print(f"wrote {written}")
