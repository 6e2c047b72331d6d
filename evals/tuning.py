"""Parameter sweeps on a question set: the refusal policy and the rank-fusion weights.

Each sweep runs retrieval once per question and then scores every setting in Python.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.answer import Answerer, Evidence, RefusalPolicy
from kb.answertype import expected_answer
from kb.retrieve import Fusion, Searcher, finish, rank_fused

from . import metrics as M
from .dataset import Question
from .matching import matched_places

Progress = Callable[[str, int, int], None]

COVERAGE_GRID = tuple(round(0.20 + 0.05 * i, 2) for i in range(13))  # 0.20 … 0.80
DENSE_GRID = tuple(round(0.72 + 0.01 * i, 2) for i in range(21))  # 0.72 … 0.92
TYPED_GRID = (0.1, 0.15, 0.2, 0.25, 0.3)
LEXICAL_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
FUSION_KS = (2, 5, 10, 20, 40, 60)
REGULATION_BOOSTS = (0.0, 0.25, 0.5, 1.0)
MIN_RECALL = 0.9
MAX_FALSE_REFUSALS = 0.05


@dataclass(frozen=True)
class PolicyScore:
    """How one refusal policy does on a question set."""

    policy: RefusalPolicy
    refusal_recall: float
    false_refusal_rate: float


def collect_evidence(answerer: Answerer, questions: Sequence[Question],
                     progress: Progress | None = None) -> list[tuple[Question, Evidence]]:
    """Return each question with the evidence assessment of its retrieval (Answerer.retrieve, run once)."""
    out = []
    for i, q in enumerate(questions, 1):
        _, _, evidence = answerer.retrieve(q.question)
        out.append((q, evidence))
        if progress:
            progress(q.id, i, len(questions))
    return out


def score_policy(rows: Sequence[tuple[Question, Evidence]], policy: RefusalPolicy) -> PolicyScore:
    """Return the refusal recall and false-refusal rate of ``policy`` on assessed questions."""
    refuse = [not e.sufficient(policy) for q, e in rows if not q.answerable]
    wrong = [not e.sufficient(policy) for q, e in rows if q.answerable]
    return PolicyScore(policy, sum(refuse) / len(refuse) if refuse else 0.0,
                       sum(wrong) / len(wrong) if wrong else 0.0)


def sweep_refusal(rows: Sequence[tuple[Question, Evidence]], coverages: Sequence[float] = COVERAGE_GRID,
                  denses: Sequence[float] = DENSE_GRID, typed: Sequence[float] = TYPED_GRID) -> list[PolicyScore]:
    """Return the score of every (min_coverage, min_dense, min_typed_coverage) setting of the grid."""
    return [score_policy(rows, RefusalPolicy(c, d, t)) for c in coverages for d in denses for t in typed]


def best_policy(scores: Sequence[PolicyScore], max_frr: float = MAX_FALSE_REFUSALS) -> PolicyScore | None:
    """Return the policy with the highest refusal recall among those with false refusals ≤ ``max_frr``.

    Ties go to fewer false refusals, then to the setting nearest the middle of the tied ones: a plateau's
    centre is least sensitive to the questions it was tuned on. Returns None when no setting qualifies.
    """
    ok = [s for s in scores if s.false_refusal_rate <= max_frr + 1e-12]
    if not ok:
        return None
    top = max((s.refusal_recall, -s.false_refusal_rate) for s in ok)
    tied = [s for s in ok if (s.refusal_recall, -s.false_refusal_rate) == top]
    steps = {"min_coverage": 0.05, "min_dense": 0.01, "min_typed_coverage": 0.05}
    centre = {name: sum(getattr(s.policy, name) for s in tied) / len(tied) for name in steps}
    return min(tied, key=lambda s: sum(((getattr(s.policy, n) - centre[n]) / step) ** 2 for n, step in steps.items()))


def frontier(scores: Sequence[PolicyScore]) -> list[PolicyScore]:
    """Return the trade-off curve: for each false-refusal rate, the setting with the highest refusal recall,
    keeping only those that beat every setting with fewer false refusals."""
    out: list[PolicyScore] = []
    for s in sorted(scores, key=lambda s: (s.false_refusal_rate, -s.refusal_recall)):
        if not out or s.refusal_recall > out[-1].refusal_recall:
            if out and s.false_refusal_rate == out[-1].false_refusal_rate:
                continue
            out.append(s)
    return out


@dataclass(frozen=True)
class Rankings:
    """One question's raw dense and lexical candidate lists and the article chunks its query pins."""

    question: Question
    dense: tuple[str, ...]
    lexical: tuple[str, ...]
    pinned: tuple[str, ...]
    relevant: dict
    regulations: frozenset[str] = frozenset()
    typed: frozenset[str] = frozenset()
    sentence: dict = field(default_factory=dict)
    named: frozenset[str] = frozenset()
    chunks: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FusionScore:
    """How one fusion setting ranks on a question set."""

    fusion: Fusion
    hit1: float
    hit5: float
    mrr: float


def collect_rankings(searcher: Searcher, questions: Sequence[Question],
                     progress: Progress | None = None) -> list[Rankings]:
    """Return the dense and lexical candidates (CANDIDATES each) of every answerable question, searched once."""
    out = []
    answerable = [q for q in questions if q.answerable]
    for i, q in enumerate(answerable, 1):
        dense_hits, lexical_hits = searcher.candidates(q.question)
        dense = tuple(cid for cid, _ in dense_hits if cid in searcher.chunks)
        lexical = tuple(cid for cid, _ in lexical_hits if cid in searcher.chunks)
        pinned = tuple(c.chunk_id for c in searcher.resolve_article(q.question, None))
        candidates = set(dense) | set(lexical) | set(pinned)
        relevant = {cid: bool(matched_places(searcher.chunk(cid).text, q.gold)) for cid in candidates}
        regulations = frozenset(c for c in candidates if searcher.chunk(c).doc_type == "regulation")
        expected = expected_answer(q.question, searcher.tokenizer.segment(q.question))
        typed = frozenset(c for c in candidates if expected and expected.found_in(searcher.chunk(c).text))
        sentence = searcher.sentence_coverage(q.question, candidates)
        docs = set(searcher.regulations_named(q.question))
        named = frozenset(c for c in candidates if searcher.chunk(c).doc_id in docs)
        chunks = {c: searcher.chunk(c) for c in candidates}
        out.append(Rankings(q, dense, lexical, pinned, relevant, regulations, typed, sentence, named, chunks))
        if progress:
            progress(q.id, i, len(answerable))
    return out


def fused_ranking(r: Rankings, fusion: Fusion, k: int = 10) -> list[str]:
    """Return the first ``k`` ids search() would give under ``fusion``: fused candidates behind any pinned article,
    each text once."""
    ranked = rank_fused(list(r.dense), list(r.lexical), r.regulations, fusion, r.typed, r.sentence, r.named)
    return [c.chunk_id for c, _ in finish(ranked, r.pinned, r.chunks, k)]


def score_fusion(rows: Sequence[Rankings], fusion: Fusion) -> FusionScore:
    """Return hit@1, hit@5 and MRR@10 of ``fusion`` over the collected rankings."""
    h1 = h5 = rr = 0.0
    for r in rows:
        matched = [frozenset({0}) if r.relevant.get(c) else frozenset() for c in fused_ranking(r, fusion)[:10]]
        h1 += M.hit_at(matched, 1)
        h5 += M.hit_at(matched, 5)
        rr += M.reciprocal_rank(matched, 10)
    n = len(rows) or 1
    return FusionScore(fusion, h1 / n, h5 / n, rr / n)


def sweep_fusion(rows: Sequence[Rankings], weights: Sequence[float] = LEXICAL_WEIGHTS,
                 ks: Sequence[int] = FUSION_KS, boosts: Sequence[float] = REGULATION_BOOSTS) -> list[FusionScore]:
    """Return the score of every (lexical weight, k, regulation boost) with dense weight 1 (only the ratio
    matters), and of lexical alone."""
    grid = [Fusion(1.0, w, k, b) for w in weights for k in ks for b in boosts]
    grid += [Fusion(0.0, 1.0, k, 0.0) for k in ks[:1]]
    return [score_fusion(rows, f) for f in grid]


def best_fusion(scores: Sequence[FusionScore]) -> FusionScore:
    """Return the setting with the best hit@5, then MRR@10, then hit@1."""
    return max(scores, key=lambda s: (round(s.hit5, 6), round(s.mrr, 6), round(s.hit1, 6)))
