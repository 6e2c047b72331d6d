"""Extractive answers: the sentences that answer, best first, each followed by ``[n]``; an article's 款 and 项 quoted."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from kb.grammar import DIVISION_HEAD, int_to_cn, item_number, section_line
from kb.query import Query
from kb.retrieve import Searcher
from kb.schema import Chunk, Hit
from kb.sentence_index import holds_rules
from kb.sentences import split_sentences

# Chosen on evals/datasets/dev.jsonl + cadre-dev.jsonl (citations holding the gold evidence, articles cited correctly).
MAX_SENTENCES = 3
PASSAGES_CONSIDERED = 5
KEEP_RATIO = 0.5
PASSAGE_PRIOR = 0.5
TYPED_BONUS = 0.2
REGULATION_BONUS = 0.3
"""For a sentence of a regulation (or of an article a note quotes), unless the question asks about a speech: the
answer should open with the rule, not a retelling. Chosen on dev + cadre-dev + fresh-dev: the first citation holds
the evidence in 0.768 of answers without it, 0.789 with it (0.786 at 0.2 and 0.5)."""
CLOSENESS_WEIGHT = 4.0
"""Per unit of cosine that a regulation sentence's vector falls short of the closest regulation sentence's: a
colloquial question shares few words with the rule that answers it. Only sentences with vectors of their own are
compared (a passage's vector is no sentence's). Chosen on the twelve dev splits of the time, dev.jsonl and quiz (1,331
answerable questions; citations holding the evidence / first citation holding it): 0.931 / 0.798 without it, 0.932 /
0.804 at 2, 0.933 / 0.807 at 4, 0.933 / 0.808 at 6, 0.929 / 0.796 at 10. Comparing every sentence, with a passage's
vector for those without their own, lost 10 quiz citations of quoted speeches and gained 1."""
MIN_SENTENCE_CHARS = 6
MAX_QUOTE_CHARS = 400
_LEAD_IN_ENDS = ("：", ":")
# 情节严重的，给予撤销党内职务处分 grades the conduct its article named before the semicolon: alone it says nothing.
_GRADE = re.compile(r"情节[^，。；]{0,6}的")


@dataclass(frozen=True)
class Candidate:
    """One sentence of a retrieved passage, as shown (with its list stem, if it is a list item) and scored."""

    score: float
    rank: int
    start: int
    text: str


def _with_stem(text: str, spans: list[tuple[int, int]], i: int) -> str | None:
    """Return sentence ``i`` as it can be shown: a list item gets its stem; a bare lead-in (``…：``) is not shown."""
    s, e = spans[i]
    sentence = text[s:e]
    if sentence.endswith(_LEAD_IN_ENDS):
        return None
    if item_number(sentence) is None:
        return text[_graded_from(text, spans, i):e]
    for j in range(i - 1, -1, -1):
        stem = text[spans[j][0]:spans[j][1]]
        if stem.endswith(_LEAD_IN_ENDS):
            return text[_graded_from(text, spans, j):spans[j][1]] + sentence
        if item_number(stem) is None:
            break
    return None  # an item whose stem is in another passage says nothing on its own


def _graded_from(text: str, spans: list[tuple[int, int]], i: int) -> int:
    """Return where sentence ``i`` starts, or, for a grade (情节严重的，…), where the conduct it grades is named."""
    first = i
    while first > 0 and _GRADE.match(text, spans[first][0]) and text[spans[first - 1][1] - 1] == "；":
        first -= 1
    return spans[first][0]


def candidates(searcher: Searcher, q: Query, hits: Sequence[Hit]) -> list[Candidate]:
    """Return the showable sentences of the first passages with their scores."""
    out = []
    top = hits[0].score or 1.0
    words = q.search_words
    for rank, hit in enumerate(hits[:PASSAGES_CONSIDERED]):
        text = hit.chunk.text
        spans = split_sentences(text)
        for i, (s, _) in enumerate(spans):
            shown = _with_stem(text, spans, i)
            if shown is None or len(shown) < MIN_SENTENCE_CHARS or DIVISION_HEAD.match(shown):
                continue
            # The passage's retrieval score, relative to the best one, keeps close runners-up in play.
            score = searcher.coverage(words, shown) + PASSAGE_PRIOR * hit.score / top
            if q.expected is not None and q.expected.found_in(shown):
                score += TYPED_BONUS
            if not q.about_speech and holds_rules(hit.chunk):
                score += REGULATION_BONUS
            out.append(Candidate(score, rank, s, shown))
    if any(h.dense is not None for h in hits):  # in lexical mode nothing was embedded
        out = _by_closeness(searcher, q, hits, out)
    return sorted(out, key=lambda c: -c.score)


def _by_closeness(searcher: Searcher, q: Query, hits: Sequence[Hit], out: list[Candidate]) -> list[Candidate]:
    """Return ``out`` with each regulation sentence's score lowered by CLOSENESS_WEIGHT per unit of cosine its own
    vector stands below the nearest one's; sentences without a vector of their own keep their score."""
    vector = searcher.query_vector(q)
    close = [searcher.sentences.cosine(hits[c.rank].chunk.chunk_id, c.start, vector) for c in out]
    nearest = max((x for x in close if x is not None), default=None)
    return [c if x is None else replace(c, score=c.score - CLOSENESS_WEIGHT * (nearest - x))
            for c, x in zip(out, close)]


def choose(ranked: list[Candidate]) -> list[Candidate]:
    """Return up to MAX_SENTENCES: the best sentence first, then each other strong passage's best, then any strong."""
    floor = KEEP_RATIO * ranked[0].score
    chosen = [ranked[0]]
    best_of: dict[int, Candidate] = {}
    for cand in ranked:
        best_of.setdefault(cand.rank, cand)
    chosen += [c for r, c in sorted(best_of.items()) if c is not ranked[0] and c.score >= floor][:MAX_SENTENCES - 1]
    for cand in ranked:
        if len(chosen) >= MAX_SENTENCES or cand.score < floor:
            break
        if all(cand.text != c.text for c in chosen):
            chosen.append(cand)
    return chosen


def compose(searcher: Searcher, q: Query, hits: Sequence[Hit], quote_article: bool = False) -> tuple[str, list[Chunk]]:
    """Return an answer text of the sentences that answer, best first, each followed by ``[n]``, and the cited chunks.

    With ``quote_article`` (the query named the article at rank 1) the article itself, or its 款 or 项, is quoted.
    """
    if quote_article and hits[0].chunk.article is None:
        line = section_line(hits[0].chunk.text, q.article.number) if q.article else None
        return (f"{line}[1]", [hits[0].chunk]) if line else _whole([hits[0].chunk])
    if quote_article:
        return quote(q, [h.chunk for h in hits if h.chunk.doc_id == hits[0].chunk.doc_id
                         and h.chunk.article == hits[0].chunk.article])
    ranked = candidates(searcher, q, hits)
    if not ranked:
        return hits[0].chunk.text[:300] + "[1]", [hits[0].chunk]
    chosen = choose(ranked)
    order: list[int] = []
    for c in chosen:
        if c.rank not in order:
            order.append(c.rank)
    text = "".join(f"{c.text}[{order.index(c.rank) + 1}]" for c in chosen)
    return text, [hits[r].chunk for r in order]


def paragraphs(chunks: Sequence[Chunk]) -> list[tuple[Chunk, str]]:
    """Return an article's 款 (paragraphs, without headings), in order, with the chunk each lies in."""
    return [(c, line.strip()) for c in chunks for line in c.text.split("\n")
            if line.strip() and not DIVISION_HEAD.match(line)]


def quote(q: Query, chunks: list[Chunk]) -> tuple[str, list[Chunk]]:
    """Return the article ``chunks`` quoted, or the 款/项 the query asks for, or what the article has instead."""
    ref = q.article
    clause, item = (ref.clause, ref.item) if ref else (None, None)
    if clause or item:
        paras = paragraphs(chunks)
        items = [(c, p) for c, p in paras if item_number(p) is not None]
        plain = [(c, p) for c, p in paras if item_number(p) is None]
        if item and 0 < item <= len(items) and not clause:
            return f"{items[item - 1][1]}[1]", [items[item - 1][0]]
        if clause and 0 < clause <= len(plain) and len(plain) > 1:
            return f"{plain[clause - 1][1]}[1]", [plain[clause - 1][0]]
        label = chunks[0].article or ""
        asked = f"第{int_to_cn(clause)}款" if clause else f"第{int_to_cn(item)}项"
        shape = f"只有 {len(plain)} 款" + (f"、{len(items)} 项" if items else "")
        body, cited = _whole(chunks)
        return f"{label}{shape}，没有{asked}。全文如下：{body}", cited
    return _whole(chunks)


def _whole(chunks: list[Chunk]) -> tuple[str, list[Chunk]]:
    parts = []
    for n, c in enumerate(chunks, 1):
        body = c.text if len(c.text) <= MAX_QUOTE_CHARS else c.text[:MAX_QUOTE_CHARS].rstrip() + "……"
        parts.append(f"{body}[{n}]")
    return "\n".join(parts), chunks
