"""Wrong options that are really wrong: amounts of the same unit, terms of the same family, and a check against the
cited article and the rest of the knowledge base that a distractor does not also make a true statement."""
from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

from kb.grammar import cn_to_int, int_to_cn
from kb.retrieve import Searcher
from kb.text import canonical

_NUMERAL = r"[零〇一二三四五六七八九十百千万两\d]+"
_UNITS = ("个工作日", "个月", "工作日", "小时", "年", "月", "日", "天", "周", "次", "人", "名", "届", "岁")
# A numeral with a unit of time or count, e.g. 三个月, 一年, 1次, 五分之四; not an ordinal (第十条) or a year (2019年).
NUMBER = re.compile(
    r"(?<![第\d零〇一二三四五六七八九十百千万两统唯同逐之单专划整某其合齐归如不])"
    rf"(?:(?P<frac>过半数|半数|[一二三四五六七八九十]分之[一二三四五六七八九十]+)|(?P<num>{_NUMERAL})(?P<unit>{'|'.join(_UNITS)}))"
    r"(?![\d零〇一二三四五六七八九十百千万两性民大员才事口物类士身生心格义称单额常益下边期级轻])")
FRACTIONS = ("过半数", "半数", "三分之一", "三分之二", "四分之一", "四分之三", "五分之四")
_LIANG_UNITS = {"个工作日", "个月", "工作日", "小时", "年", "天", "周", "次", "人", "名", "届"}
# Same-category terms: bodies, meetings, member stages, sanctions, disciplines. Near-synonyms (党支部 and
# 基层党组织) are in one family but are rejected as distractors by ``TruthCheck`` when the KB says both.
TERM_FAMILIES = tuple(tuple(line.split()) for line in """
党支部 党总支 党小组 党组 党委 纪委 基层党组织 支部委员会 机关党委 纪律检查委员会 中央委员会 上级党组织 支部党员大会
民主生活会 组织生活会 三会一课 主题党日 谈心谈话 民主评议党员 党小组会 党员大会 支部委员会会议
预备党员 正式党员 发展对象 入党积极分子 入党申请人 入党介绍人 党员领导干部 流动党员 培养联系人
警告 严重警告 撤销党内职务 留党察看 开除党籍
政治纪律 组织纪律 廉洁纪律 群众纪律 工作纪律 生活纪律
形式主义 官僚主义 享乐主义 奢靡之风
主体责任 监督责任 领导责任 第一责任人 直接责任人
入党申请书 入党志愿书 思想汇报 转正申请
无记名投票 举手表决 差额选举 等额选举
公务接待 公务用车 因公出国 会议活动 办公用房
""".strip().splitlines())
# Duty words and the wrong duties they are tested against (应当 and 必须 are synonyms, never each other's distractor).
DUTIES = {"应当": ("可以", "不得", "不宜"), "必须": ("可以", "不得", "不宜"), "不得": ("可以", "应当", "一般")}


def _spell(value: int, unit: str, arabic: bool) -> str:
    if arabic:
        return f"{value}{unit}"
    # Documents write 两年、两个月, not 二年.
    digits = "两" if value == 2 and unit in _LIANG_UNITS else int_to_cn(value)
    return digits + unit


def number_distractors(answer: str, rng: random.Random) -> tuple[str, ...]:
    """Return other amounts of the same unit as ``answer`` (``三个月`` → ``两个月``, ``六个月``…), nearest first."""
    if answer in FRACTIONS:
        pool = [f for f in FRACTIONS if f != answer and f not in answer and answer not in f]
        rng.shuffle(pool)
        return tuple(pool[:4])
    m = NUMBER.fullmatch(answer)
    if not m or not m.group("num"):
        return ()
    try:
        value = cn_to_int(m.group("num"))
    except ValueError:
        return ()
    unit, arabic = m.group("unit"), m.group("num").isdecimal()
    # Small amounts vary by one or two (一年/两年/三年); larger ones by round steps (十五日/十日/二十日).
    if value < 10:
        near = {value + 1, value + 2, value - 1, value * 2, value * 3, value // 2, value + 3, value + 5}
    else:
        near = {value + 5, value - 5, value * 2, value // 2, value + 10, value - 10}
    choices = sorted(v for v in near if v > 0 and v != value)
    choices.sort(key=lambda v: (abs(math.log(v / value)), rng.random()))
    out: list[str] = []
    for v in choices:
        text = _spell(v, unit, arabic)
        if text != answer and text not in out:
            out.append(text)
    return tuple(out[:5])


def family_of(term: str) -> tuple[str, ...]:
    """Return the other terms of ``term``'s family, or () when it has none."""
    return next((tuple(t for t in f if t != term) for f in TERM_FAMILIES if term in f), ())


@dataclass(frozen=True)
class TruthCheck:
    """The knowledge base's text, to test whether a changed sentence is stated somewhere (then it is also true)."""

    text: str

    @classmethod
    def of(cls, searcher: Searcher) -> TruthCheck:
        return cls("\n".join(canonical(c.text) for c in searcher.chunks.values()))

    def stated(self, text: str) -> bool:
        """Return whether the knowledge base contains ``text`` (canonical form)."""
        key = canonical(text)
        return bool(key) and key in self.text

    def also_true(self, sentence: str, start: int, answer: str, option: str, article: str) -> bool:
        """Return whether ``option`` in place of ``answer`` may be right too: the article names it (a term of the
        same rule), or the KB states the changed phrase (its words on either side of the blank)."""
        if option in sentence or (not NUMBER.fullmatch(option) and option in article and option not in DUTIES):
            return True
        left = re.split(r"[，。；：、,;:“”（）()]", sentence[max(0, start - 6):start])[-1]
        right = re.split(r"[，。；：、,;:“”（）()]", sentence[start + len(answer):start + len(answer) + 6])[0]
        if self.stated(left + option + right) and (left or right):
            return True
        return (len(left) >= 4 and self.stated(left[-4:] + option)) or (len(right) >= 4 and self.stated(option + right[:4]))


def checked(options: tuple[str, ...], sentence: str, start: int, answer: str, article: str,
            truth: TruthCheck) -> tuple[str, ...]:
    """Return the options that are surely wrong in the blank at ``start``."""
    return tuple(o for o in dict.fromkeys(options) if o != answer and not truth.also_true(sentence, start, answer, o, article))
