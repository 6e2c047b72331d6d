"""Split a Document into retrievable chunks along its structure (条 for regulations, sections for prose)."""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass

from kb.editions import in_force_on
from kb.grammar import QUOTE_MARK, QuotedArticle, article_label, bracketed_titles, is_article_label, quoted_articles
from kb.schema import Audit, Chunk, Document

from .structure import Section, parse_structure

# Bump when parsing or chunking changes: stored documents with an older version are chunked again.
# 2: articles quoted under 【条文】 in study notes are chunks of their own, labelled with the quoted regulation, and
# chunks of regulations carry their edition. A speech without quotations chunks as in 1 and keeps that version, so a
# stored knowledge base re-chunks (and re-embeds) only the documents the change touches.
# 3: chunks of regulations and quoted articles also store sentence vectors (kb/sentence_index.py).
PIPELINE_VERSION = "3"
_UNCHANGED_SINCE = "1"
ARTICLE_MAX = 600
ARTICLE_MIN = 80
PROSE_MIN = 300
PROSE_MAX = 600

# Partition costs. A chunk costs _CHUNK plus a penalty for being short (quadratic below the minimum) and a small
# size term that prefers even pieces; cutting inside a paragraph and merging across a subheading cost extra.
_CHUNK = 0.3
_W_SMALL = {"article": 4.0, "prose": 1.0}
_W_BALANCE = 0.1
_CUT_SENTENCE = 0.3
_CUT_COMMA = 2.0
_CUT_HARD = 5.0
_JOIN_SUBSECTION = 0.5
# A short paragraph (a question, a subtitle) or one ending in ： introduces the next: cutting after it costs extra.
_LEAD_IN = 80
_CUT_AFTER_LEAD_IN = 0.4

_SENTENCE = re.compile(r"[。！？；!?;]+[”’」』）)》]*")
_NEWLINE = re.compile(r"\n")
_COMMA = re.compile(r"[，,、：:]+[”’」』）)》]*")


@dataclass(frozen=True)
class _Region:
    """The own text of one section (up to the next heading), or the front matter before the first."""

    start: int
    end: int
    body_start: int  # after the heading line(s) when they carry no body text, else ``start``
    path: tuple[str, ...]
    article: str | None
    article_no: int | None
    kind: str
    level: int


@dataclass(frozen=True)
class _Unit:
    """An uncuttable span; ``cut`` is the cost of starting a chunk here, ``join`` of not doing so."""

    start: int
    end: int
    region: int
    cut: float
    join: float


def _line_spans(text: str, pos: int, count: int) -> list[tuple[int, int]]:
    """Return the spans of up to ``count`` non-empty lines from ``pos`` on."""
    spans: list[tuple[int, int]] = []
    while pos < len(text) and len(spans) < count:
        nl = text.find("\n", pos)
        end = len(text) if nl < 0 else nl
        if text[pos:end].strip():
            spans.append((pos, end))
        pos = end + 1
    return spans


def _heading_end(text: str, sec: Section) -> int:
    """Return where the heading of ``sec`` ends when it fills whole lines, else ``sec.start`` (inline heading)."""
    if sec.kind == "条":
        return sec.start
    target = re.sub(r"\s", "", sec.label if sec.kind == "other" else sec.heading)
    seen = ""
    for line_start, line_end in _line_spans(text, sec.start, 2):  # an appendix title may span two lines
        seen += re.sub(r"\s", "", text[line_start:line_end])
        if sec.kind in ("编", "章", "节", "preamble") or seen.rstrip("。") == target:
            return line_end
    return sec.start


def _regions(text: str, sections: list[Section]) -> list[_Region]:
    """Return front matter and each section's own text with its heading path and article."""
    has_articles = any(s.kind == "条" for s in sections)
    regions: list[_Region] = []
    first = sections[0].start if sections else len(text)
    if text[:first].strip():
        regions.append(_Region(0, first, 0, (), None, None, "front", 0))
    paths: list[str] = []
    articles: list[str | None] = []
    for i, sec in enumerate(sections):
        end = sections[i + 1].start if i + 1 < len(sections) else len(text)
        paths = paths[: sec.level - 1] + [sec.heading]
        if sec.kind == "条":
            article = sec.label
        elif sec.kind == "preamble" and has_articles:
            article = sec.label
        elif sec.kind == "heading" and articles[: sec.level - 1]:
            article = articles[sec.level - 2]  # prose subheadings inside 总纲 stay part of it
        else:
            article = None
        articles = articles[: sec.level - 1] + [article]
        body = _heading_end(text, sec)
        regions.append(
            _Region(sec.start, end, body, tuple(paths), article, sec.number if sec.kind == "条" else None,
                    sec.kind, sec.level)
        )
    return regions


def _cut_quotes(regions: list[_Region], quotes: list[QuotedArticle]) -> list[_Region]:
    """Return ``regions`` with each quoted article (【条文】 in a study note) cut out as an article region of its own."""
    out: list[_Region] = []
    for reg in regions:
        pos = reg.start
        inside = [q for q in quotes if reg.start <= q.start < reg.end]
        for q in inside:
            if q.start > pos:
                out.append(_Region(pos, q.start, min(max(pos, reg.body_start), q.start), reg.path, reg.article,
                                   reg.article_no, reg.kind, reg.level))
            out.append(_Region(q.start, q.end, q.start, reg.path + (f"{QUOTE_MARK}{q.label}",), q.label, q.number,
                               "条", reg.level + 1))
            pos = q.end
        if not inside:
            out.append(reg)
        elif pos < reg.end:
            out.append(_Region(pos, reg.end, pos, reg.path, None, None, reg.kind, reg.level))
    return out


def quoted_source(doc: Document) -> tuple[str | None, str | None]:
    """Return the regulation a study note quotes articles of (the 《》 title in its title or opening) and the edition
    in force on the note's date according to the edition registry."""
    titles = bracketed_titles(doc.title) or bracketed_titles(doc.text[:300])
    if not titles:
        return None, None
    edition = in_force_on(titles[0], doc.date) if doc.date else None
    return titles[0], edition.label if edition else None


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Return ``(start, end)`` shrunk to exclude surrounding whitespace, or None when only whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _split(text: str, start: int, end: int, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """Return trimmed pieces of ``text[start:end]`` cut after each match of ``pattern``."""
    cuts = [start] + [m.end() + start for m in pattern.finditer(text[start:end])] + [end]
    pieces = (_trimmed(text, a, b) for a, b in zip(cuts, cuts[1:]))
    return [p for p in pieces if p]


def _sentence_pieces(text: str, start: int, end: int, max_len: int) -> list[tuple[int, int, float]]:
    """Split a paragraph at sentence ends, a too-long sentence at commas, a too-long clause every ``max_len``."""
    out: list[tuple[int, int, float]] = []
    for s0, s1 in _split(text, start, end, _SENTENCE):
        if s1 - s0 <= max_len:
            out.append((s0, s1, _CUT_SENTENCE))
            continue
        first = True
        for c0, c1 in _pack(_split(text, s0, s1, _COMMA), max_len):
            for h0 in range(c0, c1, max_len):
                piece = _trimmed(text, h0, min(h0 + max_len, c1))
                if piece:
                    cost = _CUT_SENTENCE if first else (_CUT_COMMA if h0 == c0 else _CUT_HARD)
                    out.append((piece[0], piece[1], cost))
                    first = False
    return out


def _pack(pieces: list[tuple[int, int]], max_len: int) -> list[tuple[int, int]]:
    """Greedily join consecutive pieces while the span stays within ``max_len``."""
    out: list[tuple[int, int]] = []
    for a, b in pieces:
        if out and b - out[-1][0] <= max_len:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _paragraphs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Return the trimmed non-empty lines of ``text[start:end]``."""
    return _split(text, start, end, _NEWLINE)


def _region_units(text: str, reg: _Region, idx: int, mode: str) -> list[_Unit]:
    """Return the units of a region's body; its whole-line heading is left to the caller to glue on."""
    max_len = ARTICLE_MAX if mode == "article" else PROSE_MAX
    units: list[_Unit] = []
    lead_in = False
    for p0, p1 in _paragraphs(text, reg.body_start, reg.end):
        if mode == "article" and p1 - p0 <= max_len:
            pieces = [(p0, p1, 0.0)]
        else:
            pieces = _sentence_pieces(text, p0, p1, max_len)
        for k, (a, b, cost) in enumerate(pieces):
            first_cost = _CUT_AFTER_LEAD_IN if lead_in else 0.0
            units.append(_Unit(a, b, idx, first_cost if k == 0 else cost, 0.0))
        lead_in = p1 - p0 < _LEAD_IN or text[p1 - 1] in "：:"
    return units


def _segments(text: str, regions: list[_Region]) -> list[tuple[str, list[_Unit]]]:
    """Group units into segments that no chunk may cross: an article, a top-level section, the front matter."""
    segments: list[tuple[str, list[_Unit]]] = []
    glue: tuple[int, int] | None = None  # (region, start) of heading lines waiting for the body under them
    for idx, reg in enumerate(regions):
        nxt = regions[idx + 1] if idx + 1 < len(regions) else None
        mode = "article" if reg.kind == "条" else "prose"
        units = _region_units(text, reg, idx, mode)
        head = _trimmed(text, reg.start, reg.body_start) if reg.body_start > reg.start else None
        if not units and head and reg.kind != "front":
            if nxt is not None and nxt.level > reg.level:
                glue = glue or (idx, head[0])
                continue
            if glue is None and segments and segments[-1][0] == "prose":
                # An empty heading before a sibling (a table of contents, a dropped body) trails the text above.
                segments[-1][1].append(_Unit(head[0], head[1], idx, 0.0, 0.0))
                continue
        if head:
            if units:
                units[0] = _Unit(head[0], units[0].end, idx, units[0].cut, units[0].join)
            else:
                units = [_Unit(head[0], head[1], idx, 0.0, 0.0)]
        lead = idx
        if glue is not None:
            lead = glue[0]
            units[0] = _Unit(glue[1], units[0].end, idx, units[0].cut, units[0].join)
            glue = None
        first, prev = regions[lead], regions[lead - 1] if lead else None
        # Below the top level, a subsection may share a chunk with its predecessor, at a price.
        soft = (
            first.kind == "heading" and first.level > 1 and prev is not None and prev.kind not in ("条", "front")
            and bool(segments) and segments[-1][0] == "prose"
        )
        if soft:
            units[0] = _Unit(units[0].start, units[0].end, idx, 0.0, _JOIN_SUBSECTION)
            segments[-1][1].extend(units)
        else:
            segments.append((mode, units))
    return segments


def _chunk_cost(length: int, mode: str) -> float:
    lo, hi = (ARTICLE_MIN, ARTICLE_MAX) if mode == "article" else (PROSE_MIN, PROSE_MAX)
    short = max(0, lo - length) / lo
    return _CHUNK + _W_SMALL[mode] * short * short + _W_BALANCE * (length / hi) ** 2


def _partition(units: list[_Unit], mode: str) -> list[tuple[int, int]]:
    """Return ``[i, j)`` unit ranges minimising the total cost; only single units may exceed the maximum."""
    max_len = ARTICLE_MAX if mode == "article" else PROSE_MAX
    n = len(units)
    joins = [0.0]
    for u in units:
        joins.append(joins[-1] + u.join)
    best = [0.0] + [math.inf] * n
    back = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(j - 1, -1, -1):
            length = units[j - 1].end - units[i].start
            if length > max_len and j - i > 1:
                break
            cost = best[i] + (units[i].cut if i else 0.0) + _chunk_cost(length, mode) + joins[j] - joins[i + 1]
            if cost < best[j]:
                best[j], back[j] = cost, i
    ranges: list[tuple[int, int]] = []
    j = n
    while j > 0:
        ranges.append((back[j], j))
        j = back[j]
    ranges.reverse()
    return _merge_tiny(units, ranges) if mode == "article" else ranges


def _merge_tiny(units: list[_Unit], ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge pieces under ``ARTICLE_MIN`` chars into their shorter neighbour (all pieces are one article)."""
    ranges = list(ranges)

    def size(r: tuple[int, int]) -> int:
        return units[r[1] - 1].end - units[r[0]].start

    while len(ranges) > 1:
        small = [k for k, r in enumerate(ranges) if size(r) < ARTICLE_MIN]
        if not small:
            break
        k = small[0]
        if k == 0 or (k + 1 < len(ranges) and size(ranges[k + 1]) < size(ranges[k - 1])):
            ranges[k : k + 2] = [(ranges[k][0], ranges[k + 1][1])]
        else:
            ranges[k - 1 : k + 1] = [(ranges[k - 1][0], ranges[k][1])]
    return ranges


def _common_prefix(paths: list[tuple[str, ...]]) -> tuple[str, ...]:
    out: list[str] = []
    for parts in zip(*paths):
        if any(p != parts[0] for p in parts):
            break
        out.append(parts[0])
    return tuple(out)


def pipeline_version(doc: Document) -> str:
    """Return the version of the chunking ``doc`` gets: older versions stay valid for documents they chunk alike."""
    if doc.doc_type == "speech" and not quoted_articles(doc.text):
        return _UNCHANGED_SINCE
    return PIPELINE_VERSION


def up_to_date(stored: str | None, doc: Document) -> bool:
    """Whether chunks made by pipeline version ``stored`` serve ``doc``: each version chunks at least as well as those
    before it, and the same text stored under another name (a regulation reprinted word for word as a speech) may
    have been chunked by a newer version than this name alone asks for."""
    needed = pipeline_version(doc)
    if stored == needed:
        return True
    return bool(stored and stored.isdigit() and needed.isdigit() and int(stored) >= int(needed))


def chunk_document(doc: Document) -> tuple[list[Chunk], Audit]:
    """Return the chunks of ``doc`` (``doc.text[c.char_start:c.char_end] == c.text``) and their audit.

    Regulations: one chunk per 条, a long one split at paragraphs (款) and then sentences, pieces under
    80 chars merged within the article; 编/章/节 lines lead the chunk that follows them. Prose: 300–600
    chars at paragraph and sentence ends, never across a top-level section. Front matter (title, revision
    line, news preamble) forms its own chunks.
    """
    text = doc.text
    regions = _regions(text, parse_structure(text))
    quotes = quoted_articles(text) if doc.doc_type != "regulation" else []
    quoted, quoted_edition = quoted_source(doc) if quotes else (None, None)
    if quoted:
        regions = _cut_quotes(regions, quotes)
    chunks: list[Chunk] = []
    for mode, units in _segments(text, regions):
        for i, j in _partition(units, mode):
            start, end = units[i].start, units[j - 1].end
            regs = [regions[r] for r in sorted({u.region for u in units[i:j]})]
            articles = {r.article for r in regs}
            article = articles.pop() if len(articles) == 1 else None
            numbers = {r.article_no for r in regs}
            body = text[start:end]
            is_quote = bool(quoted) and any(r.kind == "条" and r.article for r in regs)
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.doc_id}-{len(chunks):04d}-{hashlib.sha1(body.encode('utf-8')).hexdigest()[:8]}",
                    doc_id=doc.doc_id,
                    text=body,
                    doc_title=doc.title,
                    doc_type=doc.doc_type,
                    source=doc.source,
                    heading_path=_common_prefix([r.path for r in regs]),
                    article=article,
                    article_no=numbers.pop() if article and len(numbers) == 1 else None,
                    char_start=start,
                    char_end=end,
                    date=doc.date,
                    issuer=doc.issuer,
                    edition=quoted_edition if is_quote else doc.edition,
                    quotes=quoted if is_quote else None,
                )
            )
    return chunks, audit(doc, chunks)


def audit(doc: Document, chunks: list[Chunk]) -> Audit:
    """Return article count, gaps (regulations only), uncovered non-space chars and overlap of ``chunks``."""
    labels = {c.article for c in chunks if c.article and is_article_label(c.article)}
    numbers = {c.article_no for c in chunks if c.article in labels and c.article_no is not None}
    gaps: tuple[str, ...] = ()
    if doc.doc_type == "regulation" and numbers:
        gaps = tuple(article_label(n) for n in range(1, max(numbers) + 1) if n not in numbers)
    depth = [0] * (len(doc.text) + 1)
    for c in chunks:
        depth[max(0, c.char_start)] += 1
        depth[min(len(doc.text), max(0, c.char_end))] -= 1
    uncovered = overlapping = level = 0
    for pos, ch in enumerate(doc.text):
        level += depth[pos]
        if level == 0 and not ch.isspace():
            uncovered += 1
        elif level > 1:
            overlapping += 1
    return Audit(articles=len(labels), article_gaps=gaps, uncovered_chars=uncovered, overlapping_chars=overlapping)
