"""Document names in text: titles, their short forms (党章, 机关基层组织工作条例) and title-like phrases."""
from __future__ import annotations

import re

_TITLE_LIKE = re.compile(r"(条例|章程|细则|准则|规定|办法|规则|意见|决定|宪法|党章|法)(?:[（(][^（()）]*[）)])?$")
# Colloquial names that are not substrings of the official title.
ALIASES = {"党章": "中国共产党章程", "宪法": "中华人民共和国宪法"}
_TITLE_NOISE = re.compile(r"^(中国共产党|中华人民共和国)|[（(][^）)]*[）)]$")


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


def looks_like_title(name: str) -> bool:
    """Return whether ``name`` reads as a document title (a regulation-like name), not just words."""
    return bool(_TITLE_LIKE.search(name))
