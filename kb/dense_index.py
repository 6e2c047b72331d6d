"""Exact dense search: every chunk vector of the knowledge base in one matrix, scored against the query in full.

Chroma stays the store of record. Its HNSW index is approximate: on the 696 dev, cadre-dev and fresh-dev questions
it left the exact best chunk out of its 50 candidates for 30 of them on one whole-corpus knowledge base and for 46 on
another built from the same texts (README, Retrieval), so rankings varied with insertion order between machines.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DocRows:
    """The document of each row of an index as an integer code, so that filtering by documents is one table lookup
    (``np.isin`` on the ids took 59 ms a query at 10× the corpus)."""

    codes: np.ndarray
    index: Mapping[str, int]

    @classmethod
    def of(cls, doc_ids: Iterable[str]) -> DocRows:
        """Return the rows of ``doc_ids``, one per row."""
        index: dict[str, int] = {}
        codes = np.fromiter((index.setdefault(d, len(index)) for d in doc_ids), dtype=np.int32)
        return cls(codes, index)

    def mask(self, allowed: Set[str]) -> np.ndarray:
        """Return which rows belong to ``allowed`` documents."""
        table = np.zeros(len(self.index), dtype=bool)
        table[[self.index[d] for d in allowed if d in self.index]] = True
        return table[self.codes]

    def runs(self) -> list[tuple[str, int, int]]:
        """Return (doc id, first row, end row) of each document, for rows grouped by document."""
        if not len(self.codes):
            return []
        starts = np.flatnonzero(np.diff(self.codes, prepend=-1))
        names = list(self.index)  # in code order: codes are given in order of first appearance
        return [(names[self.codes[a]], int(a), int(b)) for a, b in zip(starts, [*starts[1:], len(self.codes)])]


def scores(matrix: np.ndarray, docs: DocRows, vector: np.ndarray, allowed: Set[str] | None = None) -> np.ndarray:
    """Return the cosine of ``vector`` to every row of ``matrix`` (unit rows), -inf for rows of documents not
    ``allowed`` (None: all); empty when the dimensions differ (vectors of another model)."""
    if not len(matrix) or vector.shape[0] != matrix.shape[1]:
        return np.zeros(0, np.float32)
    out = matrix @ vector.astype(np.float32)
    return out if allowed is None else np.where(docs.mask(allowed), out, -np.inf)


@dataclass(frozen=True)
class DocVectors:
    """The stored chunk vectors of one document, in the order of its chunk ids (chunks without one are left out)."""

    chunk_ids: tuple[str, ...]
    matrix: np.ndarray

    @classmethod
    def of(cls, chunk_ids: Sequence[str], vectors: Mapping[str, np.ndarray], dim: int) -> DocVectors:
        """Return the vectors of ``chunk_ids`` found in ``vectors``."""
        ids = tuple(c for c in chunk_ids if c in vectors)
        return cls(ids, np.stack([vectors[c] for c in ids]) if ids else np.zeros((0, dim), np.float32))


@dataclass(frozen=True)
class DenseIndex:
    """Chunk vectors of many documents, searched exactly."""

    matrix: np.ndarray
    chunk_ids: np.ndarray
    docs: DocRows

    @classmethod
    def build(cls, parts: Sequence[tuple[str, DocVectors]], dim: int) -> DenseIndex:
        """Return the index of the ``(doc id, vectors)`` parts."""
        parts = [(d, v) for d, v in parts if v.chunk_ids and v.matrix.shape[1] == dim]
        if not parts:
            return cls(np.zeros((0, dim), np.float32), np.array([], object), DocRows.of(()))
        return cls(np.concatenate([v.matrix for _, v in parts]),
                   np.array([c for _, v in parts for c in v.chunk_ids], object),
                   DocRows.of(d for d, v in parts for _ in v.chunk_ids))

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def documents(self) -> dict[str, DocVectors]:
        """Return each document's vectors as a view of the index's rows: kept for the next reload without holding
        every vector twice (243,450 × 384 float32, 374 MB, at 50× the corpus)."""
        return {d: DocVectors(tuple(self.chunk_ids[a:b]), self.matrix[a:b]) for d, a, b in self.docs.runs()}

    def search(self, vector: np.ndarray, k: int, allowed: Set[str] | None = None) -> list[tuple[str, float]]:
        """Return up to ``k`` (chunk id, cosine) pairs, best first, of the documents ``allowed`` (None: all)."""
        found = scores(self.matrix, self.docs, vector, allowed)
        k = min(k, len(found))
        if not k:
            return []
        top = np.argpartition(-found, k - 1)[:k]
        top = top[np.argsort(-found[top], kind="stable")]
        return [(self.chunk_ids[i], float(found[i])) for i in top if np.isfinite(found[i])]
