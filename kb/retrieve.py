"""Hybrid retrieval: dense (exact, over the vectors Chroma stores) and lexical (jieba + BM25) hits fused, plus exact article lookup."""
from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
from threadpoolctl import threadpool_limits

from .asked import ArticleQuestion, AskedIndex, article_questions, editions_held
from .grammar import ArticleRef, section_line
from .query import Query, QueryParser
from .reprints import originals
from .terms import load_terms
from .titles import TitleIndex
from .typos import TypoCorrector, passage_frequencies
from .base import KnowledgeBase
from .embedding import embed_known_queries, model_fingerprint
from .catalog import DocEntry, Manifest
from .dense_index import DenseIndex, DocRows, DocVectors
from .fusion import DEFAULT_FUSION, RERANK_DEPTH, Candidates, Fusion, finish
from .edition_scope import EditionScope, edition_scope
from .editions import asks_content, regulation_key
from .status import DocStatus, blocked_by_default, load_overrides, overrides_stamp, resolve
from .errors import DjkbError, KnowledgeBaseEmpty
from .known_documents import known_documents
from .lexical import BM25Index, char_grams, get_tokenizer, gram_index, inverse_document_frequency, query_grams
from .memory import release_free_memory
from .off_topic import EVERYDAY_FILE, IN_DOMAIN_FILE, OffTopic, read_examples
from .schema import Chunk, Hit
from .sentence_index import SentenceIndex, SentenceVectors, model_tag
from .vector_cache import RecentQueries
from .workplace import outside_scope
from .sentences import split_sentences

Mode = Literal["hybrid", "dense", "lexical"]
MODES: tuple[str, ...] = ("hybrid", "dense", "lexical")
CANDIDATES = 50
# How long a searcher whose reload failed serves its earlier state before it tries again.
RELOAD_RETRY_S = 2.0
MENTION_CANDIDATES = 32  # passages few enough to read rather than intersect another bigram's postings


@dataclass(frozen=True)
class Filters:
    """Restrict a search to document types, documents and a date range (ISO dates, inclusive); ``in_force`` (the
    default 现行有效 filter) leaves out the texts ``blocked_by_default`` names."""

    doc_types: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None
    in_force: bool = True

    def allowed_docs(self, manifest: Manifest, blocked: Set[str] = frozenset()) -> set[str] | None:
        """Return the ids of documents that pass, or None when nothing is filtered."""
        blocked = blocked if self.in_force else frozenset()
        if not (self.doc_types or self.doc_ids or self.date_from or self.date_to or blocked):
            return None
        out = set()
        for doc_id, e in manifest.documents.items():
            if doc_id in blocked:
                continue
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
    unmet: str | None = None  # why the edition the query names cannot be quoted
    section: bool = False  # the chunks hold a numbered section (三、) of a document without articles

    @property
    def names_missing_article(self) -> bool:
        """Whether the query names a document title and an article that the knowledge base does not hold."""
        return self.ref is not None and self.ref.names_title and not self.chunks


@dataclass(frozen=True)
class HeldDoc:
    """What a searcher keeps of one document between loads: its chunks and sentence vectors, not its text, and its
    tokens only where a load needs them again (a regulation's; ``None``: read from its file when needed)."""

    chunks: tuple[Chunk, ...]
    sentences: SentenceVectors | None
    tokens: tuple[list[str], ...] | None


class Searcher:
    """Read side of a knowledge base: every chunk in memory, the BM25 index, and the vector store."""

    def __init__(self, kb: KnowledgeBase, fusion: Fusion = DEFAULT_FUSION):
        # numpy's OpenBLAS threads spin for a while after each product and starve the query embedder's threads: on 2
        # cores, search p50 42-63 ms / p95 118-135 with two, 22-24 / 28-29 with one (a search's products take 0.2 ms).
        threadpool_limits(limits=1, user_api="blas")
        self.kb = kb
        self.fusion = fusion
        self.tokenizer = get_tokenizer(str(kb.settings.user_dict) if kb.settings.user_dict else None)
        self.terms = load_terms(str(kb.settings.terms_file) if kb.settings.terms_file else None)
        self._generation = -1
        self._stamp: bytes | None = b"unread"  # no catalog has this stamp, not even a missing one (None)
        self._docs: dict[str, tuple[DocEntry, HeldDoc]] = {}
        self._doc_vectors: dict[str, DocVectors] = {}
        self._reload = threading.Lock()
        self.reload_error: Exception | None = None
        self._retry_at = 0.0
        self._query_vectors = RecentQueries(lambda texts: self.kb.embedder.embed_queries(texts))
        self._asked: tuple[int, AskedIndex] | None = None
        self.refresh()

    def refresh(self) -> None:
        """Reload what changed if another write committed since the last load (a read of 4 bytes when none did).

        A change made by another process also reopens the vector collection, whose index would not see it. When a
        reload fails after a first load (the Chroma server away), the state loaded before is kept and served, the
        error is kept in ``reload_error``, and the reload is tried again after RELOAD_RETRY_S.
        """
        stamp = self.kb.catalog.stamp()
        if stamp == self._stamp or (self.reload_error is not None and time.monotonic() < self._retry_at):
            return
        with self._reload:
            if stamp == self._stamp:
                return
            try:
                self._reload_to(stamp)
                self.reload_error = None
            except Exception as exc:
                if self._generation < 0:
                    raise
                logging.getLogger(__name__).warning("knowledge base reload failed; serving generation %d",
                                                    self._generation, exc_info=exc)
                self.reload_error, self._retry_at = exc, time.monotonic() + RELOAD_RETRY_S

    def _reload_to(self, stamp: bytes | None) -> None:
        """Load the committed state that ``stamp`` marks, reading only what changed."""
        for attempt in range(3):
            manifest = self.kb.catalog.load()
            if manifest.generation == self._generation:
                self._stamp = stamp
                return
            try:
                docs = self._read_docs(manifest)
                break
            except FileNotFoundError:
                # A write committed between our catalog read and the file reads: read its new state.
                if attempt == 2:
                    raise
        if self._generation >= 0 or manifest.collection != self.kb.store.name:
            self.kb.reopen_store(manifest)
        self._load(manifest, docs)
        del docs  # with every document's token lists, of which the load keeps the regulations'
        # Chroma keeps a collection's whole index in memory once it has been read (78 MiB at 48,690 chunks); this
        # searcher has its own exact copy of the vectors, so the client that read them is let go.
        self.kb.reopen_store(manifest)
        release_free_memory()
        self._stamp = stamp

    def _load(self, manifest: Manifest, docs: dict[str, tuple[DocEntry, HeldDoc]]) -> None:
        order = sorted(docs)
        chunks = {c.chunk_id: c for d in order for c in docs[d][1].chunks}
        # Only writers save the BM25 indexes; a reader that finds one stale builds its own copy in memory, and holds
        # every token list until a writer saves a current one (each reload meanwhile builds it again).
        index = self._saved_index("bm25", manifest, chunks)
        stale = index is None
        if stale:
            docs = {d: (e, self._with_tokens(d, h)) for d, (e, h) in docs.items()}
            index = BM25Index.build(list(chunks), [t for d in order for t in docs[d][1].tokens])
        grams = self._saved_index("grams", manifest, chunks)
        grams = gram_index(list(chunks.values())) if grams is None else grams
        self.vectors = self._dense_index(manifest, docs)
        self._regulations = frozenset(d for d, e in manifest.documents.items() if e.doc_type == "regulation")
        tag = model_tag(model_fingerprint(self.kb.embedder))
        self.sentences = SentenceIndex.build([(d, docs[d][1].sentences) for d in order if docs[d][1].sentences],
                                             self.kb.embedder.dim, tag)
        frequencies = index.document_frequencies()
        in_regulations = passage_frequencies(t for d in order if d in self._regulations
                                             for t in self._with_tokens(d, docs[d][1]).tokens)
        views = self.sentences.documents(tag)
        self.manifest, self.chunks, self.bm25, self.grams = manifest, chunks, index, grams
        self._docs = {d: (e, HeldDoc(h.chunks, views.get(d), h.tokens if stale or d in self._regulations else None))
                      for d, (e, h) in docs.items()}
        self.titles = TitleIndex.build({d: e.title for d, e in manifest.documents.items()})
        self.idf = inverse_document_frequency(frequencies, len(chunks))
        self._max_idf = max(self.idf.values(), default=1.0)
        self._doc_of = DocRows.of(chunks[c].doc_id for c in index.chunk_ids)
        self.original = originals(chunks.values(), manifest)
        self.quotations: dict[str, list[Chunk]] = {}
        for c in chunks.values():
            if c.quotes:
                self.quotations.setdefault(regulation_key(c.quotes), []).append(c)
        self._statuses: tuple[tuple, dict[str, DocStatus]] | None = None
        titles = [*(n for d in known_documents() for n in d.names), *(e.title for e in manifest.documents.values())]
        typos = TypoCorrector.build(in_regulations, lambda w: w in frequencies or self.tokenizer.is_word(w),
                                    self.tokenizer.segment, lambda w: w in frequencies, titles, self.mentions)
        self.parser = QueryParser(self.tokenizer, self.terms, typos, lambda word: word in in_regulations)
        # A knowledge base of one's own notes has no regulation: its own texts are then the domain the
        # answerability features measure against.
        self.has_regulations = bool(in_regulations)
        self.in_regulations = in_regulations if in_regulations else frequencies
        self._generation = manifest.generation

    def _saved_index(self, name: str, manifest: Manifest, chunks: Mapping[str, Chunk]) -> BM25Index | None:
        """Return the BM25 index a writer saved as ``name`` if it is current."""
        index = BM25Index.load(Path(self.kb.settings.kb_dir) / name, manifest.generation)
        return index if index is not None and index.chunk_ids == list(chunks) else None

    def _with_tokens(self, doc_id: str, held: HeldDoc) -> HeldDoc:
        """Return ``held`` with its chunk token lists, read from its file if they were not kept."""
        if held.tokens is not None:
            return held
        return replace(held, tokens=tuple(self.kb.catalog.read_stored(doc_id).tokens))

    def _dense_index(self, manifest: Manifest, docs: dict[str, tuple[DocEntry, HeldDoc]]) -> DenseIndex:
        """Return the exact index of every document's chunk vectors, reading from the store only those of documents
        that changed (all of them after a reindex into another collection)."""
        dim = self.kb.embedder.dim
        same_store = self._generation >= 0 and \
            (manifest.collection, manifest.model) == (self.manifest.collection, self.manifest.model)
        kept = {d: v for d, v in self._doc_vectors.items() if same_store
                and d in docs and d in self._docs and self._docs[d][0].chunk_ids == docs[d][0].chunk_ids}
        todo = [d for d in sorted(docs) if d not in kept]
        stored = self.kb.store.vectors([c for d in todo for c in docs[d][0].chunk_ids]) if todo else {}
        kept.update({d: DocVectors.of(docs[d][0].chunk_ids, stored, dim) for d in todo})
        index = DenseIndex.build([(d, kept[d]) for d in sorted(kept)], dim)
        self._doc_vectors = {**kept, **index.documents()}  # views of the index: each vector held once
        return index

    def _read_docs(self, manifest: Manifest) -> dict[str, tuple[DocEntry, HeldDoc]]:
        """Return each document's entry and what is held of it, reading only the files of documents that changed."""
        out = {}
        for doc_id, entry in manifest.documents.items():
            cached = self._docs.get(doc_id)
            if cached is not None and cached[0].chunk_ids == entry.chunk_ids:
                out[doc_id] = (entry, cached[1])
            else:
                stored = self.kb.catalog.read_stored(doc_id)
                out[doc_id] = (entry, HeldDoc(tuple(stored.chunks), stored.sentences, tuple(stored.tokens)))
        return out

    def parse(self, query: str | Query) -> Query:
        """Return ``query`` parsed once (a Query passes through); raises DjkbError for an empty one."""
        if isinstance(query, Query):
            return query
        if not (query or "").strip():
            raise DjkbError("查询为空，请输入问题或关键词")
        self.refresh()
        return self.parser.parse(query)

    def chunk(self, chunk_id: str) -> Chunk:
        return self.chunks[chunk_id]

    def mentions(self, term: str) -> bool:
        """Return whether any passage (or its title and headings) contains ``term``, ignoring case.

        Only passages that hold every character bigram of the term are read (a lowercased copy of all text, scanned
        instead, cost 40 MiB at 48,690 chunks).
        """
        term = term.lower()
        grams = {g for g in char_grams(term) if len(g) == 2}
        if not grams:
            return any(term in c.embedding_text().lower() for c in self.chunks.values())
        candidates = None
        for postings in sorted((self.grams.postings(g) for g in grams), key=len):
            candidates = postings if candidates is None else np.intersect1d(candidates, postings, assume_unique=True)
            if len(candidates) <= MENTION_CANDIDATES:
                break
        ids = self.grams.chunk_ids
        return any(term in self.chunks[ids[i]].embedding_text().lower() for i in candidates)

    def coverage(self, query_tokens: Sequence[str], text: str) -> float:
        """Return the idf-weighted share of the query's tokens that occur in ``text``."""
        tokens = set(query_tokens)
        total = sum(self.token_weight(t) for t in tokens)
        if not total:
            return 0.0
        lowered = text.lower()
        return sum(self.token_weight(t) for t in tokens if t in lowered) / total

    def regulation_share(self, query_tokens: Sequence[str]) -> float:
        """Return the idf-weighted share of the query's tokens that some regulation passage uses: how much of the
        question is in the regulations' own vocabulary (房贷利率 is not)."""
        tokens = set(query_tokens)
        total = sum(self.token_weight(t) for t in tokens)
        return sum(self.token_weight(t) for t in tokens if t in self.in_regulations) / total if total else 0.0

    def token_weight(self, token: str) -> float:
        """Return a token's idf; a word the corpus never uses weighs as much as the rarest one."""
        return self.idf.get(token, self._max_idf)

    def article_chunks(self, doc_id: str, label: str) -> list[Chunk]:
        """Return the chunks of one article of one document, in reading order."""
        stored = self._docs[doc_id][1].chunks if doc_id in self._docs else ()
        return sorted((c for c in stored if c.article == label), key=lambda c: c.char_start)

    def statuses(self) -> dict[str, DocStatus]:
        """Return every stored regulation's edition and status (reloaded when the manifest or the overrides change)."""
        self.refresh()
        key = (self._generation, overrides_stamp(self.kb.settings.kb_dir))
        if self._statuses is None or self._statuses[0] != key:
            self._statuses = (key, resolve(self.manifest, load_overrides(self.kb.settings.kb_dir)))
        return self._statuses[1]

    def edition_scope(self, query: str | Query) -> EditionScope | None:
        """Return the edition the query names and what the knowledge base holds of it, if it names one; a loosely
        named edition (十九大党章, 1982年宪法) counts only with an article or when asked what it says (a question about
        its history is not one)."""
        q = self.parse(query)
        scope = edition_scope(q.text, self.manifest, self.statuses(), self.quotations, [k.title for k in q.known])
        loose_ok = q.article is not None or asks_content(q.text)
        return scope if scope is None or scope.ask.strict or loose_ok else None

    def _lookup_edition(self, ref: ArticleRef, scope: EditionScope) -> ArticleLookup:
        chunks = [c for d in scope.doc_ids for c in self.article_chunks(d, ref.label)]
        if not chunks:
            chunks = sorted((c for c in scope.quotes if c.article == ref.label), key=lambda c: c.char_start)
        docs = tuple(dict.fromkeys([*scope.doc_ids, *(c.doc_id for c in scope.quotes)]))
        return ArticleLookup(ref, docs, tuple(chunks), None if chunks else scope.lacks(ref.label))

    def lookup_article(self, query: str | Query, allowed: set[str] | None = None) -> ArticleLookup:
        """Return what a query's article reference (``党章第十条``) resolves to, if it has one; a query naming an edition
        (``2023年修订的纪律处分条例第十九条``) resolves in that edition's full text, else in quotations of it."""
        q = self.parse(query)
        ref = q.article
        if ref is None:
            return ArticleLookup(None, (), ())
        scope = self.edition_scope(q)
        if scope is not None:
            return self._lookup_edition(ref, scope)
        docs = self.manifest.documents
        if ref.doc_hint:
            # A known short name (干部档案条例) stands for its full title (干部人事档案工作条例).
            named = self.titles.match(ref.doc_hint, allowed) or self.titles.match(q.text, allowed) or [
                d for known in q.known if known.is_called(ref.doc_hint.strip("《》"))
                for d, e in docs.items() if e.title == known.title and (allowed is None or d in allowed)]
        else:
            only = [d for d in allowed if d in docs] if allowed is not None else []
            named = only if len(only) == 1 else []
        # Speeches sometimes republish a regulation: prefer the regulation itself, then the most articles; the sort
        # is stable, so ties keep the title match's order (the best-matching, then the plainest title).
        named.sort(key=lambda d: (docs[d].doc_type != "regulation", -docs[d].articles))
        for doc_id in named:
            found = self.article_chunks(doc_id, ref.label)
            if found:
                return ArticleLookup(ref, tuple(named), tuple(found))
            if not docs[doc_id].articles and not ref.sub and (section := self.section_chunks(doc_id, ref.number)):
                return ArticleLookup(ref, tuple(named), tuple(section), section=True)
        return ArticleLookup(ref, tuple(named), ())

    def section_chunks(self, doc_id: str, number: int) -> list[Chunk]:
        """Return the chunk holding the ``number``-th first-level section (``三、``) of a document."""
        chunks = sorted(self._docs[doc_id][1].chunks, key=lambda c: c.char_start) if doc_id in self._docs else []
        return next(([c] for c in chunks if section_line(c.text, number)), [])

    def allowed(self, filters: Filters | None) -> set[str] | None:
        """Return the ids of the documents ``filters`` lets through (None: all)."""
        self.refresh()
        filters = filters or Filters()
        blocked = blocked_by_default(self.statuses()) if filters.in_force else frozenset()
        return filters.allowed_docs(self.manifest, blocked)

    def search(self, query: str | Query, *, k: int = 10, mode: Mode = "hybrid",
               filters: Filters | None = None, fusion: Fusion | None = None) -> list[Hit]:
        """Return the ``k`` best hits for ``query`` (fused by ``fusion``, default the searcher's); raises
        KnowledgeBaseEmpty and DjkbError on bad input."""
        if mode not in MODES:
            raise DjkbError(f"未知检索模式 {mode!r}（可选：{', '.join(MODES)}）")
        q = self.parse(query)
        if not self.chunks:
            raise KnowledgeBaseEmpty(f"知识库 {self.kb.settings.kb_dir} 为空，请先运行 `djkb ingest PATH`")
        allowed = self.allowed(filters)
        scope = self.edition_scope(q)
        if scope is not None and not scope.missing:  # the edition asked for, even one the 现行有效 filter leaves out
            base = self.allowed(replace(filters or Filters(), in_force=False))
            allowed = scope.allowed() if base is None else base & scope.allowed()
        if allowed is not None and not allowed:
            return []
        cands = self.gather(q, allowed, mode)
        if mode == "dense":
            ranked = list(cands.dense)
        elif mode == "lexical":
            ranked = list(cands.lexical)
        else:
            # Only the head is re-scored, so only its sentences need reading.
            fusion = fusion or self.fusion
            head = [cid for cid, _ in cands.fused(fusion, {})[:RERANK_DEPTH]]
            ranked = cands.fused(fusion, self.sentence_coverage(q, head))
        # a reprint is shown as its regulation only where the filters let the regulation through
        original = self.original if allowed is None else {
            r: o for r, o in self.original.items() if o in self.chunks and self.chunks[o].doc_id in allowed}
        kept = finish(ranked, cands.pinned, self.chunks, k, original)
        # A chunk found only through one of its sentences is as close to the question as that sentence.
        dense_score, lexical_score = {**dict(cands.small), **dict(cands.dense)}, dict(cands.lexical)
        return [Hit(chunk=c, score=score, rank=i, dense=dense_score.get(c.chunk_id), lexical=lexical_score.get(c.chunk_id))
                for i, (c, score) in enumerate(kept, 1)]

    def gather(self, q: Query, allowed: set[str] | None = None, mode: Mode = "hybrid",
               all_sentences: bool = False) -> Candidates:
        """Return the candidates and prior sets of ``q``: the one candidate builder of search and of tuning.

        ``all_sentences`` scores every candidate's best sentence (for tuning), not just the fused head's.
        """
        vector = self.query_vector(q) if mode in ("hybrid", "dense") else None
        dense = self._dense(vector, allowed) if vector is not None else []
        small = self.sentences.search(vector, CANDIDATES, allowed) if vector is not None and mode == "hybrid" else []
        lexical = self._lexical(q, allowed) if mode in ("hybrid", "lexical") else []
        grams = self._grams(q, allowed) if mode == "hybrid" else []
        asked = self.asked().search(vector, allowed) if vector is not None and mode == "hybrid" else []
        pinned = tuple(c.chunk_id for c in self.lookup_article(q, allowed).chunks)
        ids = [c for c in dict.fromkeys([c for c, _ in dense] + [c for c, _ in small] + [c for c, _ in lexical]
                                        + [c for c, _ in grams] + [c for c, _ in asked]) if c in self.chunks]
        chunks = [self.chunks[c] for c in ids]
        docs = set(self.regulations_named(q.text))
        return Candidates(
            dense=tuple(dense), lexical=tuple(lexical), small=tuple(small), grams=tuple(grams), asked=tuple(asked),
            pinned=pinned, regulations=frozenset(c.chunk_id for c in chunks if c.doc_type == "regulation"),
            typed=frozenset(c.chunk_id for c in chunks if q.expected and q.expected.found_in(c.text)),
            named=frozenset(c.chunk_id for c in chunks if c.doc_id in docs),
            sentence=self.sentence_coverage(q, ids) if all_sentences else None,
            elsewhere=frozenset(c.chunk_id for c in chunks if outside_scope(
                q.places, self.chunks[self.original.get(c.chunk_id, c.chunk_id)].doc_title)),
        )

    def query_vector(self, q: Query) -> np.ndarray:
        """Return the dense vector of ``q``, embedded once for search and for the checks after it."""
        return self._query_vectors(q.dense_text)

    @functools.cached_property
    def off_topic(self) -> OffTopic:
        """Return the everyday questions the domain check compares a question with, and the domain model fitted on
        them against the domain's questions and the article questions (embedded on first use, from the vector cache
        where the embedder keeps one: 2,249 questions before the article questions took 26.7 s on 2 cores)."""
        extra, embed = self.kb.settings.off_topic_file, functools.partial(embed_known_queries, self.kb.embedder)
        return OffTopic.build(embed, read_examples() + (read_examples(extra) if extra else ()),
                              read_examples(IN_DOMAIN_FILE), read_examples(EVERYDAY_FILE), self.written[1])

    @functools.cached_property
    def written(self) -> tuple[tuple[ArticleQuestion, ...], np.ndarray]:
        """Return the article questions (``kb/data/article_questions.tsv``, more with DJKB_ASKED) and their vectors,
        embedded once per searcher (and kept in the vector cache)."""
        questions = article_questions(self.kb.settings.asked_file)
        vectors = np.asarray(embed_known_queries(self.kb.embedder, [q.question for q in questions]), dtype=np.float32)
        return questions, vectors.reshape(len(questions), self.kb.embedder.dim)

    def asked(self) -> AskedIndex:
        """Return the index of the article questions whose article this knowledge base holds, built once per load."""
        if self._asked is not None and self._asked[0] == self._generation:
            return self._asked[1]
        generation = self._generation
        index = AskedIndex.build(*self.written, editions_held(self.manifest.documents),
                                 lambda d, label: [c.chunk_id for c in self.article_chunks(d, label)])
        self._asked = generation, index
        return index

    def regulations_named(self, query: str) -> list[str]:
        """Return the ids of the regulations whose title (or a short form of it) the query contains."""
        return self.titles.match(query, self._regulations)

    def sentence_coverage(self, q: Query, chunk_ids: Iterable[str]) -> dict[str, float]:
        """Return each chunk's best coverage of the query by one sentence (with the chunk's headings)."""
        out = {}
        for cid in chunk_ids:
            c = self.chunks[cid]
            out[cid] = max((self.coverage(q.words, f"{c.heading} {c.text[s:e]}") for s, e in split_sentences(c.text)),
                           default=0.0)
        return out

    def _dense(self, vector: np.ndarray, allowed: set[str] | None) -> list[tuple[str, float]]:
        return self.vectors.search(vector, CANDIDATES, allowed)

    def _mask(self, allowed: set[str] | None) -> np.ndarray | None:
        """Return which chunks of the BM25 indexes belong to ``allowed`` documents (None: all)."""
        return None if allowed is None else self._doc_of.mask(allowed)

    def _lexical(self, q: Query, allowed: set[str] | None) -> list[tuple[str, float]]:
        return self.bm25.search(list(q.search_words), CANDIDATES, self._mask(allowed))

    def _grams(self, q: Query, allowed: set[str] | None) -> list[tuple[str, float]]:
        # The text dense search embeds: the context, the question and the official terms it implies.
        return self.grams.search(query_grams(q.dense_text), CANDIDATES, self._mask(allowed))
