"""What a trainer asked for and what was made for it, kept so that 导出 writes what the app shows."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kb.errors import DjkbError

from . import limits
from . import messages as msg

if TYPE_CHECKING:
    from .study import Quiz, StudyOutline


@dataclass(frozen=True)
class StudyRequest:
    """What study materials were asked for: a topic, how many quiz items, and the seed that picks them."""

    topic: str
    n: int = 10
    seed: int = 0

    @classmethod
    def of(cls, topic: str | None, n: float | None = 10, seed: float | None = 0) -> StudyRequest:
        """Return the request with the topic stripped and ``n`` clamped to 1–30; raises DjkbError for no topic."""
        if not (topic or "").strip():
            raise DjkbError(msg.EMPTY_TOPIC)
        topic = limits.question(topic, "学习主题", limits.MAX_TOPIC_CHARS)
        return cls(topic, limits.integer(n, "题目数量 n", 1, limits.MAX_QUIZ, default=10),
                   limits.integer(seed, "随机种子 seed", 0, limits.MAX_SEED, default=0))


@dataclass(frozen=True)
class StudyMaterials:
    """An outline and a quiz made for one request (the app keeps them to export what it shows)."""

    request: StudyRequest
    outline: StudyOutline
    quiz: Quiz
