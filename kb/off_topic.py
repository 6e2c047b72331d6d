"""Whether a question lies outside the knowledge base's domain: nearer to everyday questions than to any passage.

A zero-shot check with the retrieval model itself: the question's vector is compared with everyday questions
(``data/off_topic.txt``, the negative class) and with the passages retrieved for it. 推荐一款手机 and 1+1等于几 share
words with the texts, so word coverage cannot tell them apart; their nearest neighbours can.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DjkbError

EXAMPLES_FILE = Path(__file__).parent / "data" / "off_topic.txt"


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
    """The query vectors of the everyday example questions."""

    vectors: np.ndarray

    @classmethod
    def build(cls, embed_queries: Callable[[list[str]], np.ndarray], examples: Sequence[str]) -> OffTopic:
        """Return the check for ``examples``, embedded as queries with ``embed_queries``."""
        if not examples:
            return cls(np.zeros((0, 0), dtype=np.float32))
        return cls(np.asarray(embed_queries(list(examples)), dtype=np.float32))

    def similarity(self, vector: np.ndarray) -> float:
        """Return the cosine of ``vector`` to its nearest everyday question (−1 when there are none)."""
        if not len(self.vectors) or vector.shape[0] != self.vectors.shape[1]:
            return -1.0
        return float((self.vectors @ vector.astype(np.float32)).max())
