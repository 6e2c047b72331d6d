"""Whether a question lies outside the knowledge base's domain: nearer to everyday questions than to any passage.

Two checks with the retrieval model itself. The question's vector is compared with everyday questions
(``data/off_topic.txt``) and with the passages retrieved for it: 推荐一款手机 and 1+1等于几 share words with the texts,
so word coverage cannot tell them apart; their nearest neighbours can. And a logistic model over the question's vector,
fitted on those and more everyday questions (``data/everyday.txt``) against questions of the domain
(``data/in_domain.txt``), tells an everyday question that no example resembles closely (拿破仑到底有多高).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DjkbError

EXAMPLES_FILE = Path(__file__).parent / "data" / "off_topic.txt"
IN_DOMAIN_FILE = Path(__file__).parent / "data" / "in_domain.txt"
EVERYDAY_FILE = Path(__file__).parent / "data" / "everyday.txt"
DOMAIN_C = 10.0
"""Inverse strength of the domain model's L2 penalty. Chosen with bot/assess.py's EVERYDAY_PROBABILITY by 5-fold
cross-validation on everyday-dev.jsonl and the fifteen dev splits (see there): at 30 one answered dev question is
flagged out of its fold (活动完了买的那些设备咋处理), at 10 none."""


def read_examples(path: Path = EXAMPLES_FILE) -> tuple[str, ...]:
    """Return the example questions of a file: one per line, ``#`` comments and blank lines skipped.

    Raises DjkbError when the file cannot be read as UTF-8 text.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DjkbError(f"无法读取离题示例文件 {path}（DJKB_OFF_TOPIC）：{exc.__class__.__name__}") from exc
    lines = (line.strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


@dataclass(frozen=True)
class OffTopic:
    """The query vectors of the everyday example questions, and the domain model's weights (None without one)."""

    vectors: np.ndarray
    weights: np.ndarray | None = None
    bias: float = 0.0

    @classmethod
    def build(cls, embed_queries: Callable[[list[str]], np.ndarray], examples: Sequence[str],
              in_domain: Sequence[str] = (), everyday: Sequence[str] = (),
              more_domain: np.ndarray | None = None) -> OffTopic:
        """Return the check for ``examples``, embedded as queries with ``embed_queries``, with a domain model fitted
        on them and ``everyday`` against ``in_domain`` questions (and the ``more_domain`` vectors, embedded already)
        when there are both classes."""
        if not examples:
            return cls(np.zeros((0, 0), dtype=np.float32))
        vectors = np.asarray(embed_queries(list(examples)), dtype=np.float32)
        if not in_domain:
            return cls(vectors)
        negative = np.vstack([vectors, np.asarray(embed_queries(list(everyday)), dtype=np.float32)]) if everyday else vectors
        positive = np.asarray(embed_queries(list(in_domain)), dtype=np.float32)
        if more_domain is not None and len(more_domain):
            positive = np.vstack([positive, more_domain])
        weights, bias = fit_logistic(negative, positive, DOMAIN_C)
        return cls(vectors, weights, bias)

    def similarity(self, vector: np.ndarray) -> float:
        """Return the cosine of ``vector`` to its nearest everyday question (−1 when there are none)."""
        if not len(self.vectors) or vector.shape[0] != self.vectors.shape[1]:
            return -1.0
        return float((self.vectors @ vector.astype(np.float32)).max())

    def everyday(self, vector: np.ndarray) -> float:
        """Return the domain model's probability that ``vector`` is an everyday question (0 without a model)."""
        if self.weights is None or vector.shape[0] != self.weights.shape[0]:
            return 0.0
        return float(1.0 / (1.0 + np.exp(-(float(self.weights @ vector.astype(np.float64)) + self.bias))))


def fit_logistic(positive: np.ndarray, negative: np.ndarray, c: float, iterations: int = 50) -> tuple[np.ndarray, float]:
    """Return the weights and bias of a logistic regression of ``positive`` against ``negative`` rows, both classes
    weighted equally, with an L2 penalty of 1 / (2 ``c``) on the weights, by Newton's method."""
    x = np.hstack([np.vstack([positive, negative]).astype(np.float64), np.ones((len(positive) + len(negative), 1))])
    y = np.r_[np.ones(len(positive)), np.zeros(len(negative))]
    weight = np.r_[np.full(len(positive), len(x) / (2 * len(positive))), np.full(len(negative), len(x) / (2 * len(negative)))]
    penalty = np.full(x.shape[1], 1.0 / c)
    penalty[-1] = 0.0  # the bias is not penalized
    beta = np.zeros(x.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x @ beta)))
        gradient = x.T @ (weight * (p - y)) + penalty * beta
        hessian = (x * (weight * p * (1.0 - p))[:, None]).T @ x + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-9:
            break
    return beta[:-1], float(beta[-1])
