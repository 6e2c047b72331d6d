"""Hybrid retrieval: dense (Chroma) and lexical (jieba + BM25) hits fused, plus exact article lookup."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from .articles import ArticleRef, find_article_ref, match_title
from .base import KnowledgeBase
from .catalog import Manifest
from .errors import DjkbError, KnowledgeBaseEmpty
from .lexical import BM25Index, get_tokenizer
from .schema import Chunk, Hit

Mode = Literal["hybrid", "dense", "lexical"]
MODES: tuple[str, ...] = ("hybrid", "dense", "lexical")
CANDIDATES = 50
MAX_QUERY_CHARS = 2000


@dataclass(frozen=True)
class Fusion:
    """Weighted reciprocal-rank fusion plus a regulation prior; tuned on evals/datasets/dev.jsonl (see README)."""

    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    k: int = 3
    # A prior, in units of a rank-1 dense contribution: cadres ask about rules, so the regulation itself should
    # outrank the news and study notes that retell it.
    regulation_boost: float = 0.5


DEFAULT_FUSION = Fusion()


@dataclass(frozen=True)
class Filters:
    """Restrict a search to document types, documents and a date range (ISO dates, inclusive)."""

    doc_types: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None

    def allowed_docs(self, manifest: Manifest) -> set[str] | None:
        """Return the ids of documents that pass, or None when nothing is filtered."""
        if not (self.doc_types or self.doc_ids or self.date_from or self.date_to):
            return None
        out = set()
        for doc_id, e in manifest.documents.items():
            if self.doc_types and e.doc_type not in self.doc_types:
                continue
            if self.doc_ids and doc_id not in self.doc_ids:
                continue
            if (self.date_from or self.date_to) and not e.date:
                continue
            if self.date_from and e.date < self.date_from:
                continue
            if self.date_to and e.date > self.date_to:
                continue
            out.add(doc_id)
        return out


@dataclass(frozen=True)
class ArticleLookup:
    """An article reference in a query, the documents it names and the chunks it resolves to."""

    ref: ArticleRef | None
    docs: tuple[str, ...]
    chunks: tuple[Chunk, ...]

    @property
    def names_missing_article(self) -> bool:
        """Whether the query names a document title and an article that the knowledge base does not hold."""
        return self.ref is not None and self.ref.names_title and not self.chunks


def fuse(rankings: Iterable[tuple[float, list[str]]], k: int) -> dict[str, float]:
    """Return weighted reciprocal-rank-fusion scores for ``(weight, ranked ids)`` lists."""
    scores: dict[str, float] = {}
    for weight, ids in rankings:
        for rank, cid in enumerate(ids, 1):
            scores[cid] = scores.get(cid, 0.0) + weight / (k + rank)
    return scores


def inverse_document_frequency(tokens: list[list[str]]) -> dict[str, float]:
    """Return BM25-style idf per token over chunk token lists."""
    from collections import Counter
    from math import log

    df = Counter(t for doc in tokens for t in set(doc))
    n = len(tokens)
    return {t: log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}


def rank_fused(dense: list[str], lexical: list[str], regulations: set[str] | frozenset[str],
               fusion: Fusion) -> list[tuple[str, float]]:
    """Return ids ranked by ``fusion``: weighted RRF of both lists plus the prior for chunks in ``regulations``."""
    scores = fuse([(fusion.dense_weight, dense), (fusion.lexical_weight, lexical)], fusion.k)
    bonus = fusion.regulation_boost * fusion.dense_weight / (fusion.k + 1)
    scores = {cid: s + (bonus if cid in regulations else 0.0) for cid, s in scores.items()}
    return sorted(scores.items(), key=lambda x: -x[1])


class Searcher:
    """Read side of a knowledge base: every chunk in memory, the BM25 index, and the vector store."""

    def __init__(self, kb: KnowledgeBase, fusion: Fusion = DEFAULT_FUSION):
        self.kb = kb
        self.fusion = fusion
        self.tokenizer = get_tokenizer(str(kb.settings.user_dict) if kb.settings.user_dict else None)
        self._generation = -1
        self._stamp: tuple[int, int] | None = (-1, -1)  # no manifest has this stamp, not even a missing one (None)
        self.refresh()

    def refresh(self) -> None:
        """Reload chunks and the BM25 index if the knowledge base changed since they were loaded."""
        stamp = self.kb.catalog.stamp()
        if stamp == self._stamp:
            return  # a stat is cheaper than parsing the manifest on every query
        for attempt in range(3):
            manifest = self.kb.catalog.load()
            if manifest.generation == self._generation:
                self._stamp = stamp
                return
            try:
                chunks, tokens = self._read_chunks(manifest)
                break
            except FileNotFoundError:
                # An ingest committed between our manifest read and the file reads: read its new state.
                if attempt == 2:
                    raise
        self._stamp = stamp
        # Only writers save the BM25 index; a reader that finds it stale builds its own copy in memory.
        index = BM25Index.load(Path(self.kb.settings.kb_dir) / "bm25", manifest.generation)
        if index is None or index.chunk_ids != list(chunks):
            index = BM25Index.build(list(chunks), tokens)
        self.manifest, self.chunks, self.bm25 = manifest, chunks, index
        self.idf = inverse_document_frequency(tokens)
        self._doc_of = np.array([chunks[c].doc_id for c in index.chunk_ids], dtype=object)
        self._generation = manifest.generation

    def _read_chunks(self, manifest: Manifest) -> tuple[dict[str, Chunk], list[list[str]]]:
        chunks: dict[str, Chunk] = {}
        tokens: list[list[str]] = []
        for doc_id in sorted(manifest.documents):
            _, doc_chunks, doc_tokens = self.kb.catalog.read_doc(doc_id)
            for c, t in zip(doc_chunks, doc_tokens):
                chunks[c.chunk_id] = c
                tokens.append(t)
        return chunks, tokens

    def chunk(self, chunk_id: str) -> Chunk:
        return self.chunks[chunk_id]

    def token_weight(self, token: str) -> float:
        """Return a token's idf; a word the corpus never uses weighs as much as the rarest one."""
        return self.idf.get(token, self._max_idf)

    @property
    def _max_idf(self) -> float:
        return max(self.idf.values(), default=1.0)

    def article_chunks(self, doc_id: str, label: str) -> list[Chunk]:
        """Return the chunks of one article of one document, in reading order."""
        return sorted((c for c in self.chunks.values() if c.doc_id == doc_id and c.article == label),
                      key=lambda c: c.char_start)

    def lookup_article(self, query: str, allowed: set[str] | None = None) -> ArticleLookup:
        """Return what a query's article reference (``党章第十条``) resolves to, if it has one."""
        ref = find_article_ref(query)
        if ref is None:
            return ArticleLookup(None, (), ())
        docs = self.manifest.documents
        candidates = [d for d in docs if allowed is None or d in allowed]
        if ref.doc_hint:
            titles = {d: docs[d].title for d in candidates}
            named = match_title(ref.doc_hint, titles) or match_title(query, titles)
        else:
            named = candidates if allowed is not None and len(candidates) == 1 else []
        # Speeches sometimes republish a regulation: prefer the regulation itself, then the most articles; the sort
        # is stable, so ties keep match_title's order (the best-matching, then the plainest title).
        named.sort(key=lambda d: (docs[d].doc_type != "regulation", -docs[d].articles))
        for doc_id in named:
            found = self.article_chunks(doc_id, ref.label)
            if found:
                return ArticleLookup(ref, tuple(named), tuple(found))
        return ArticleLookup(ref, tuple(named), ())

    def resolve_article(self, query: str, allowed: set[str] | None) -> list[Chunk]:
        """Return the chunks of the article a query names, or [] if it names none that exists."""
        return list(self.lookup_article(query, allowed).chunks)

    def search(self, query: str, *, k: int = 10, mode: Mode = "hybrid", filters: Filters | None = None) -> list[Hit]:
        """Return the ``k`` best hits for ``query``; raises KnowledgeBaseEmpty and DjkbError on bad input."""
        if mode not in MODES:
            raise DjkbError(f"未知检索模式 {mode!r}（可选：{', '.join(MODES)}）")
        query = (query or "").strip()
        if not query:
            raise DjkbError("查询为空，请输入问题或关键词")
        query = query[:MAX_QUERY_CHARS]
        self.refresh()
        if not self.chunks:
            raise KnowledgeBaseEmpty(f"知识库 {self.kb.settings.kb_dir} 为空，请先运行 `djkb ingest PATH`")
        allowed = (filters or Filters()).allowed_docs(self.manifest)
        if allowed is not None and not allowed:
            return []
        dense = self._dense(query, allowed) if mode in ("hybrid", "dense") else []
        lexical = self._lexical(query, allowed) if mode in ("hybrid", "lexical") else []
        dense_score, lexical_score = dict(dense), dict(lexical)
        if mode == "dense":
            ranked = dense
        elif mode == "lexical":
            ranked = lexical
        else:
            regulations = {c for c in dense_score.keys() | lexical_score.keys()
                           if c in self.chunks and self.chunks[c].doc_type == "regulation"}
            ranked = rank_fused(list(dense_score), list(lexical_score), regulations, self.fusion)
        pinned = self.resolve_article(query, allowed)
        if pinned:
            pinned_ids = {c.chunk_id for c in pinned}
            top = ranked[0][1] if ranked else 1.0
            ranked = [(c.chunk_id, top + 1.0) for c in pinned] + [r for r in ranked if r[0] not in pinned_ids]
        return [Hit(chunk=self.chunks[cid], score=score, rank=i, dense=dense_score.get(cid),
                    lexical=lexical_score.get(cid))
                for i, (cid, score) in enumerate(ranked[:k], 1) if cid in self.chunks]

    def _dense(self, query: str, allowed: set[str] | None) -> list[tuple[str, float]]:
        vector = self.kb.embedder.embed_queries([query])[0]
        where = {"doc_id": {"$in": sorted(allowed)}} if allowed is not None else None
        return self.kb.store.query(vector, CANDIDATES, where)

    def _lexical(self, query: str, allowed: set[str] | None) -> list[tuple[str, float]]:
        mask = None if allowed is None else np.isin(self._doc_of, list(allowed))
        return self.bm25.search(self.tokenizer(query), CANDIDATES, mask)
