"""Metadata and heading structure of Chinese official documents (编/章/节/条) and speeches (一、/（一）/1.)."""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

from kb.schema import Document, DocType
from kb.grammar import (ARTICLE_HEAD, DIVISION_HEAD, POINT_HEAD, REFERENCE_FOLLOWER, SECTION_HEAD,
                        SUBSECTION_HEAD, cn_to_int, quoted_articles)
from kb.editions import parse_effective, parse_label, registry_edition
from kb.text import normalize_source


SectionKind = Literal["编", "章", "节", "条", "preamble", "heading", "other"]


@dataclass(frozen=True)
class DocMeta:
    """What the file name and the first lines say about a document."""

    title: str
    doc_type: DocType
    date: str | None = None
    issuer: str | None = None
    revision_line: str | None = None
    edition: str | None = None
    effective_date: str | None = None


@dataclass(frozen=True)
class Section:
    """A heading and the span ``text[start:end]`` it governs, its subsections included."""

    kind: SectionKind
    label: str
    title: str
    number: int | None
    level: int
    start: int
    end: int

    @property
    def heading(self) -> str:
        """Return the heading-path element: ``第二章 党的组织制度``, ``第十条``, ``一、深化政治建设…``, ``总纲``."""
        if self.kind in ("编", "章", "节"):
            return f"{self.label} {self.title}".strip()
        if self.kind == "heading":
            return self.label + self.title
        return self.label


# ---------------------------------------------------------------- line patterns

_PREAMBLES = frozenset({"总纲", "序言", "前言", "引言"})
_CLOSINGS = frozenset({"结束语", "结语", "后记"})
_APPENDIX = re.compile(
    r"^(?:延伸阅读|相关阅读|相关链接|背景链接|说明|附件\s*[0-9一二三四五六七八九十]*(?:[:：].{0,40})?"
    r"|附[:：].{0,40}|附录\s*[0-9一二三四五六七八九十]*(?:[:：].{0,40})?|.{0,50}答记者问)$"
)
_TITLE_TAIL = re.compile(r"^(?:答记者问|的?说明)$")
_CREDIT = re.compile(r"^[（(]?(?:网络来源|信息来源|来源|责编|责任编辑|编辑)[:：][^。]{0,40}[)）]?$")
_SENTENCE_END = re.compile(r"[。！？!?]")

_MAX_DIVISION_LINE = 50
_MAX_HEADING_LINE = 60
_MAX_INLINE_HEADING = 40
# A lone line-start 第X条 (a quotation) is not an article: real articles come in runs.
_MIN_ARTICLE_RUN = 2
_MAX_ARTICLE_STEP = 3

_RANK = {"编": 1, "章": 2, "节": 3, "条": 4, "h1": 5, "h2": 6, "h3": 7}


@dataclass(frozen=True)
class _Line:
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class _Article:
    index: int
    base: int
    sub: int


@dataclass(frozen=True)
class _Head:
    kind: SectionKind
    rank: str
    label: str
    title: str
    number: int | None


def _lines(text: str) -> Iterator[_Line]:
    """Yield the non-empty lines of ``text`` with their offsets."""
    pos = 0
    for raw in text.split("\n"):
        if raw.strip():
            lead = len(raw) - len(raw.lstrip())
            stripped = raw.strip()
            yield _Line(pos + lead, pos + lead + len(stripped), stripped)
        pos += len(raw) + 1


def _squash(title: str) -> str:
    """Drop spacing between CJK characters (``党　员`` → ``党员``)."""
    return re.sub(r"(?<=[\u3400-\u9fff]) +(?=[\u3400-\u9fff])", "", title.strip())


def _article_candidate(line: str) -> tuple[int, int, str] | None:
    """Return (base, sub, label) when ``line`` starts like an article heading rather than a cross-reference."""
    m = ARTICLE_HEAD.match(line)
    if not m:
        return None
    rest = line[m.end():]
    if rest and not rest[0].isspace() and REFERENCE_FOLLOWER.match(rest):
        return None
    try:
        base = cn_to_int(m["num"])
        sub = cn_to_int(m["sub"]) if m["sub"] else 0
    except ValueError:
        return None
    return base, sub, m.group(0)


def _continues(prev: _Article, cur: _Article) -> bool:
    """Whether ``cur`` can follow ``prev`` in one article sequence (small gaps allowed, 之一 after its base)."""
    if cur.sub:
        return cur.base == prev.base and cur.sub > prev.sub
    return prev.base < cur.base <= prev.base + _MAX_ARTICLE_STEP


def _accepted_articles(cands: list[_Article]) -> set[int]:
    """Return the line indexes of candidates that form runs of increasing article numbers."""
    runs: list[list[_Article]] = []
    for i, cand in enumerate(cands):
        if runs and _continues(runs[-1][-1], cand):
            runs[-1].append(cand)
            continue
        nxt = cands[i + 1] if i + 1 < len(cands) else None
        if runs and nxt is not None and _continues(runs[-1][-1], nxt):
            continue  # a stray quotation inside a run: skip it, keep the run going
        runs.append([cand])
    return {a.index for run in runs if len(run) >= _MIN_ARTICLE_RUN for a in run}


def _division(line: str) -> _Head | None:
    """Return a 编/章/节 heading for a short line such as ``第二章 党的组织制度``."""
    m = DIVISION_HEAD.match(line)
    if not m or len(line) > _MAX_DIVISION_LINE:
        return None
    rest = line[m.end():]
    if rest and not rest[0].isspace() and REFERENCE_FOLLOWER.match(rest):
        return None
    title = _squash(rest)
    if re.search(r"[。；;！？!?]", title) or title.endswith(("，", "：", ":", "、")):
        return None
    try:
        number = cn_to_int(m["num"])
    except ValueError:
        return None
    kind = m["kind"]
    return _Head(kind, kind, m.group(0), title, number)  # type: ignore[arg-type]


def _prose_heading(line: str) -> _Head | None:
    """Return a 一、/（一）/1. heading when the line, or its first sentence, is short enough to be one."""
    for rank, pattern in (("h1", SECTION_HEAD), ("h2", SUBSECTION_HEAD), ("h3", POINT_HEAD)):
        m = pattern.match(line)
        if m:
            break
    else:
        return None
    rest = line[m.end():].strip()
    if not rest:
        return None
    if len(line) <= _MAX_HEADING_LINE:
        if rest.endswith(("，", ",", "、", "；", ";", "：", ":")) or "；" in rest:
            return None
        title = rest.rstrip("。")
    else:
        end = _SENTENCE_END.search(rest)
        if not end or end.end() > _MAX_INLINE_HEADING or re.search(r"[；;：:]", rest[: end.start()]):
            return None
        title = rest[: end.start()]
    if not title:
        return None
    return _Head("heading", rank, m.group(0), title, cn_to_int(m["num"]))


def _title_line(line: str) -> bool:
    """Whether a line reads as a title: short, no sentence or clause punctuation."""
    return len(line) <= _MAX_HEADING_LINE and not re.search(r"[。；;！？!?：:，,]", line)


def _is_preamble(line: str) -> bool:
    return line.replace(" ", "") in _PREAMBLES


def _candidates(text: str, lines: list[_Line]) -> tuple[list[_Article], dict[int, str]]:
    """Return the lines that start like article headings, and their labels, leaving out quoted articles."""
    cands: list[_Article] = []
    labels: dict[int, str] = {}
    quoted = [(q.start, q.end) for q in quoted_articles(text)]
    for i, ln in enumerate(lines):
        if any(a <= ln.start < b for a, b in quoted):
            continue  # an article quoted under 【条文】 in a study note is the chunker's, not this document's own
        found = _article_candidate(ln.text)
        if found:
            cands.append(_Article(i, found[0], found[1]))
            labels[i] = found[2]
    return cands, labels


def parse_structure(text: str) -> list[Section]:
    """Return the sections of normalized ``text`` in document order; text before the first one is front matter.

    Only line-start labels count. An article 第X条 must be part of a run of increasing numbers, so quotations
    in a news preamble or a Q&A part do not break the parse; articles quoted under 【条文】 never count. Inside an
    article body, （一） and 1. are items of the article, not headings. Appendix markers (延伸阅读, 附件, …答记者问)
    and source credits after an article open an ``other`` section.
    """
    lines = list(_lines(text))
    cands, labels = _candidates(text, lines)
    articles, bases = _accepted_articles(cands), {c.index: c.base for c in cands}
    shapes = {i: h for i, ln in enumerate(lines) if (h := _prose_heading(ln.text)) is not None}
    # Adjacent lines numbered alike form a list or a table of contents, not headings with bodies.
    listed = {
        i for i, h in shapes.items()
        if any(j in shapes and shapes[j].rank == h.rank for j in (i - 1, i + 1))
    }
    heads: list[tuple[int, _Head]] = []
    head_lines: set[int] = set()
    in_article = False
    in_other = False
    last_number: dict[str, int] = {"h1": 0, "h2": 0, "h3": 0}
    for i, ln in enumerate(lines):
        head: _Head | None = None
        start = ln.start
        if i in articles:
            head = _Head("条", "条", labels[i], "", bases[i])
        elif (div := _division(ln.text)) is not None:
            head = div
        elif _is_preamble(ln.text):
            head = _Head("preamble", "preamble", ln.text.replace(" ", ""), "", None)
        elif not in_other and _APPENDIX.match(ln.text):
            prev = lines[i - 1] if i else None
            if _TITLE_TAIL.match(ln.text) and prev is not None and i - 1 not in head_lines and _title_line(prev.text):
                # An appendix title broken over two lines: 负责人就《…》 / 答记者问.
                head = _Head("other", "other", prev.text + ln.text, "", None)
                start = prev.start
            else:
                head = _Head("other", "other", ln.text, "", None)
        elif not in_other and in_article and _CREDIT.match(ln.text):
            head = _Head("other", "other", ln.text, "", None)
        elif not in_article:
            if ln.text.replace(" ", "") in _CLOSINGS:
                head = _Head("heading", "h1", ln.text.replace(" ", ""), "", None)
            elif i in shapes and i not in listed:
                prose = shapes[i]
                if prose.number in (1, last_number[prose.rank] + 1):
                    head = prose
                    last_number[prose.rank] = prose.number or 0
        if head is None:
            continue
        heads.append((start, head))
        head_lines.add(i)
        if head.kind != "heading":
            in_article = head.kind == "条"
            in_other = head.kind == "other"
    return _assemble(heads, len(text))


def _closes(top: _Head, new: _Head) -> bool:
    """Whether heading ``new`` ends the open section ``top``."""
    if top.kind == "preamble":
        return new.rank not in ("h2", "h3")
    if top.kind == "other":
        return new.kind != "heading"
    if new.kind in ("preamble", "other"):
        return True
    return _RANK[top.rank] >= _RANK[new.rank]


def _assemble(heads: list[tuple[int, _Head]], length: int) -> list[Section]:
    """Nest headings by rank into levels and compute each section's end."""
    stack: list[_Head] = []
    levels: list[int] = []
    for _, head in heads:
        while stack and _closes(stack[-1], head):
            stack.pop()
        stack.append(head)
        levels.append(len(stack))
    sections: list[Section] = []
    for i, ((start, head), level) in enumerate(zip(heads, levels)):
        end = next((heads[j][0] for j in range(i + 1, len(heads)) if levels[j] <= level), length)
        sections.append(Section(head.kind, head.label, head.title, head.number, level, start, end))
    return sections


# ---------------------------------------------------------------- metadata

_DATED_NAME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})_(.+)$")
_CN_DIGIT = "〇○零一二三四五六七八九"
_FULL_DATE = re.compile(
    rf"(?P<y>\d{{4}}|[{_CN_DIGIT}]{{4}})年(?P<m>\d{{1,2}}|[一二三四五六七八九十]{{1,3}})月"
    rf"(?P<d>\d{{1,2}}|[一二三四五六七八九十]{{1,3}})日"
)
_YEAR = re.compile(rf"(?:\d{{4}}|[{_CN_DIGIT}]{{4}})年")
_ACTION = re.compile(r"审议批准|批准|发布|印发|修订|修正|通过|施行|修改")
_ACTION_SUFFIX = re.compile(r"(?:审议批准|批准|发布|印发|修订|修正|通过|起施行|施行|部分修改|修改|审议)+$")
_OFFICIAL_TITLE = re.compile(
    r"(?:意见|通知|决定|决议|规定|办法|条例|细则|规则|准则|纲要|方案|规划|公报|报告|白皮书|体系|章程|宪法|法)$"
)
_SPEECH_NAME = re.compile(r"讲话|发言")
_REVISION_WINDOW_AFTER_TITLE = 4
_REVISION_WINDOW_UNTITLED = 12


def _looks_like_title(line: str) -> bool:
    return _title_line(line) and not line.startswith("来源")


def _stem_title(stem: str) -> str:
    """Return the file stem without control characters (newlines included) or a trailing ``(2019)``/``（2018年修订）``
    note."""
    stem = " ".join("".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in stem).split())
    return re.sub(r"[（(][^（）()]*[)）]$", "", stem).strip() or stem or "未命名文档"


def _find_title(lines: list[str], stem: str) -> tuple[str, int | None]:
    """Return the title and the index of its line (None when taken from the file name)."""
    if lines and _looks_like_title(lines[0]):
        return lines[0], 0
    base = _stem_title(stem)
    quoted = [q for ln in lines[:5] for q in re.findall(r"《([^《》]+)》", ln)]
    for i, ln in enumerate(lines[:15]):
        for q in [*quoted, base]:
            if ln == q or re.fullmatch(rf"《{re.escape(q)}》(?:全文如下)?[。：:]?", ln):
                return q, i
    return base, None


def _iso(m: re.Match[str]) -> str | None:
    try:
        y, mo, d = cn_to_int(m["y"]), cn_to_int(m["m"]), cn_to_int(m["d"])
    except ValueError:
        return None
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return None
    return f"{y:04d}-{mo:02d}-{d:02d}"


def _issuer(fragment: str) -> str | None:
    """Return the organ named in a fragment like ``中共中央政治局会议审议批准``, if any."""
    name = _ACTION_SUFFIX.sub("", fragment.strip(" （()）")).strip(" ，,")
    name = re.sub(r"^(?:自|经|由|于)", "", name)
    if not name or _YEAR.search(name) or re.search(r"\d", name):
        return None
    return name


def _find_revision(lines: list[str], start: int, window: int) -> str | None:
    """Return the issuing/revision line (joined when its parenthesis spans lines) near the title."""
    for i in range(start, min(len(lines), start + window)):
        ln = lines[i]
        if ln.startswith(("（", "(")):
            parts = [ln]
            j = i
            while not re.search(r"[)）]$", parts[-1]) and j + 1 < len(lines) and len(parts) < 3:
                j += 1
                parts.append(lines[j])
            joined = " ".join(parts)
            if "。" in joined or len(joined) > 300:
                continue
            if _FULL_DATE.search(joined) or (_YEAR.search(joined) and _ACTION.search(joined)):
                return joined
        elif len(ln) <= 80 and "。" not in ln and _FULL_DATE.search(ln) and _ACTION.search(ln):
            return ln
    return None


def parse_revision(line: str) -> tuple[str | None, str | None]:
    """Return (date, issuer) of the latest action in an issuing/revision line.

    The line is split into actions at spaces and commas. The latest full date wins (ties: the later
    action); its issuer is the organ named after the date (``2019年11月29日中共中央政治局会议修订``) or, when
    nothing but a verb follows, before it (``…全国代表大会部分修改，2022年10月22日通过``). Year-only
    dates (``2018年修订``) are ignored; an action without an organ (``自…起施行``) has issuer None.
    """
    inner = line.strip().strip("（()）")
    segments = [s for s in re.split(r"[\s，,；;]+", inner) if s]
    best: tuple[str, int, str | None] | None = None
    for k, seg in enumerate(segments):
        m = _FULL_DATE.search(seg)
        if not m:
            continue
        iso = _iso(m)
        if iso is None:
            continue
        issuer = _issuer(seg[m.end():]) or _issuer(seg[: m.start()])
        if issuer is None and not _issuer_blocked(seg[m.end():]) and k > 0 and not _YEAR.search(segments[k - 1]):
            issuer = _issuer(segments[k - 1])
        if best is None or (iso, k) >= (best[0], best[1]):
            best = (iso, k, issuer)
    return (best[0], best[2]) if best else (None, None)


def _issuer_blocked(after: str) -> bool:
    """``自…起施行`` names a date of effect, not an act of an organ named earlier."""
    return "施行" in after


def parse_meta(text: str, filename: str) -> DocMeta:
    """Return title, type, date, issuer and revision line of a document from its text and file name.

    ``YYYY-MM-DD_标题.txt`` gives title and date. Otherwise the title is the first line when it reads as a
    title, else the 《…》 title of a news preamble found again as a line of its own, else the file stem
    without its ``(…)`` note. Date and issuer come from the issuing/revision line (see :func:`parse_revision`).
    doc_type: ``regulation`` with ≥ 5 article headings; ``speech`` for dated or 讲话/发言 file names; ``other``
    for an official document without articles (…意见, …体系); ``speech`` when it has 一、/（一） headings;
    else ``other``.
    """
    text = normalize_source(text)
    lines = [ln.text for ln in _lines(text)]
    stem = PurePath(filename).stem
    dated = _DATED_NAME.match(stem)
    if dated:
        title, title_idx = dated[4].replace("_", " ").strip(), None
    else:
        title, title_idx = _find_title(lines, stem)
    if title_idx is None:
        revision = _find_revision(lines, 0, _REVISION_WINDOW_UNTITLED)
    else:
        revision = _find_revision(lines, title_idx + 1, _REVISION_WINDOW_AFTER_TITLE)
    date, issuer = parse_revision(revision) if revision else (None, None)
    if dated:
        date = f"{dated[1]}-{dated[2]}-{dated[3]}"
    sections = parse_structure(text)
    doc_type: DocType
    if sum(s.kind == "条" for s in sections) >= 5:
        doc_type = "regulation"
    elif dated or _SPEECH_NAME.search(stem):
        doc_type = "speech"
    elif _OFFICIAL_TITLE.search(title):
        doc_type = "other"
    elif any(s.kind == "heading" for s in sections):
        doc_type = "speech"
    else:
        doc_type = "other"
    edition = effective = None
    if doc_type != "speech":  # a news preamble has no revision line: the label then comes from the file name's note
        edition, effective = parse_label(revision, stem), parse_effective(revision, text)
        known = registry_edition(title, edition, date)
        edition = known.label if known else edition  # one spelling per edition: 2019年版 → the registry's 2019年发布
    return DocMeta(title=title, doc_type=doc_type, date=date, issuer=issuer, revision_line=revision,
                   edition=edition, effective_date=effective)


def make_document(raw_text: str, source: str, filename: str) -> Document:
    """Return a Document: normalized text, parsed metadata, sha256 content hash and a 16-hex doc_id."""
    text = normalize_source(raw_text)
    meta = parse_meta(text, filename)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Document(
        doc_id=digest[:16],
        title=meta.title,
        doc_type=meta.doc_type,
        source=source,
        text=text,
        content_hash=digest,
        date=meta.date,
        issuer=meta.issuer,
        edition=meta.edition,
        effective_date=meta.effective_date,
    )
