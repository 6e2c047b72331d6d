"""Which sentences make questions and where their blanks go: on the rule's content (an amount, a body, a duty, a
sanction), never on boilerplate, a citation of another document, a parenthesised word or the topic's own words."""
from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .distractors import DUTIES, NUMBER, TERM_FAMILIES, TruthCheck, checked, family_of, number_distractors

BLANK = "＿＿＿＿"
BlankKind = Literal["number", "term", "duty"]
# 根据…制定本条例 / 本条例由…负责解释 / 自…起施行: true of every regulation, they test nothing.
BOILERPLATE = re.compile(r"制定本|本(?:条例|规定|细则|办法|准则|意见|规则|章程)(?:由|自|所称|适用)|负责解释|起施行|参照本|"
                         r"同时废止|另行制定|结合实际|实施细则|本章|本节")
# A sentence that leans on the one before it (对此，…; 前款规定…) cannot stand alone on a quiz sheet.
DANGLING = re.compile(r"^(?:对此|为此|此外|同时|其中|上述|以上|这些|该|其|但|并|而|否则|因此|所以|如|前款|前项)|前款|前项|本条第|"
                      r"下列|以下|如下|有下列")
_SHIELDED = re.compile(r"（[^）]*）|\([^)]*\)|《[^》]*》")
_TERMS = tuple(sorted({t for f in TERM_FAMILIES for t in f}, key=lambda t: (-len(t), t)))


@dataclass(frozen=True)
class Blank:
    """A span of a sentence to blank out, with the wrong options already checked not to be true."""

    answer: str
    start: int
    kind: BlankKind
    distractors: tuple[str, ...]


def sentence_problem(sentence: str) -> str | None:
    """Return why ``sentence`` makes no question (套话, 承上启下), or None when it can stand alone."""
    if BOILERPLATE.search(sentence):
        return "套话"
    if DANGLING.search(sentence) or sentence.endswith(("：", ":")):
        return "承上启下"
    return None


def _shielded(sentence: str) -> list[tuple[int, int]]:
    return [m.span() for m in _SHIELDED.finditer(sentence)]


def _free(sentence: str, start: int, answer: str, topic: str) -> bool:
    """Return whether the span may be a blank: once in the sentence, outside （）/《》, not the topic's own words."""
    end = start + len(answer)
    if sentence.count(answer) != 1 or any(s < end and start < e for s, e in _shielded(sentence)):
        return False
    return answer not in topic and not any(part and (part in answer) for part in topic.split() if len(part) >= 2)


def _is_date(sentence: str, m: re.Match) -> bool:
    unit, before = m.group("unit"), sentence[m.start() - 1:m.start()]
    if unit == "年":
        try:
            from kb.grammar import cn_to_int
            return cn_to_int(m.group("num")) >= 1000
        except ValueError:
            return False
    return (unit == "月" and before == "年") or (unit == "日" and before == "月")


def _spans(sentence: str) -> list[tuple[str, int, BlankKind]]:
    """Return the candidate spans: amounts, family terms (whole, not inside a longer term), duty words."""
    out: list[tuple[str, int, BlankKind]] = []
    for m in NUMBER.finditer(sentence):
        if m.group("frac") or not _is_date(sentence, m):
            out.append((m.group(0), m.start(), "number"))
    taken: list[tuple[int, int]] = []
    for t in _TERMS:
        at = sentence.find(t)
        if at >= 0 and not any(s <= at < e for s, e in taken):
            taken.append((at, at + len(t)))
            out.append((t, at, "term"))
    for d in DUTIES:
        at = sentence.find(d)
        if at >= 0 and not any(s <= at < e for s, e in taken):
            out.append((d, at, "duty"))
    return out


def find_blanks(sentence: str, topic: str, article: str, truth: TruthCheck, rng: random.Random) -> list[Blank]:
    """Return the blanks of ``sentence``, amounts first, then terms, then duties; each with checked distractors."""
    out = []
    for answer, start, kind in _spans(sentence):
        if not _free(sentence, start, answer, topic):
            continue
        if kind == "number":
            pool = number_distractors(answer, rng)
        elif kind == "term":
            pool = tuple(rng.sample(family_of(answer), len(family_of(answer))))
        else:
            pool = DUTIES[answer]
        out.append(Blank(answer, start, kind, checked(pool, sentence, start, answer, article, truth)[:3]))
    order = {"number": 0, "term": 1, "duty": 2}
    return sorted(out, key=lambda b: (order[b.kind], b.start))


_LIST = re.compile(r"(?P<items>(?:[\u4e00-\u9fff“”]{2,14}、){2,}[\u4e00-\u9fff“”]{2,14}(?:(?:和|及|以及|或者|或)[\u4e00-\u9fff“”]{2,14})?)")


def enumeration(sentence: str) -> tuple[int, int, tuple[str, ...]] | None:
    """Return (start, end, items) of the first list ``甲、乙、丙和丁`` of at least three items outside （）/《》."""
    for m in _LIST.finditer(sentence):
        if any(s < m.end() and m.start() < e for s, e in _shielded(sentence)):
            continue
        items = tuple(i.strip("“”") for i in re.split(r"、|以及|或者|和|及|或", m.group("items")) if i.strip("“”"))
        if len(items) >= 3 and len(set(items)) == len(items) and all(len(i) <= 14 for i in items):
            return m.start(), m.end(), items
    return None


def multi_distractors(items: Sequence[str], sentence: str, article: str, pool: Sequence[str],
                      rng: random.Random) -> list[str]:
    """Return wrong options for a list question: family terms of an item, then list items from other articles,
    none named by the cited article."""
    family = [t for i in items for t in family_of(i)]
    others = [p for p in pool if p not in items]
    rng.shuffle(others)
    out = [t for t in dict.fromkeys(family + others) if t not in article and t not in sentence and t not in items
           and not any(t in i or i in t for i in items)]
    return out[:2]
