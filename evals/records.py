"""Per-question results and their cache: one JSON line per (question, mode), keyed so a rerun reuses them."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from kb.schema import Chunk

from .dataset import Question

ANSWER_MODE = "answer"
CACHE_VERSION = 1


@dataclass(frozen=True)
class Passage:
    """What a report needs of a retrieved or cited chunk."""

    chunk_id: str
    doc_title: str
    heading: str
    article: str | None
    text: str

    @classmethod
    def from_chunk(cls, chunk: Chunk) -> Passage:
        return cls(chunk.chunk_id, chunk.doc_title, chunk.heading, chunk.article, chunk.text)


@dataclass(frozen=True)
class Record:
    """One question run through one retrieval mode, or through answering (``mode == "answer"``).

    ``gold_titles`` holds, per gold place, the titles of the documents that hold it (see runner.gold_titles);
    ``hits`` are the ranked hits (for answers: the passages the answerer retrieved).
    """

    key: str
    qid: str
    mode: str
    generation: str
    latency_ms: float
    hits: tuple[Passage, ...] = ()
    gold_titles: tuple[tuple[str, ...], ...] = ()
    refused: bool | None = None
    answer: str | None = None
    citations: tuple[Passage, ...] = ()

    def to_json(self) -> dict:
        return {"v": CACHE_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, d: dict) -> Record:
        d = {k: v for k, v in d.items() if k != "v"}
        d["hits"] = tuple(Passage(**h) for h in d.get("hits", ()))
        d["citations"] = tuple(Passage(**h) for h in d.get("citations", ()))
        d["gold_titles"] = tuple(tuple(t) for t in d.get("gold_titles", ()))
        return cls(**d)


def record_key(q: Question, mode: str, generation: str, k: int) -> str:
    """Return the cache key: question id and text, mode, knowledge-base generation, k and the gold places."""
    gold = [[g.doc, g.article, g.evidence] for g in q.gold]
    raw = json.dumps([CACHE_VERSION, q.id, q.question, list(q.history), mode, generation, k, gold], ensure_ascii=False)
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:20]


def load_records(path: Path) -> dict[str, Record]:
    """Return cached records by key (a later line wins); a torn last line from an interrupted run is skipped."""
    out: dict[str, Record] = {}
    if not Path(path).exists():
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rec = Record.from_json(json.loads(line))
            except (json.JSONDecodeError, TypeError, KeyError):
                continue
            out[rec.key] = rec
    return out


def append_records(path: Path, records: Iterable[Record]) -> None:
    """Append records to the cache file, flushing each so an interrupted run keeps what it finished."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec.to_json(), ensure_ascii=False) + "\n")
            f.flush()


def latest_by_question(records: Iterable[Record]) -> dict[tuple[str, str], Record]:
    """Return the last record of each (question id, mode)."""
    return {(r.qid, r.mode): r for r in records}
