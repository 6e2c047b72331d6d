"""Records passed between packages: documents, chunks, hits, citations and answers."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

DocType = Literal["regulation", "speech", "other"]
DOC_TYPES: tuple[str, ...] = ("regulation", "speech", "other")
HEADING_SEP = " > "


@dataclass(frozen=True)
class Audit:
    """Completeness check of one parsed document."""

    articles: int
    article_gaps: tuple[str, ...] = ()
    uncovered_chars: int = 0
    overlapping_chars: int = 0

    @property
    def ok(self) -> bool:
        return not self.article_gaps and not self.uncovered_chars and not self.overlapping_chars

    def summary(self) -> str:
        """Return a one-line Chinese summary, e.g. ``完整`` or ``缺条: 第五条``."""
        if self.ok:
            return "完整"
        parts = []
        if self.article_gaps:
            parts.append("缺条: " + "、".join(self.article_gaps))
        if self.uncovered_chars:
            parts.append(f"未入块字符 {self.uncovered_chars}")
        if self.overlapping_chars:
            parts.append(f"重复入块字符 {self.overlapping_chars}")
        return "；".join(parts)


@dataclass(frozen=True)
class Document:
    """A source document after reading and normalization."""

    doc_id: str
    title: str
    doc_type: DocType
    source: str
    text: str
    content_hash: str
    date: str | None = None
    issuer: str | None = None
    edition: str | None = None
    effective_date: str | None = None


# Slots: a searcher holds every chunk, and a per-instance dict cost about 500 bytes of each.
@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrievable span ``document.text[char_start:char_end]`` with its place in the structure."""

    chunk_id: str
    doc_id: str
    text: str
    doc_title: str
    doc_type: DocType
    source: str
    heading_path: tuple[str, ...] = ()
    article: str | None = None
    article_no: int | None = None
    char_start: int = 0
    char_end: int = 0
    date: str | None = None
    issuer: str | None = None
    edition: str | None = None
    quotes: str | None = None  # the title of the regulation an article quotation (【条文】) in a study note is from

    @property
    def heading(self) -> str:
        """Return the heading path joined for display, e.g. ``第二章 党的组织制度 > 第十条``."""
        return HEADING_SEP.join(self.heading_path)

    @property
    def cited_as(self) -> str:
        """Return how a citation names this passage's source: 《中国共产党纪律处分条例》（2018年修订）, or for a quoted
        article 《中国共产党纪律处分条例》（2023年修订）第十九条（摘自《…解读1》）."""
        if self.quotes:
            edition = f"（{self.edition}）" if self.edition else ""
            return f"《{self.quotes}》{edition}{self.article or ''}（摘自《{self.doc_title}》）"
        edition = f"（{self.edition}）" if self.edition and self.doc_type != "speech" else ""
        return f"《{self.doc_title}》{edition}"

    def embedding_text(self) -> str:
        """Return the text that is embedded and indexed: title and headings give a passage its context."""
        return f"{self.doc_title} {self.heading}\n{self.text}"

    def to_dict(self) -> dict:
        """Return a JSON-ready dict with ``heading_path`` joined as a string."""
        d = asdict(self)
        d["heading_path"] = self.heading
        return d


@dataclass(frozen=True)
class Hit:
    """A chunk returned by a search, with its fused score and 1-based rank."""

    chunk: Chunk
    score: float
    rank: int
    dense: float | None = None
    lexical: float | None = None

    def to_dict(self) -> dict:
        """Return the JSON shape used by ``djkb search --json``."""
        c = self.chunk
        return {
            "rank": self.rank,
            "score": round(float(self.score), 6),
            "chunk_id": c.chunk_id,
            "text": c.text,
            "doc_title": c.doc_title,
            "doc_type": c.doc_type,
            "source": c.source,
            "heading_path": c.heading,
            "article": c.article,
            "edition": c.edition,
            "cited_as": c.cited_as,
        }


@dataclass(frozen=True)
class Citation:
    """A numbered passage an answer rests on."""

    n: int
    chunk: Chunk

    def to_dict(self) -> dict:
        c = self.chunk
        return {
            "n": self.n,
            "chunk_id": c.chunk_id,
            "doc_title": c.doc_title,
            "heading_path": c.heading,
            "article": c.article,
            "edition": c.edition,
            "cited_as": c.cited_as,
            **({"quotes": c.quotes} if c.quotes else {}),
            "text": c.text,
            "source": c.source,
        }


@dataclass(frozen=True)
class Notice:
    """A warning attached to an answer about the text it rests on: superseded, only quoted, edition missing."""

    kind: str  # superseded, repealed, quotation, edition
    doc_id: str | None
    edition: str | None
    current_edition: str | None
    evidence: str
    text: str

    def to_dict(self) -> dict:
        return {"kind": self.kind, "doc_id": self.doc_id, "edition": self.edition,
                "current_edition": self.current_edition, "evidence": self.evidence, "text": self.text}


@dataclass(frozen=True)
class Answer:
    """A composed answer, its citations and whether the bot declined to answer."""

    query: str
    answer: str
    refused: bool
    citations: tuple[Citation, ...] = ()
    rewritten_query: str | None = None
    related: tuple[Hit, ...] = ()
    unsupported: tuple[str, ...] = field(default=())
    notice: str | None = None
    reason: str | None = None
    notices: tuple[Notice, ...] = ()
    topic: tuple[str, ...] = ()  # words of the conversation a follow-up was searched with besides its own

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "rewritten_query": self.rewritten_query or self.query,
            "answer": self.answer,
            "refused": self.refused,
            "reason": self.reason,
            "citations": [c.to_dict() for c in self.citations],
            "notices": [n.to_dict() for n in self.notices],
            **({"notice": self.notice} if self.notice else {}),
            **({"unsupported": list(self.unsupported)} if self.unsupported else {}),
            **({"topic": list(self.topic)} if self.topic else {}),
        }
