"""Ranking: weighted reciprocal-rank fusion of the dense, lexical and sentence-vector lists with their priors, and
the final list (pinned article first, each text once, reprints shown as their regulation)."""
from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass

from .schema import Chunk
from .text import canonical

RERANK_DEPTH = 20


@dataclass(frozen=True)
class Fusion:
    """Weighted reciprocal-rank fusion of the dense, word, bigram and sentence lists plus priors; tuned on the dev splits
    (see README)."""

    dense_weight: float = 1.0
    # Word BM25 and character-bigram BM25 share the lexical vote: bigrams need no word boundaries, so colloquial
    # wording (吃吃喝喝 → 吃喝) and typos still meet the text. Chosen on the seven dev splits (dev, cadre-, fresh-,
    # blind3- to blind6-dev; pooled hit@1 / hit@5): 0.774 / 0.956 with words alone at 1.0, 0.799 / 0.960 at 0.5 each
    # (a plateau of 0.79-0.80 for each weight in 0.4-0.6 and k 3 or 5).
    lexical_weight: float = 0.5
    grams_weight: float = 0.5
    k: int = 3
    # A prior, in units of a rank-1 dense contribution: cadres ask about rules, so the regulation itself should
    # outrank the news and study notes that retell it. 0.5 before the article questions (asked_weight), which lift
    # regulations themselves; lowered with them (below).
    regulation_boost: float = 0.25
    # The same unit: a question asking 几天/多少人/百分之几 is answered only by a passage that states such a number.
    answer_type_boost: float = 1.0
    # Per unit of the best sentence's query coverage, for the first RERANK_DEPTH fused candidates: a passage with
    # one sentence that holds the question's words beats a long one that scatters them (hit@1 on the quiz set 0.747
    # without it, 0.834 with it and the title prior at 0.8; raised to 1.2 with small_weight, below).
    sentence_weight: float = 1.2
    # For chunks of a regulation the query names (``党章规定……``, ``纪律处分条例中……``).
    title_boost: float = 0.5
    # The ranking of regulation chunks by their best sentence's vector (small-to-big). Chosen with sentence_weight
    # on dev.jsonl + cadre-dev.jsonl (mean hit@1 0.773 without sentence vectors, 0.783 at 1.0, 0.800 at 0.5).
    small_weight: float = 0.5
    # The same unit, taken from a regulation that governs another kind of organization than the question's, and from
    # its reprints (kb/workplace.py: the 机关 regulation's 3人以上 for 我们公司就三个正式党员). Chosen on the dev splits:
    # no penalty, only no regulation prior, moved 2 questions to rank 1; 1.0, with 建支部 → 成立党的基层组织 in the
    # term map, 2 more, and cost one quiz question whose passage (国有企业党组织) only the 机关 regulation holds.
    scope_penalty: float = 1.0
    # The ranking of regulation articles by the nearest question written for them (kb/asked.py). Chosen with
    # regulation_boost on the sixteen dev splits (pooled over their 911 single-turn answerable questions, hit@1 /
    # hit@5): 0.774 / 0.960 without; 0.820 / 0.973 at 0.5, 0.839 / 0.974 at 0.75, 0.833 / 0.974 at 1.0, 0.775 / 0.946 at
    # 2.0; 0.75 with regulation_boost 0.25: 0.839 / 0.975, and quiz 0.866 / 0.968 → 0.874 / 0.972 (0.854 / 0.968 at
    # 0.5), dev.jsonl 0.880 / 0.995 → 0.885 / 0.989.
    asked_weight: float = 0.75


DEFAULT_FUSION = Fusion()


@dataclass(frozen=True)
class Candidates:
    """What ranking needs of one query: both candidate lists, the pinned article and the priors' chunk sets."""

    dense: tuple[tuple[str, float], ...]
    lexical: tuple[tuple[str, float], ...]
    small: tuple[tuple[str, float], ...] = ()  # chunks by their best sentence's vector
    grams: tuple[tuple[str, float], ...] = ()  # chunks by BM25 over character bigrams
    asked: tuple[tuple[str, float], ...] = ()  # articles' chunks by the nearest question written for them
    pinned: tuple[str, ...] = ()
    regulations: frozenset[str] = frozenset()
    typed: frozenset[str] = frozenset()
    named: frozenset[str] = frozenset()
    sentence: Mapping[str, float] | None = None
    elsewhere: frozenset[str] = frozenset()  # chunks of a regulation governing another kind of organization

    @property
    def ids(self) -> set[str]:
        return ({c for c, _ in self.dense} | {c for c, _ in self.lexical} | {c for c, _ in self.small}
                | {c for c, _ in self.grams} | {c for c, _ in self.asked} | set(self.pinned))

    def fused(self, fusion: Fusion, sentence: Mapping[str, float] | None = None) -> list[tuple[str, float]]:
        """Return the ids ranked by ``fusion`` (``sentence`` overrides the stored sentence coverage)."""
        return rank_fused([c for c, _ in self.dense], [c for c, _ in self.lexical], self.regulations, fusion,
                          self.typed, self.sentence if sentence is None else sentence, self.named,
                          [c for c, _ in self.small], [c for c, _ in self.grams], self.elsewhere,
                          [c for c, _ in self.asked])


def fuse(rankings: Iterable[tuple[float, list[str]]], k: int) -> dict[str, float]:
    """Return weighted reciprocal-rank-fusion scores for ``(weight, ranked ids)`` lists."""
    scores: dict[str, float] = {}
    for weight, ids in rankings:
        if not weight:
            continue  # a list without weight must not add candidates that only the priors would then rank
        for rank, cid in enumerate(ids, 1):
            scores[cid] = scores.get(cid, 0.0) + weight / (k + rank)
    return scores


def rank_fused(dense: list[str], lexical: list[str], regulations: Set[str], fusion: Fusion,
               typed: Set[str] = frozenset(), sentence: Mapping[str, float] | None = None,
               named: Set[str] = frozenset(), small: Sequence[str] = (),
               grams: Sequence[str] = (), elsewhere: Set[str] = frozenset(),
               asked: Sequence[str] = ()) -> list[tuple[str, float]]:
    """Return ids ranked by ``fusion``: weighted RRF of the dense, lexical and sentence-vector (``small``) lists,
    plus the priors for chunks in ``regulations``, in ``typed`` (those stating the kind of answer the query asks
    for) and in ``named`` (of a document the query names), less the penalty for those in ``elsewhere``, then the
    first RERANK_DEPTH re-scored by ``sentence`` (each chunk's best sentence coverage)."""
    scores = fuse([(fusion.dense_weight, dense), (fusion.lexical_weight, lexical), (fusion.small_weight, list(small)),
                   (fusion.grams_weight, list(grams)), (fusion.asked_weight, list(asked))], fusion.k)
    unit = fusion.dense_weight / (fusion.k + 1)
    scores = {cid: s + unit * (fusion.regulation_boost * (cid in regulations) + fusion.answer_type_boost * (cid in typed)
                               + fusion.title_boost * (cid in named) - fusion.scope_penalty * (cid in elsewhere))
              for cid, s in scores.items()}
    ranked = sorted(scores.items(), key=lambda x: -x[1])
    if not sentence or not fusion.sentence_weight:
        return ranked
    head = [(cid, s + unit * fusion.sentence_weight * sentence.get(cid, 0.0)) for cid, s in ranked[:RERANK_DEPTH]]
    return sorted(head, key=lambda x: -x[1]) + ranked[RERANK_DEPTH:]


def finish(ranked: list[tuple[str, float]], pinned: Sequence[str], chunks: Mapping[str, Chunk],
           k: int, original: Mapping[str, str] | None = None) -> list[tuple[Chunk, float]]:
    """Return the first ``k`` (chunk, score): the pinned article's chunks first, then ``ranked``, each text once,
    a reprint shown as the regulation passage it republishes (``original``: reprint id → regulation chunk id)."""
    if pinned:
        top = ranked[0][1] if ranked else 1.0
        first = set(pinned)
        ranked = [(cid, top + 1.0) for cid in pinned] + [r for r in ranked if r[0] not in first]
    if original:
        ranked = [(original.get(cid, cid), score) for cid, score in ranked]
    return distinct([(chunks[cid], score) for cid, score in ranked if cid in chunks], k)


@functools.lru_cache(maxsize=65536)
def _text_key(text: str) -> str:
    return canonical(text)


def distinct(ranked: list[tuple[Chunk, float]], k: int) -> list[tuple[Chunk, float]]:
    """Return the first ``k`` of ``ranked`` with each text once: study notes republish regulations word for word.

    A repeated text keeps the best rank, shown from a regulation when one of the copies is one.
    """
    kept: dict[str, int] = {}
    out: list[tuple[Chunk, float]] = []
    for chunk, score in ranked:
        key = _text_key(chunk.text)
        if key not in kept:
            if len(out) == k:
                continue  # later copies can still upgrade a kept text to its regulation
            kept[key] = len(out)
            out.append((chunk, score))
        elif chunk.doc_type == "regulation" and out[kept[key]][0].doc_type != "regulation":
            out[kept[key]] = (chunk, out[kept[key]][1])
    return out
