"""Recognising article references (``党章第十条``) and document names in queries."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .numerals import cn_to_int, int_to_cn

CN_NUM = "零〇一二三四五六七八九十百千两"
ARTICLE_REF = re.compile(rf"第\s*([{CN_NUM}\d]+)\s*条(之[{CN_NUM}]+)?")
_TITLE_LIKE = re.compile(r"(条例|章程|细则|准则|规定|办法|规则|意见|决定|宪法|党章|法)(?:[（(][^（()）]*[）)])?$")
_BRACKETED = re.compile(r"《([^》]{2,40})》")
# Colloquial names that are not substrings of the official title.
ALIASES = {"党章": "中国共产党章程", "宪法": "中华人民共和国宪法"}
_TITLE_NOISE = re.compile(r"^(中国共产党|中华人民共和国)|[（(][^）)]*[）)]$")


def article_label(n: int, suffix: str = "") -> str:
    """Return the canonical article label, e.g. ``第二十七条`` or ``第十条之一``."""
    return f"第{int_to_cn(n)}条{suffix}"


@dataclass(frozen=True)
class ArticleRef:
    """An article named in a query, and the document name written next to it, if any."""

    number: int
    label: str
    doc_hint: str | None

    @property
    def names_title(self) -> bool:
        """Whether the hint reads as a document title (《…》 or a regulation-like name), not just words."""
        return bool(self.doc_hint) and bool(_TITLE_LIKE.search(self.doc_hint))


def find_article_ref(query: str) -> ArticleRef | None:
    """Return the first article reference in ``query``, with the text before it as a document hint."""
    m = ARTICLE_REF.search(query)
    if not m:
        return None
    try:
        number = cn_to_int(m.group(1))
    except ValueError:
        return None
    if number <= 0 or number >= 10000:
        return None
    hint = query[:m.start()].strip(" 《》的中里:：，,")
    bracket = _BRACKETED.search(query)
    if bracket:
        hint = bracket.group(1)
    return ArticleRef(number=number, label=article_label(number, m.group(2) or ""), doc_hint=hint or None)


def title_aliases(title: str) -> set[str]:
    """Return the names a user may call a document by: its title, the title without prefix/suffix, known aliases."""
    names = {title}
    short = _TITLE_NOISE.sub("", title)
    short = _TITLE_NOISE.sub("", short)
    if len(short) >= 4:
        names.add(short)
    names.update(alias for alias, full in ALIASES.items() if full == title or full == short)
    return names


def match_title(text: str, titles: dict[str, str]) -> list[str]:
    """Return ids from ``titles`` (id → title) whose names occur in ``text``, longest name first, then shortest title.

    A title-like tail of ``text`` that is part of a title also names it, since people shorten titles
    (``机关基层组织工作条例`` for 中国共产党党和国家机关基层组织工作条例).
    """
    tail = _TITLE_TAIL.search(text)
    found: list[tuple[int, str]] = []
    for doc_id, title in titles.items():
        best = max((len(a) for a in title_aliases(title) if a in text), default=0)
        if not best and tail:
            best = _shortened(tail.group(0), title)
        if best:
            found.append((best, doc_id))
    # A study note titled “…印发《条例》” contains the name as well as the regulation does: the shorter title wins.
    return [doc_id for _, doc_id in sorted(found, key=lambda x: (-x[0], len(titles[x[1]])))]


_TITLE_TAIL = re.compile(r"[\u4e00-\u9fff]{2,30}(条例|章程|细则|准则|规定|办法|规则|意见|决定)$")


_LEAD_IN = re.compile(r"^(请问|请|我想知道|我想了解|想问|问一下|查一下|关于|根据|按照|依照|依据|在)+")


def _shortened(name: str, title: str) -> int:
    """Return the length of ``name`` when, without lead-in words, it is a part of ``title`` of 6+ characters."""
    name = _LEAD_IN.sub("", name)
    name = name.removeprefix("中国共产党")
    return len(name) if len(name) >= 6 and name in title else 0
