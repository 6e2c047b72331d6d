"""Parameter sweeps on a question set: the refusal policy and the rank-fusion weights.

Each sweep runs retrieval once per question and then scores every setting in Python.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from bot.answer import Answerer
from bot.assess import Answerability, Evidence
from kb.fusion import DEFAULT_FUSION, Candidates, Fusion, finish
from kb.retrieve import Searcher

from . import metrics as M
from .dataset import Question
from .matching import matched_places

Progress = Callable[[str, int, int], None]

LEXICAL_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
GRAMS_WEIGHTS = (0.0, 0.5, 1.0)
FUSION_KS = (2, 3, 5, 10, 20, 40, 60)
REGULATION_BOOSTS = (0.0, 0.25, 0.5, 1.0)
MAX_FALSE_REFUSALS = 0.05
L2 = 0.01
"""Ridge penalty of the answerability fit: enough to keep the weights finite on separable dev data."""


@dataclass(frozen=True)
class PolicyScore:
    """How one answerability model does on a question set."""

    policy: Answerability
    refusal_recall: float
    false_refusal_rate: float


def collect_evidence(answerer: Answerer, questions: Sequence[Question],
                     progress: Progress | None = None) -> list[tuple[Question, Evidence]]:
    """Return each question with the evidence assessment of its retrieval (Answerer.retrieve, run once)."""
    out = []
    for i, q in enumerate(questions, 1):
        r = answerer.retrieve(q.question, answerer.converse(q.history))
        out.append((q, r.evidence))
        if progress:
            progress(q.id, i, len(questions))
    return out


def score_policy(rows: Sequence[tuple[Question, Evidence]], policy: Answerability) -> PolicyScore:
    """Return the refusal recall and false-refusal rate of ``policy`` on assessed questions."""
    refuse = [not e.sufficient(policy) for q, e in rows if not q.answerable]
    wrong = [not e.sufficient(policy) for q, e in rows if q.answerable]
    return PolicyScore(policy, sum(refuse) / len(refuse) if refuse else 0.0,
                       sum(wrong) / len(wrong) if wrong else 0.0)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = 50) -> tuple[np.ndarray, float]:
    """Return (weights, bias) of an L2-regularized logistic regression, fitted by Newton's method."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    penalty = np.eye(xb.shape[1]) * l2
    penalty[-1, -1] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-xb @ w))
        grad = xb.T @ (p - y) + penalty @ w
        hess = xb.T @ (xb * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def fit_answerability(rows: Sequence[tuple[Question, Evidence]],
                      max_frr: float = MAX_FALSE_REFUSALS) -> PolicyScore:
    """Return the model fitted on the questions no hard reason decides, with the highest threshold whose false
    refusals (hard reasons included) stay ≤ ``max_frr``."""
    free = [(q, e) for q, e in rows if not e.unmet and not e.pinned]
    x = np.array([e.features for _, e in free], dtype=float)
    y = np.array([1.0 if q.answerable else 0.0 for q, _ in free])
    weights, bias = fit_logistic(x, y)
    model = Answerability(tuple(round(float(v), 3) for v in weights), round(bias, 3), 0.5)
    best = None
    for threshold in sorted({round(model.score(e.features), 3) for _, e in free} | {0.0}):
        s = score_policy(rows, Answerability(model.weights, model.bias, threshold))
        if s.false_refusal_rate <= max_frr + 1e-12 and (best is None or s.refusal_recall >= best.refusal_recall):
            best = s
    return best or score_policy(rows, replace(model, threshold=0.0))


@dataclass(frozen=True)
class Rankings:
    """One question's candidates (as search builds them) and which of them hold its gold evidence."""

    question: Question
    candidates: Candidates
    relevant: dict
    chunks: dict
    original: dict


@dataclass(frozen=True)
class FusionScore:
    """How one fusion setting ranks on a question set."""

    fusion: Fusion
    hit1: float
    hit5: float
    mrr: float


def collect_rankings(searcher: Searcher, questions: Sequence[Question],
                     progress: Progress | None = None) -> list[Rankings]:
    """Return the candidates of every answerable question, searched once (Searcher.gather, all sentences scored)."""
    out = []
    answerable = [q for q in questions if q.answerable and not q.history]
    for i, q in enumerate(answerable, 1):
        cands = searcher.gather(searcher.parse(q.question), all_sentences=True)
        ids = cands.ids | {searcher.original.get(c, c) for c in cands.ids}
        chunks = {c: searcher.chunk(c) for c in ids if c in searcher.chunks}
        relevant = {c: bool(matched_places(chunk.text, q.gold)) for c, chunk in chunks.items()}
        out.append(Rankings(q, cands, relevant, chunks, searcher.original))
        if progress:
            progress(q.id, i, len(answerable))
    return out


def fused_ranking(r: Rankings, fusion: Fusion, k: int = 10) -> list[str]:
    """Return the first ``k`` ids search() would give under ``fusion``."""
    return [c.chunk_id for c, _ in finish(r.candidates.fused(fusion), r.candidates.pinned, r.chunks, k, r.original)]


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
                 grams: Sequence[float] = GRAMS_WEIGHTS, ks: Sequence[int] = FUSION_KS,
                 boosts: Sequence[float] = REGULATION_BOOSTS) -> list[FusionScore]:
    """Return the score of every (lexical weight, bigram weight, k) with dense weight 1 (only the ratios matter), of
    every regulation boost at the default weights, and of word BM25 alone."""
    grid = [replace(DEFAULT_FUSION, dense_weight=1.0, lexical_weight=w, grams_weight=g, k=k)
            for w in weights for g in grams for k in ks]
    grid += [replace(DEFAULT_FUSION, regulation_boost=b) for b in boosts]
    grid += [replace(DEFAULT_FUSION, dense_weight=0.0, lexical_weight=1.0, grams_weight=0.0, k=k, regulation_boost=0.0)
             for k in ks[:1]]
    return [score_fusion(rows, f) for f in dict.fromkeys(grid)]


def best_fusion(scores: Sequence[FusionScore]) -> FusionScore:
    """Return the setting with the best hit@5, then MRR@10, then hit@1."""
    return max(scores, key=lambda s: (round(s.hit5, 6), round(s.mrr, 6), round(s.hit1, 6)))
