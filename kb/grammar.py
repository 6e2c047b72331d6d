"""The grammar of Chinese official documents: numerals, 编/章/节/条/款/项 labels and article references.

Every regular expression for 第X条, 第X款, 第X项, 第X章 and （一） lives here; parsing at ingest, lookup in queries,
follow-up rewriting, study material and the evals all use these.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_DIGITS: dict[str, int] = {
    "零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}
_UNITS: dict[str, int] = {"十": 10, "百": 100, "千": 1000}
_MYRIAD = "万"
_CN_DIGITS = "零一二三四五六七八九"

CN_NUMERAL_CHARS = "".join(_DIGITS) + "".join(_UNITS) + _MYRIAD
"""Every character :func:`cn_to_int` accepts besides ASCII and full-width digits."""
NUMERAL = rf"[{CN_NUMERAL_CHARS}0-9０-９]+"
"""A numeral as written in a label: 十二, 一百零三, 12, １２."""
SMALL_NUMERAL = "[一二三四五六七八九十]+"
"""The numeral of 之一, （十二） and the like."""

DIVISION_KINDS = "编章节"
# A label followed by one of these is a cross-reference in running text (第二十条规定…), not a heading.
REFERENCE_FOLLOWER = re.compile(
    r"^(?:规定|的|、|，|,|。|；|;|：|:|至|到|和|与|及|或|中|所|第|款|项|之|明确|指出|提出|要求|强调|是|也|等|有关"
    r"|内容|条文|修改|删除|增加|已|将|被)"
)

ARTICLE_HEAD = re.compile(rf"^[ \t\u3000]*第(?P<num>{NUMERAL})条(?:之(?P<sub>{SMALL_NUMERAL}))?", re.M)
"""An article heading at the start of a line: ``第十条``, ``第十条之一``, ``第12条``."""
DIVISION_HEAD = re.compile(rf"^[ \t\u3000]*第(?P<num>{NUMERAL})(?P<kind>[{DIVISION_KINDS}])", re.M)
"""A part, chapter or section heading at the start of a line: ``第二编``, ``第六章``, ``第一节``."""
ITEM_HEAD = re.compile(rf"^[ \t\u3000]*[（(](?P<num>{SMALL_NUMERAL}|[0-9]{{1,2}})[）)]")
"""A numbered item (项) at the start of a line: ``（一）``, ``(2)``."""
SECTION_HEAD = re.compile(r"^(?P<num>[一二三四五六七八九十百]+)、")
"""A speech's first-level heading: ``一、``."""
SUBSECTION_HEAD = re.compile(r"^[（(](?P<num>[一二三四五六七八九十百]+)[）)]")
"""A speech's second-level heading: ``（一）``."""
POINT_HEAD = re.compile(r"^(?P<num>[0-9]{1,2})[.．、](?![0-9０-９])")
"""A speech's third-level heading: ``1.``."""
PARAGRAPH_HEAD = re.compile(
    rf"^\s*(第{NUMERAL}[编章节条款]|[{CN_NUMERAL_CHARS}]+[、．.]|[（(][{CN_NUMERAL_CHARS}\d]+[）)]|\d+[、．]|\d+\.(?!\d)|"
    r"[①-⑳]|附件|附则|附录)"
)
"""Any line that opens a new paragraph in an official document (a heading, article, 款 or item label, 附件)."""
DIVISION_LINE = re.compile(rf"^\s*第{NUMERAL}[编章节](\s|$)")
"""A line that is a division heading and nothing else on its first word."""
LABEL_PREFIX = re.compile(rf"^(?:第{NUMERAL}条(?:之{SMALL_NUMERAL})?\s*)?(?:[（(]{SMALL_NUMERAL}[）)]\s*)?")
"""A leading article label and item number, as dropped from a quoted point."""
_ARTICLE_LABEL = re.compile(rf"^第{NUMERAL}条(?:之{SMALL_NUMERAL})?$")

_REF = re.compile(rf"第\s*(?P<num>{NUMERAL})\s*条(?:之(?P<sub>{SMALL_NUMERAL}))?"
                  rf"(?:\s*第\s*(?P<clause>{NUMERAL})\s*款)?(?:\s*第\s*(?P<item>{NUMERAL})\s*项)?")
# Right after a document's name, 第 is often dropped (纪律处分条例117条, 宪法三十五条); elsewhere 3条 counts rules.
_BARE_REF = re.compile(rf"(?:(?<=党章|宪法|条例|细则|准则|规定|办法|章程)|(?<=》))的?\s*(?P<num>{NUMERAL})\s*条(?![例件])(?:之(?P<sub>{SMALL_NUMERAL}))?"
                       rf"(?:\s*第\s*(?P<clause>{NUMERAL})\s*款)?(?:\s*第\s*(?P<item>{NUMERAL})\s*项)?")
_CLAUSE_REF = re.compile(rf"第\s*(?P<num>{NUMERAL})\s*款")
_ITEM_REF = re.compile(rf"第\s*(?P<num>{NUMERAL})\s*项")
_BRACKETED = re.compile(r"《([^》]{2,40})》")
_HINT_TRIM = " 《》的中里:：，,"


def cn_to_int(text: str) -> int:
    """Return the value of a Chinese or arabic numeral: ``一百零二`` → 102, ``十`` → 10, ``二〇二一`` → 2021, ``１２`` → 12."""
    s = text.strip()
    if not s:
        raise ValueError("empty numeral")
    if s.isdecimal():
        return int(unicodedata.normalize("NFKC", s))
    if any(ch not in _DIGITS and ch not in _UNITS and ch != _MYRIAD for ch in s):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    if not any(ch in _UNITS or ch == _MYRIAD for ch in s):
        # Digit-by-digit form, as in years: 二〇二一.
        return int("".join(str(_DIGITS[ch]) for ch in s))
    total, section, digit = 0, 0, None
    for ch in s:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _UNITS:
            # A bare unit (十 in 十二, 一百十) means one of it.
            section += (1 if digit is None else digit) * _UNITS[ch]
            digit = None
        else:
            total += (section + (digit or 0)) * 10000
            section, digit = 0, None
    return total + section + (digit or 0)


def _below_10000(n: int, leading: bool) -> str:
    """Spell 1..9999; ``leading`` drops the 一 of 一十 (十二, but 一百一十二)."""
    out: list[str] = []
    pending_zero = False
    for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // unit % 10
        if d == 0:
            pending_zero = bool(out)
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        if not (unit == 10 and d == 1 and leading and not out):
            out.append(_CN_DIGITS[d])
        out.append(name)
    return "".join(out)


def int_to_cn(n: int) -> str:
    """Return the Chinese numeral of ``n`` as documents write it: 10 → 十, 110 → 一百一十, 102 → 一百零二."""
    if n < 0:
        raise ValueError(f"negative numeral: {n}")
    if n == 0:
        return "零"
    if n >= 100_000_000:
        raise ValueError(f"numeral too large: {n}")
    high, low = divmod(n, 10000)
    if not high:
        return _below_10000(low, leading=True)
    text = _below_10000(high, leading=True) + _MYRIAD
    if low:
        text += ("零" if low < 1000 else "") + _below_10000(low, leading=False)
    return text


def article_label(n: int, sub: int | str = "") -> str:
    """Return the canonical article label: ``第二十七条``, ``第十条之一`` (``sub`` as 1 or ``之一``)."""
    if isinstance(sub, int):
        sub = f"之{int_to_cn(sub)}" if sub else ""
    return f"第{int_to_cn(n)}条{sub}"


def is_article_label(text: str) -> bool:
    """Return whether ``text`` is exactly an article label (``第十条``, ``第十条之一``)."""
    return bool(_ARTICLE_LABEL.match(text))


def article_number(label: str) -> tuple[int, int] | None:
    """Return (number, sub-number) of an article label: ``第十条之一`` → (10, 1); None if it is not one."""
    m = ARTICLE_HEAD.match(label)
    if not m:
        return None
    return cn_to_int(m.group("num")), cn_to_int(m.group("sub")) if m.group("sub") else 0


@dataclass(frozen=True)
class ArticleRef:
    """An article named in text: its number, 之 sub-number, the 款 and 项 asked for, and the words before it."""

    number: int
    sub: int = 0
    clause: int | None = None
    item: int | None = None
    doc_hint: str | None = None

    @property
    def label(self) -> str:
        return article_label(self.number, self.sub)

    @property
    def names_title(self) -> bool:
        """Whether the hint reads as a document title (《…》 or a regulation-like name), not just words."""
        from .titles import looks_like_title

        return bool(self.doc_hint) and looks_like_title(self.doc_hint)


def _value(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return cn_to_int(text)
    except ValueError:
        return None


def find_article_ref(text: str) -> ArticleRef | None:
    """Return the first article reference in ``text`` (``党章第十条第二款``), with the text before it as a document hint."""
    m = _REF.search(text) or _BARE_REF.search(text)
    if not m:
        return None
    number = _value(m.group("num"))
    if number is None or not 0 < number < 10000:
        return None
    hint = text[:m.start()].strip(_HINT_TRIM)
    bracket = _BRACKETED.search(text)
    if bracket:
        hint = bracket.group(1)
    return ArticleRef(number=number, sub=_value(m.group("sub")) or 0, clause=_value(m.group("clause")),
                      item=_value(m.group("item")), doc_hint=hint or None)


def article_ref_span(text: str) -> tuple[int, int] | None:
    """Return where the first article reference stands in ``text`` (for replacing it), or None."""
    m = _REF.search(text) or _BARE_REF.search(text)
    return m.span() if m else None


def find_clause(text: str) -> int | None:
    """Return the 款 number ``text`` names on its own (``第二款``), or None."""
    m = _CLAUSE_REF.search(text)
    return _value(m.group("num")) if m else None


def find_item(text: str) -> int | None:
    """Return the 项 number ``text`` names on its own (``第三项``), or None."""
    m = _ITEM_REF.search(text)
    return _value(m.group("num")) if m else None


def section_line(text: str, number: int) -> str | None:
    """Return the line of ``text`` that opens its ``number``-th first-level section (``三、``), or None.

    Documents without articles, such as the 八项规定, number their rules so, and people cite them as 第三条.
    """
    for line in text.split("\n"):
        m = SECTION_HEAD.match(line.strip())
        if m and _value(m.group("num")) == number:
            return line.strip()
    return None


def item_number(line: str) -> int | None:
    """Return the number of a line that opens with an item label (``（三）``), or None."""
    m = ITEM_HEAD.match(line)
    return _value(m.group("num")) if m else None


def bracketed_titles(text: str) -> list[str]:
    """Return the titles written in 《》 in ``text``."""
    return _BRACKETED.findall(text)


# ---------------------------------------------------------------- article quotations in study notes

QUOTE_MARK = "【条文】"
_QUOTE_BLOCK = re.compile(r"^[ \t\u3000]*【条文】(?P<body>.*?)(?=^[ \t\u3000]*【[^】\n]{1,8}】|\Z)", re.M | re.S)
_QUOTE_HEAD = re.compile(rf"第(?P<num>{NUMERAL})条(?:之(?P<sub>{SMALL_NUMERAL}))?")


@dataclass(frozen=True)
class QuotedArticle:
    """An article quoted under 【条文】 in a study note: ``text[start:end]`` (the first of a block from its 【条文】 line)."""

    start: int
    end: int
    number: int
    sub: int = 0

    @property
    def label(self) -> str:
        return article_label(self.number, self.sub)


def _head_value(m: re.Match[str]) -> tuple[int, int] | None:
    return _value(m.group("num")), _value(m.group("sub")) or 0


def quoted_articles(text: str) -> list[QuotedArticle]:
    """Return the articles quoted in 【条文】 blocks (each up to the next 【…】 marker), in order."""
    out: list[QuotedArticle] = []
    for block in _QUOTE_BLOCK.finditer(text):
        body, base = block.group("body"), block.start("body")
        lead = len(body) - len(body.lstrip())
        first = _QUOTE_HEAD.match(body, lead)
        if not first:
            continue
        heads = [first] + [m for m in ARTICLE_HEAD.finditer(body) if m.start() > first.start()
                           and not REFERENCE_FOLLOWER.match(body[m.end():m.end() + 4])]
        for i, m in enumerate(heads):
            number, sub = _head_value(m)
            if not number:
                continue
            end = heads[i + 1].start() if i + 1 < len(heads) else len(body)
            while end > m.start() and body[end - 1].isspace():
                end -= 1
            start = block.start() if i == 0 else base + m.start() + (len(m.group(0)) - len(m.group(0).lstrip()))
            out.append(QuotedArticle(start, base + end, number, sub))
    return out
