"""Small-to-big retrieval: vectors of the sentences of regulation articles (and of quoted articles), searched on
their own and returned as the article chunk they belong to, so one colloquial clause can find a long article."""
from __future__ import annotations

import base64
import functools
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass

import numpy as np

from .dense_index import DocRows, scores
from .schema import Chunk
from .sentences import split_sentences

# Shorter pieces are headings such as 第五条 or list stems such as （一）, which carry no meaning of their own.
MIN_SENTENCE_CHARS = 6


def holds_rules(chunk: Chunk) -> bool:
    """Return whether a chunk is regulation text: a regulation's, or an article a study note quotes (so it gets
    sentence vectors, counts as a regulation for answerability and leads an answer)."""
    return chunk.doc_type == "regulation" or bool(chunk.quotes)


def sentence_units(chunks: Iterable[Chunk]) -> list[tuple[str, int, int]]:
    """Return (chunk id, start, end) of every sentence that gets a vector, in chunk order."""
    return [(c.chunk_id, s, e) for c in chunks if holds_rules(c)
            for s, e in split_sentences(c.text) if e - s >= MIN_SENTENCE_CHARS]


def unit_text(chunk: Chunk, start: int, end: int) -> str:
    """Return what is embedded for one sentence: the sentence as the regulation words it."""
    return chunk.text[start:end]


def model_tag(fingerprint: dict) -> str:
    """Return what sentence vectors record of their model: its name and vector family (see kb/embedding.py)."""
    return f"{fingerprint['name']}|{fingerprint.get('vectors', fingerprint.get('backend', ''))}"


@dataclass(frozen=True)
class SentenceVectors:
    """The sentence vectors of one document, stored in its catalog record as float16 with the model that made them
    (a reindex to another model rewrites them; until then a searcher ignores vectors of another model)."""

    model: str
    chunk_ids: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    vectors: np.ndarray

    @classmethod
    def of(cls, model: str, units: Sequence[tuple[str, int, int]], vectors: np.ndarray) -> SentenceVectors:
        """Return the vectors of ``units`` (from sentence_units)."""
        return cls(model, tuple(c for c, _, _ in units), tuple((s, e) for _, s, e in units), vectors)

    def to_json(self) -> dict:
        v = np.ascontiguousarray(self.vectors, dtype=np.float16)
        return {"model": self.model, "chunk_ids": list(self.chunk_ids), "spans": [list(s) for s in self.spans],
                "dim": int(v.shape[1]), "vectors": base64.b64encode(v.tobytes()).decode("ascii")}

    @classmethod
    def from_json(cls, d: dict) -> SentenceVectors:
        raw = np.frombuffer(base64.b64decode(d["vectors"]), dtype=np.float16)
        return cls(d.get("model", ""), tuple(d["chunk_ids"]), tuple((int(s), int(e)) for s, e in d["spans"]),
                   raw.reshape(len(d["chunk_ids"]), int(d["dim"])))


@dataclass(frozen=True)
class SentenceIndex:
    """Every stored sentence vector of a knowledge base, with the chunk and document each belongs to."""

    matrix: np.ndarray
    chunk_ids: np.ndarray
    docs: DocRows
    spans: tuple[tuple[int, int], ...]

    @classmethod
    def build(cls, parts: Sequence[tuple[str, SentenceVectors]], dim: int, model: str) -> SentenceIndex:
        """Return the index of the ``(doc id, vectors)`` parts made by ``model`` (see model_tag)."""
        parts = [(d, sv) for d, sv in parts if len(sv.chunk_ids) and sv.model == model and sv.vectors.shape[1] == dim]
        if not parts:
            return cls(np.zeros((0, dim), np.float32), np.array([], object), DocRows.of(()), ())
        return cls(np.concatenate([sv.vectors for _, sv in parts]).astype(np.float32),
                   np.array([c for _, sv in parts for c in sv.chunk_ids], object),
                   DocRows.of(d for d, sv in parts for _ in sv.chunk_ids),
                   tuple(s for _, sv in parts for s in sv.spans))

    def __len__(self) -> int:
        return len(self.spans)

    def documents(self, model: str) -> dict[str, SentenceVectors]:
        """Return each document's vectors as a view of the index's rows, kept for the next reload instead of a
        second, float16 copy."""
        return {d: SentenceVectors(model, tuple(self.chunk_ids[a:b]), self.spans[a:b], self.matrix[a:b])
                for d, a, b in self.docs.runs()}

    @functools.cached_property
    def _rows(self) -> dict[tuple[str, int], int]:
        return {(c, span[0]): i for i, (c, span) in enumerate(zip(self.chunk_ids, self.spans))}

    def cosine(self, chunk_id: str, start: int, vector: np.ndarray) -> float | None:
        """Return the cosine of ``vector`` to the sentence of ``chunk_id`` that starts at ``start``, if it has one."""
        row = self._rows.get((chunk_id, start))
        return None if row is None else float(self.matrix[row] @ vector)

    def search(self, vector: np.ndarray, k: int, allowed: Set[str] | None = None) -> list[tuple[str, float]]:
        """Return up to ``k`` chunks ranked by their best sentence's cosine to ``vector``, with that cosine."""
        found = scores(self.matrix, self.docs, vector, allowed)
        best: dict[str, float] = {}
        for i in np.argsort(-found):
            if not np.isfinite(found[i]) or len(best) == k:
                break
            best.setdefault(self.chunk_ids[i], float(found[i]))
        return list(best.items())
