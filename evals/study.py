"""``djkb eval study``: outline recall of the must-have articles of evals/datasets/topics.jsonl and the share of
valid quiz items, on the dev half (odd topic ids, used for tuning) and the test half (even ids) separately.

A must-have article is covered when an outline point comes from the same document and either carries the same
article label or its chunk holds the evidence (the hit rule of evals.matching; 政治建设的意见 has sections, not 条).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.outline import StudyOutline, outline
from bot.quiz import make_quiz
from bot.distractors import TruthCheck
from bot.quizcheck import check_item
from bot.sources import ReprintIndex, rank_of
from kb.retrieve import Searcher

from .matching import matches

DEFAULT_TOPICS = Path(__file__).parent / "datasets" / "topics.jsonl"
QUIZ_ITEMS = 10


@dataclass(frozen=True)
class Must:
    doc: str
    article: str
    evidence: str


@dataclass(frozen=True)
class Topic:
    id: str
    topic: str
    must: tuple[Must, ...]
    stages: tuple[str, ...] = ()

    @property
    def half(self) -> str:
        """Return ``dev`` for odd ids (tuning), ``test`` for even ones."""
        return "dev" if int(self.id.rsplit("-", 1)[1]) % 2 else "test"


@dataclass(frozen=True)
class TopicResult:
    id: str
    topic: str
    half: str
    covered: int
    must: int
    missed: tuple[str, ...]
    points: int
    reprint_points: int
    asked: int
    items: int
    valid: int
    invalid: tuple[str, ...]
    shortfall: str

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def load_topics(path: Path = DEFAULT_TOPICS) -> list[Topic]:
    """Read the topics set; raises ValueError naming the line of a malformed record."""
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            out.append(Topic(d["id"], d["topic"], tuple(Must(m["doc"], m["article"], m["evidence"]) for m in d["must"]),
                             tuple(d.get("stages", ()))))
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: 主题记录格式不对（需要 id、topic、must）: {exc}") from exc
    return out


def _same_doc(searcher: Searcher, doc_id: str, must_doc: str) -> bool:
    entry = searcher.manifest.documents.get(doc_id)
    return bool(entry) and any(s.endswith("/" + must_doc) or s == must_doc for s in entry.sources)


def covered(searcher: Searcher, result: StudyOutline, must: Must) -> bool:
    """Return whether an outline point cites ``must``'s article (same document; same label or holding the evidence)."""
    for p in result.points:
        if _same_doc(searcher, p.source.doc_id, must.doc):
            if p.source.article == must.article or matches(searcher.chunk(p.source.chunk_id).text, must.evidence):
                return True
    return False


def reprint_points(result: StudyOutline, index: ReprintIndex, searcher: Searcher) -> int:
    """Return how many points cite a reprint whose text a regulation in the knowledge base states itself."""
    return sum(1 for p in result.points if rank_of(searcher.chunk(p.source.chunk_id)) != 0
               and index.original(searcher.chunk(p.source.chunk_id)) not in (None, p.source.chunk_id))


def run_topic(searcher: Searcher, topic: Topic, index: ReprintIndex, asked: int = QUIZ_ITEMS) -> TopicResult:
    """Build the outline and a quiz of ``asked`` items for one topic and score both."""
    result = outline(searcher, topic.topic)
    hits = [covered(searcher, result, m) for m in topic.must]
    quiz = make_quiz(searcher, topic.topic, n=asked, outline_=result)
    truth = TruthCheck.of(searcher)
    problems = [(i, check_item(searcher, item, topic.topic, truth)) for i, item in enumerate(quiz.items, 1)]
    invalid = tuple(f"{i}: {'; '.join(p)}" for i, p in problems if p)
    return TopicResult(topic.id, topic.topic, topic.half, sum(hits), len(hits),
                       tuple(f"{m.article}" for m, h in zip(topic.must, hits) if not h), len(result.points),
                       reprint_points(result, index, searcher), asked, len(quiz.items),
                       len(quiz.items) - len(invalid), invalid, quiz.shortfall)


def summarize(results: Sequence[TopicResult]) -> dict:
    """Return recall, reprint citations, valid share and unexplained shortfalls per half and overall."""
    out = {}
    for half in ("dev", "test", "all"):
        rs = [r for r in results if half in ("all", r.half)]
        must = sum(r.must for r in rs)
        items = sum(r.items for r in rs)
        out[half] = {
            "topics": len(rs), "recall": round(sum(r.covered for r in rs) / must, 4) if must else 0.0,
            "mean_points": round(sum(r.points for r in rs) / len(rs), 1) if rs else 0.0,
            "reprint_points": sum(r.reprint_points for r in rs),
            "items": items, "valid_share": round(sum(r.valid for r in rs) / items, 4) if items else 0.0,
            "short_topics": sum(r.items < r.asked for r in rs),
            "unexplained_shortfalls": sum(r.items < r.asked and not r.shortfall for r in rs),
        }
    return out


def run(searcher: Searcher, topics: Sequence[Topic], *, half: str = "all",
        progress: Callable[[str, int, int], None] | None = None) -> tuple[list[TopicResult], dict]:
    """Run every topic of ``half`` (dev, test or all); return the per-topic results and the summary."""
    chosen = [t for t in topics if half in ("all", t.half)]
    index = ReprintIndex.build(searcher.chunks.values())
    results = []
    for i, t in enumerate(chosen, 1):
        results.append(run_topic(searcher, t, index))
        if progress:
            progress(t.id, i, len(chosen))
    return results, summarize(results)
