"""Running a question set through retrieval modes and through answering, reusing cached results."""
from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kb.catalog import Catalog
from kb.retrieve import Searcher
from kb.text import canonical

from .dataset import Gold, Question
from .records import ANSWER_MODE, Passage, Record, append_records, load_records, record_key

Progress = Callable[[str, int, int], None]
SearchFn = Callable[[str, int], list[Passage]]


@dataclass(frozen=True)
class Retriever:
    """A named way to rank passages for a query; ``generation`` identifies the index it reads (for the cache)."""

    mode: str
    generation: str
    search: SearchFn


class DocIndex:
    """Stored documents' titles, sources and canonical texts: which documents hold a gold place."""

    def __init__(self, catalog: Catalog):
        self.docs: list[tuple[str, tuple[str, ...], str]] = []
        manifest = catalog.load()
        for doc_id, entry in sorted(manifest.documents.items()):
            doc, _, _ = catalog.read_doc(doc_id)
            sources = tuple(s.replace("\\", "/") for s in entry.sources)
            self.docs.append((entry.title, sources, canonical(doc.text)))

    def titles(self, gold: Gold) -> tuple[str, ...]:
        """Return the titles of the gold file's document first, then of other documents holding the evidence.

        The gold file's document is the one stored from a source path ending with ``gold.doc``.
        """
        suffix = "/" + gold.doc.replace("\\", "/").lstrip("/")
        own = [t for t, sources, _ in self.docs if any(s.endswith(suffix) or s == gold.doc for s in sources)]
        evidence = canonical(gold.evidence)
        others = [t for t, _, text in self.docs if evidence in text]
        return tuple(dict.fromkeys(own + others))


def source_digest(roots: Sequence[Path]) -> str:
    """Return a digest of the code and data files (.py, .txt, .tsv) under ``roots``, by path and content."""
    digest = hashlib.sha1()
    for root in roots:
        for path in sorted(p for p in Path(root).rglob("*") if p.is_file() and p.suffix in (".py", ".txt", ".tsv")):
            digest.update(path.relative_to(Path(root).parent).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:10]


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Return the digest of the code that retrieves and answers (kb/, bot/): results cached by older code are never
    reused as if they were this code's."""
    import bot
    import kb

    return source_digest([Path(kb.__file__).parent, Path(bot.__file__).parent])


def generation_of(searcher: Searcher) -> str:
    """Return what identifies a searcher's answers for the cache: the knowledge base's generation and the code."""
    return f"kb{searcher.manifest.generation}-{code_version()}"


def kb_retrievers(searcher: Searcher, modes: Sequence[str]) -> list[Retriever]:
    """Return one Retriever per search mode of ``searcher``."""
    generation = generation_of(searcher)

    def make(mode: str) -> SearchFn:
        return lambda query, k: [Passage.from_chunk(h.chunk) for h in searcher.search(query, k=k, mode=mode)]

    return [Retriever(mode, generation, make(mode)) for mode in modes]


def _timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, (time.perf_counter() - start) * 1000


def _turns(q: Question) -> list:
    from bot.rewrite import Turn

    return [Turn(h) for h in q.history]


def standalone(q: Question) -> str:
    """Return the question as retrieval sees it: a follow-up rewritten from its conversation."""
    from bot.rewrite import rewrite

    return rewrite(q.question, _turns(q)) if q.history else q.question


def _answer_record(answerer, q: Question, key: str, generation: str, titles) -> Record:
    turns = answerer.converse(q.history)  # the earlier questions answered first, as in the app's chat
    answer, ms = _timed(answerer.ask, q.question, turns)
    return Record(key=key, qid=q.id, mode=ANSWER_MODE, generation=generation, latency_ms=round(ms, 2),
                  hits=tuple(Passage.from_chunk(h.chunk) for h in answer.related),
                  gold_titles=titles, refused=answer.refused, answer=answer.answer,
                  citations=tuple(Passage.from_chunk(c.chunk) for c in answer.citations))


def run(questions: Sequence[Question], retrievers: Sequence[Retriever], *, cache: Path, k: int = 10,
        answerer=None, doc_index: Callable[[], DocIndex] | None = None,
        progress: Progress | None = None) -> dict[tuple[str, str], Record]:
    """Return a record per (question id, mode), computing only those missing from the ``cache`` JSONL file.

    ``answerer`` (a bot.answer.Answerer) adds the ``answer`` mode; ``doc_index`` builds the DocIndex used for
    the gold places' document titles, only if some record must be computed. New records are appended to ``cache``.
    """
    cached = load_records(cache)
    answer_generation = generation_of(answerer.searcher) if answerer is not None else ""
    tasks = [(q, r.mode, r.generation, r) for q in questions for r in retrievers]
    if answerer is not None:
        tasks += [(q, ANSWER_MODE, answer_generation, None) for q in questions]
    out: dict[tuple[str, str], Record] = {}
    index: DocIndex | None = None
    titles_of: dict[str, tuple[tuple[str, ...], ...]] = {}
    for i, (q, mode, generation, retriever) in enumerate(tasks, 1):
        key = record_key(q, mode, generation, k)
        rec = cached.get(key)
        if rec is None:
            if q.id not in titles_of:
                if index is None and doc_index is not None and any(qq.gold for qq in questions):
                    index = doc_index()
                titles_of[q.id] = tuple(index.titles(g) if index else () for g in q.gold)
            titles = titles_of[q.id]
            if retriever is None:
                rec = _answer_record(answerer, q, key, generation, titles)
            else:
                hits, ms = _timed(retriever.search, standalone(q), k)
                rec = Record(key=key, qid=q.id, mode=mode, generation=generation, latency_ms=round(ms, 2),
                             hits=tuple(hits), gold_titles=titles)
            append_records(cache, [rec])
        out[(q.id, mode)] = rec
        if progress is not None:
            progress(f"{mode} {q.id}", i, len(tasks))
    return out
