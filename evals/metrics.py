"""Metric functions on one question's results: pure, and all resting on matching.matches (the hit rule).

A ranked list is given as ``matched``: for each hit, the set of gold-place indices it holds (empty: irrelevant).
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

from bot.citations import MARKER
from kb.sentences import split_sentences
from kb.text import char_overlap

from .dataset import Gold
from .records import Passage

CUTOFFS = (1, 3, 5, 10)
FAITHFUL_OVERLAP = 0.6
_MARKER_GROUP = re.compile(r"((?:\s*\[\d{1,2}\])+)")
_WORD = re.compile(r"\w")

Matched = Sequence[frozenset[int]]


def first_rank(matched: Matched, k: int) -> int | None:
    """Return the 1-based rank of the first hit within ``k`` that holds any gold place, or None."""
    return next((i for i, m in enumerate(matched[:k], 1) if m), None)


def hit_at(matched: Matched, k: int) -> float:
    """Return 1.0 when some hit within the top ``k`` holds a gold place, else 0.0."""
    return 1.0 if first_rank(matched, k) else 0.0


def reciprocal_rank(matched: Matched, k: int = 10) -> float:
    """Return 1 / rank of the first hit holding a gold place within ``k``, or 0.0."""
    r = first_rank(matched, k)
    return 1.0 / r if r else 0.0


def ndcg(matched: Matched, n_places: int, k: int = 10) -> float:
    """Return nDCG@k with binary relevance per gold place.

    A hit gains 1 for each gold place it is the first to hold; later hits holding the same place gain nothing.
    The ideal ranking holds one new place per rank, so one hit holding two places can reach 1.0 (capped).
    """
    if n_places <= 0:
        return 0.0
    credited: set[int] = set()
    dcg = 0.0
    for i, m in enumerate(matched[:k], 1):
        new = m - credited
        if new:
            dcg += len(new) / math.log2(i + 1)
            credited |= new
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(n_places, k) + 1))
    return min(1.0, dcg / ideal)


def article_correct(top: Passage | None, gold: Sequence[Gold], titles: Sequence[Sequence[str]]) -> float | None:
    """Return 1.0 when ``top`` carries a gold place's article label from one of that place's documents.

    Returns None when no gold place has an article (the question does not count).
    """
    places = [(g, t) for g, t in zip(gold, titles) if g.article]
    if not places:
        return None
    if top is None:
        return 0.0
    return 1.0 if any(top.article == g.article and top.doc_title in t for g, t in places) else 0.0


def citation_precision(cited: Matched) -> float | None:
    """Return the share of citations that hold a gold place; None when nothing was cited."""
    return sum(1 for m in cited if m) / len(cited) if cited else None


def citation_recall(cited: Matched, n_places: int) -> float:
    """Return the share of gold places held by at least one citation."""
    held = set().union(*cited) if cited else set()
    return len(held) / n_places if n_places else 0.0


def citation_article(citations: Sequence[Passage], gold: Sequence[Gold],
                     titles: Sequence[Sequence[str]]) -> float | None:
    """Return the share of gold places with an article that some citation names correctly; None if none has one."""
    places = [(g, t) for g, t in zip(gold, titles) if g.article]
    if not places:
        return None
    ok = sum(1 for g, t in places if any(c.article == g.article and c.doc_title in t for c in citations))
    return ok / len(places)


def claims(answer: str) -> list[tuple[str, tuple[int, ...]]]:
    """Return the answer's sentences, each with the markers of the run it belongs to.

    A marker group ``[1][2]`` covers every sentence since the previous group, so a quoted article ending in one
    ``[1]`` is cited as a whole; sentences after the last group cite nothing.
    """
    pieces = _MARKER_GROUP.split(answer)
    out = []
    for text, group in zip(pieces[0::2], pieces[1::2] + [""]):
        cited = tuple(dict.fromkeys(int(n) for n in MARKER.findall(group)))
        for s, e in split_sentences(text):
            if _WORD.search(text[s:e]):
                out.append((text[s:e], cited))
    return out


def faithfulness(answer: str, passages: Mapping[int, str]) -> float | None:
    """Return the share of answer sentences supported by a passage they cite (see ``claims``).

    Supported: at least FAITHFUL_OVERLAP of the sentence's canonical characters occur in one cited passage
    (characters, not ROUGE tokens, which score Chinese as 0). A sentence citing nothing is unsupported.
    Returns None for an answer without sentences.
    """
    found = claims(answer)
    if not found:
        return None
    good = sum(1 for sentence, cited in found
               if any(char_overlap(sentence, passages[n]) >= FAITHFUL_OVERLAP for n in cited if n in passages))
    return good / len(found)


def mean(values: Iterable[float | None]) -> float | None:
    """Return the mean of the values that are not None, or None when there are none."""
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def percentile(values: Iterable[float], q: float) -> float | None:
    """Return the ``q``-th percentile (0–100, linear interpolation), or None for no values."""
    vals = sorted(values)
    if not vals:
        return None
    pos = (len(vals) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)
