"""Editions of a regulation: the shipped registry of known edition histories, edition labels and dates read from
a document's revision line, and the edition a question asks for (2018年版, 新版, 2023年修订的)."""
from __future__ import annotations

import datetime
import functools
import re
from dataclasses import dataclass
from pathlib import Path

EDITIONS_FILE = Path(__file__).with_name("data") / "editions.tsv"
STATUSES = ("现行有效", "已被修订", "已废止", "未知")
IN_FORCE, SUPERSEDED, REPEALED, UNKNOWN = STATUSES

_TRIAL = re.compile(r"[（(]试行[）)]")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})年")
_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})年(\d{1,2})月(\d{1,2})日")
_REVISED = re.compile(r"部分修改|修订|修正|修改")
_ISSUED = re.compile(r"发布|印发|通过|批准")
_EFFECTIVE = re.compile(r"自((?:19|20)\d{2}年\d{1,2}月\d{1,2}日)起施行")
_ON_ISSUE = re.compile(r"本(?:条例|细则|规定|准则|办法|规则|章程)自发布之日起施行")
_FILE_NOTE = re.compile(r"[（(]([^（）()]*)[)）]$")


@dataclass(frozen=True)
class Edition:
    """One edition of a regulation as the registry (kb/data/editions.tsv) knows it, with its evidence."""

    title: str
    label: str
    issued: str | None
    effective: str | None
    issuer: str | None
    status: str
    evidence: str
    note: str = ""

    @property
    def year(self) -> int | None:
        return edition_year(self.label)



def regulation_key(title: str) -> str:
    """Return the title an edition history is filed under: without 《》 and （试行）."""
    return _TRIAL.sub("", title.strip().strip("《》")).strip()


def edition_year(label: str | None) -> int | None:
    """Return the year of an edition label (``2018年修订`` → 2018), or None."""
    m = _YEAR.search(label or "")
    return int(m.group(1)) if m else None


def _row(line: str) -> Edition | None:
    if not line.strip() or line.startswith("#"):
        return None
    cells = (line.rstrip("\n").split("\t") + [""] * 8)[:8]
    title, label, issued, effective, issuer, status, evidence, note = (c.strip() for c in cells)
    if status not in STATUSES:
        raise ValueError(f"{EDITIONS_FILE}: unknown status {status!r} in {line!r}")
    return Edition(title, label, issued or None, effective or None, issuer or None, status, evidence or "unverified",
                   note)


@functools.lru_cache(maxsize=4)
def registry(path: str = str(EDITIONS_FILE)) -> tuple[Edition, ...]:
    """Return every edition of the shipped registry, in file order (oldest first within a title)."""
    rows = Path(path).read_text(encoding="utf-8").splitlines()
    return tuple(e for e in map(_row, rows) if e is not None)


def history(title: str) -> tuple[Edition, ...]:
    """Return the known editions of the regulation ``title``, oldest first (empty when the registry lacks it)."""
    key = regulation_key(title)
    return tuple(sorted((e for e in registry() if e.title == key), key=lambda e: e.year or 0))


def registry_edition(title: str, label: str | None, date: str | None = None) -> Edition | None:
    """Return the registry's edition of ``title`` of the same year as ``label`` (or ``date``), or None."""
    year = edition_year(label) or (int(date[:4]) if date and date[:4].isdigit() else None)
    return next((e for e in history(title) if year is not None and e.year == year), None)


def in_force_on(title: str, date: str) -> Edition | None:
    """Return the edition of ``title`` in force on ISO ``date``: the newest one effective (or issued) by then."""
    found = None
    for e in history(title):
        start = e.effective or e.issued
        if start and start[:10] <= date[:10]:
            found = e
    return found


def parse_label(revision_line: str | None, stem: str = "") -> str | None:
    """Return an edition label from a revision line, else from the file name's note (``(2018年修订)`` → 2018年修订).

    A line naming a revision word (修订, 修正, 部分修改) gives ``{latest year}年{word}``; a line with actions in two
    or more years without one is a revision too; a single year's 发布/通过 gives ``{year}年发布``; a bare year in a
    file name gives ``{year}年版``.
    """
    if revision_line:
        years = [int(y) for y in _YEAR.findall(revision_line)]
        if years:
            word = _REVISED.search(revision_line)
            if word:
                return f"{max(years)}年{'部分修改' if word.group(0) == '修改' else word.group(0)}"
            if len(set(years)) > 1:
                return f"{max(years)}年修订"
            return f"{years[0]}年发布"
    note = _FILE_NOTE.search(stem.strip())
    if note:
        year = _YEAR.search(note.group(1)) or re.match(r"((?:19|20)\d{2})$", note.group(1))
        if year:
            word = _REVISED.search(note.group(1))
            return f"{year.group(1)}年{word.group(0) if word else '版'}"
    return None


def _iso(m: re.Match[str]) -> str:
    return f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"


def parse_effective(revision_line: str | None, text: str) -> str | None:
    """Return the date of effect: ``自…起施行`` in the revision line or the closing article; ``自发布之日起施行`` gives
    the revision line's date when its latest action is an issue (发布/印发), else None."""
    for source in (revision_line or "", text[-3000:]):
        m = _EFFECTIVE.search(source)
        if m:
            return _iso(_DATE.search(m.group(1)))
    if revision_line and _ON_ISSUE.search(text[-3000:]):
        segments = [s for s in re.split(r"[\s，,；;]+", revision_line.strip("（()）")) if _DATE.search(s)]
        if segments and _ISSUED.search(segments[-1]) and not _REVISED.search(segments[-1]):
            return _iso(_DATE.search(segments[-1]))
    return None


@dataclass(frozen=True)
class EditionAsk:
    """The edition a question names: a year (``2018年版``, ``2023年修订的``) or the newest (``新版``, ``最新``)."""

    year: int | None
    newest: bool
    span: tuple[int, int]
    strict: bool = True  # 2018年版, 新版; a bare year before a title (1982年宪法) or 十九大党章 is loose

    def describe(self) -> str:
        return f"{self.year}年版" if self.year else "最新版本"


# A year of four digits, or of two (15年版, 13年老版的), as people shorten it.
_YEAR_NUM = r"((?:19|20)\d{2}|(?<![\d第.])\d{2})"
_ASK_YEAR = re.compile(rf"{_YEAR_NUM}\s*年\s*(?:版|修订|修正|修改|部分修改|印发|发布)(?:版|后)?(?:本)?的?"
                       rf"|{_YEAR_NUM}\s*年[^年，,。？?！!]{{0,8}}?(?:那一?|老|旧)版(?:本)?的?")
# 1982年宪法, 1997年的纪律处分条例: a year right before a title names the edition of that year; two digits only right
# before 宪法 or 党章 (82年宪法), since 入党18年的老党员按照条例 names no edition.
_ASK_YEAR_TITLE = re.compile(r"((?:19|20)\d{2})\s*年(?:的|版的?)?(?=[^\d月日，。？?！!]{0,8}?(?:宪法|党章|条例|细则|准则))"
                             r"|(?<![\d第.])(\d{2})\s*年(?:的|版的?)?(?=宪法|党章)")
# 十九大党章: the charter as a national congress amended it.
_CONGRESS_YEARS = {"二": 1922, "三": 1923, "四": 1925, "五": 1927, "六": 1928, "七": 1945, "八": 1956, "九": 1969,
                   "十": 1973, "十一": 1977, "十二": 1982, "十三": 1987, "十四": 1992, "十五": 1997, "十六": 2002,
                   "十七": 2007, "十八": 2012, "十九": 2017, "二十": 2022}
_ASK_CONGRESS = re.compile(r"(?<![一二三四五六七八九十])(十[一二三四五六七八九]?|二十|[二三四五六七八九])大(?:修改|通过)?的?"
                           r"(?:[那这]?[版个部])?的?(?=党章)")  # 十八大通过的那版党章
# 七大党章对候补期是咋规定的: a loosely named edition asked for what it says, not for its history.
_ASKS_CONTENT = re.compile(r"规定|要求|怎么说|咋说|怎么写|咋写|写的|写了|(?:多少|几)[条章]")
# 哪年印发的, 什么时候施行, 印发时间: asked when, together with being issued (巡视工作条例通过多长时间巡视一次 is not).
_ASKED_ISSUE = r"印发|发布|通过|实施|施行|出台|颁布|公布|制定|试行"
_ASKS_WHEN = re.compile(r"哪天|哪一天|哪年|哪一年|哪个月|几月|几号|什么时候|啥时候|何时")
_ASKS_ISSUED = re.compile(_ASKED_ISSUE)
_ASKS_ISSUE_DATE = re.compile(rf"(?:{_ASKED_ISSUE})的?(?:时间|日期)")
_ASK_NEW = re.compile(r"(?:新版|新修订|最新修订|修订后|最新版?|现行(?!有效))(?:本)?的?"
                      # 新纪律处分条例, 新党章: 新 right before a short title, not inside a word (重新, 创新) or
                      # before a person or a time (新来的, 新任, 新时代); 新提拔干部按照纪律处分条例 is too far from its
                      # title to name an edition. The title must then match a stored one.
                      r"|(?<![重创更革刷清崭出翻维从一全])新(?![的了入进来上任近时形闻])"
                      r"(?=[\u4e00-\u9fff]{0,6}?(?:条例|细则|准则)|党章|宪法)")


_COMPARED = ("比", "与", "较", "同", "跟", "和")


def edition_asked(text: str) -> EditionAsk | None:
    """Return the edition ``text`` asks for, if it names one; a year it compares with (比2018年版) is not asked for."""
    m = _ASK_NEW.search(text)
    if m:
        return EditionAsk(None, True, m.span())
    for pattern, strict in ((_ASK_YEAR, True), (_ASK_YEAR_TITLE, False)):
        for m in pattern.finditer(text):
            if not text[max(0, m.start() - 2):m.start()].endswith(_COMPARED):
                year = int(m.group(1) or m.group(2))
                return EditionAsk(_full_year(year) if year < 100 else year, False, m.span(), strict)
    m = _ASK_CONGRESS.search(text)
    if m:
        return EditionAsk(_CONGRESS_YEARS[m.group(1)], False, m.span(), strict=False)
    return None


def _full_year(short: int, this_year: int | None = None) -> int:
    """Return the year a two-digit year means: this century up to this year, else the last (82年 → 1982)."""
    now = this_year or datetime.date.today().year
    return 2000 + short if 2000 + short <= now else 1900 + short


def asks_history(text: str) -> bool:
    """Return whether ``text`` asks when a text was issued, passed or put in force (哪年印发的, 什么时候施行)."""
    return bool(_ASKS_WHEN.search(text) and _ASKS_ISSUED.search(text) or _ASKS_ISSUE_DATE.search(text))


def asks_content(text: str) -> bool:
    """Return whether ``text`` asks what a text says or requires (规定, 要求, 怎么写), not about its history."""
    return bool(_ASKS_CONTENT.search(text))


def without_edition(text: str, ask: EditionAsk | None) -> str:
    """Return ``text`` with the edition words removed, so that the title and article it names can be matched."""
    if ask is None:
        return text
    return (text[:ask.span[0]] + text[ask.span[1]:]).strip()
