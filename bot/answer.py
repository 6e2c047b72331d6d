"""Extractive answers with numbered citations, and refusal when the evidence is weak. No LLM needed."""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial

from kb.errors import LLMError
from kb.numerals import cn_to_int

from kb.retrieve import ArticleLookup, Filters, Searcher
from kb.schema import Answer, Chunk, Citation, Hit

from .rewrite import Turn, rewrite
from .sentences import split_sentences

REFUSAL_TEXT = "知识库中没有找到相关依据。"
MAX_SENTENCES = 3
PASSAGES_CONSIDERED = 4


@dataclass(frozen=True)
class RefusalPolicy:
    """Answer only when the best passages cover enough of the query's weighted words and are close enough in meaning.

    Chosen on the ``djkb eval --calibrate`` curve over evals/datasets/dev.jsonl: refusal recall 0.81 at 0.13 false
    refusals (recall 0.91 would cost 0.20).
    """

    min_coverage: float = 0.35
    min_dense: float = 0.87


DEFAULT_POLICY = RefusalPolicy()


@dataclass(frozen=True)
class Evidence:
    """How well the retrieved passages support answering a query."""

    coverage: float
    dense: float
    pinned: bool
    lookup: ArticleLookup = ArticleLookup(None, (), ())

    def sufficient(self, policy: RefusalPolicy) -> bool:
        return self.pinned or (self.coverage >= policy.min_coverage and self.dense >= policy.min_dense)


def weighted_coverage(searcher: Searcher, query_tokens: Sequence[str], text: str) -> float:
    """Return the idf-weighted share of query tokens that occur in ``text``."""
    tokens = set(query_tokens)
    total = sum(searcher.token_weight(t) for t in tokens)
    if not total:
        return 0.0
    return sum(searcher.token_weight(t) for t in tokens if t in text.lower()) / total


def assess(searcher: Searcher, query: str, hits: Sequence[Hit]) -> Evidence:
    """Return the evidence strength of ``hits`` for ``query``."""
    lookup = searcher.lookup_article(query)
    if not hits:
        return Evidence(0.0, 0.0, False, lookup)
    tokens = searcher.tokenizer(query)
    top = hits[:3]
    coverage = max(weighted_coverage(searcher, tokens, h.chunk.embedding_text()) for h in top)
    dense = max((h.dense for h in top if h.dense is not None), default=0.0)
    if lookup.names_missing_article:
        return Evidence(0.0, dense, False, lookup)
    return Evidence(coverage, dense, bool(lookup.chunks) and hits[0].chunk.article is not None, lookup)


_CLAUSE = re.compile(r"第([一二三四五六七八九十\d]+)款")


def clause_of(query: str, chunks: Sequence[Chunk]) -> tuple[Chunk, str] | None:
    """Return the chunk and text of the 款 (paragraph) a query names in an article, if it exists."""
    m = _CLAUSE.search(query)
    if not m:
        return None
    n = cn_to_int(m.group(1))
    paragraphs = []
    for c in chunks:
        for line in c.text.split("\n"):
            if line.strip() and not _HEADING_LINE.match(line):
                paragraphs.append((c, line.strip()))
            elif _ARTICLE_START.match(line):
                paragraphs.append((c, line.strip()))
    return paragraphs[n - 1] if 0 < n <= len(paragraphs) else None


_HEADING_LINE = re.compile(r"^第[一二三四五六七八九十百零〇\d]+[编章节]\s")
_ARTICLE_START = re.compile(r"^第[一二三四五六七八九十百零〇\d]+条")


def _sentence_candidates(searcher: Searcher, query: str, hits: Sequence[Hit]) -> list[tuple[float, int, int, str]]:
    tokens = searcher.tokenizer(query)
    out = []
    for rank, hit in enumerate(hits[:PASSAGES_CONSIDERED]):
        text = hit.chunk.text
        for s, e in split_sentences(text):
            sentence = text[s:e]
            if len(sentence) < 6:
                continue
            score = weighted_coverage(searcher, tokens, sentence) + 0.3 / (rank + 1)
            out.append((score, rank, s, sentence))
    return out


def compose(searcher: Searcher, query: str, hits: Sequence[Hit], quote_article: bool = False) -> tuple[str, list[Chunk]]:
    """Return an answer text of the most relevant sentences, each followed by ``[n]``, and the cited chunks.

    With ``quote_article`` (the query named the article at rank 1) the article itself is quoted.
    """
    if quote_article:
        # The query named an article: quote the article itself, or the 款 it asks for.
        chunks = [h.chunk for h in hits if h.chunk.doc_id == hits[0].chunk.doc_id
                  and h.chunk.article == hits[0].chunk.article]
        clause = clause_of(query, chunks)
        if clause:
            return f"{clause[1]}[1]", [clause[0]]
        parts = []
        for n, c in enumerate(chunks, 1):
            body = c.text if len(c.text) <= 400 else c.text[:400].rstrip() + "……"
            parts.append(f"{body}[{n}]")
        return "\n".join(parts), chunks
    candidates = sorted(_sentence_candidates(searcher, query, hits), key=lambda x: -x[0])
    if not candidates:
        return hits[0].chunk.text[:300] + "[1]", [hits[0].chunk]
    best = candidates[0][0]
    chosen = [next(c for c in candidates if c[1] == 0)]  # the top passage always speaks
    for cand in candidates:
        if len(chosen) >= MAX_SENTENCES or cand[0] < 0.6 * best:
            break
        if all(cand[3] != c[3] for c in chosen):
            chosen.append(cand)
    chosen.sort(key=lambda c: (c[1], c[2]))
    order: list[int] = []
    for c in chosen:
        if c[1] not in order:
            order.append(c[1])
    text = "".join(f"{c[3]}[{order.index(c[1]) + 1}]" for c in chosen)
    return text, [hits[r].chunk for r in order]


class Answerer:
    """Answers questions from one searcher, extractively or through an LLM."""

    def __init__(self, searcher: Searcher, policy: RefusalPolicy = DEFAULT_POLICY, llm=None):
        self.searcher = searcher
        self.policy = policy
        self.llm = llm

    def retrieve(self, query: str, history: Sequence[Turn] = (), filters: Filters | None = None,
                 k: int = 8) -> tuple[str, list[Hit], Evidence]:
        """Return the rewritten query, its hits and the evidence assessment."""
        rewritten = rewrite(query, history)
        hits = self.searcher.search(rewritten, k=k, filters=filters)
        return rewritten, hits, assess(self.searcher, rewritten, hits)

    def ask(self, query: str, history: Sequence[Turn] = (), filters: Filters | None = None) -> Answer:
        """Return the answer to ``query``; raises DjkbError for an empty query or knowledge base."""
        rewritten, hits, evidence = self.retrieve(query, history, filters)
        if not evidence.sufficient(self.policy):
            return refusal(query, rewritten, hits, self._missing_article(evidence.lookup))
        extractive = partial(self._extractive, quote_article=evidence.pinned)
        if self.llm is not None:
            from .generate import generate_answer

            try:
                return generate_answer(self.llm, query, rewritten, hits, fallback=extractive)
            except LLMError as exc:
                return replace(extractive(query, rewritten, hits), notice=f"{exc}；已改用抽取式回答。")
        return extractive(query, rewritten, hits)

    def stream(self, query: str, history: Sequence[Turn] = (), filters: Filters | None = None) -> Iterator[str | Answer]:
        """Yield the growing answer text, then the final Answer (verified, in LLM mode)."""
        rewritten, hits, evidence = self.retrieve(query, history, filters)
        if not evidence.sufficient(self.policy):
            yield refusal(query, rewritten, hits, self._missing_article(evidence.lookup))
            return
        extractive = partial(self._extractive, quote_article=evidence.pinned)
        if self.llm is not None:
            from .generate import stream_answer

            try:
                yield from stream_answer(self.llm, query, rewritten, hits, fallback=extractive)
            except LLMError as exc:
                yield replace(extractive(query, rewritten, hits), notice=f"{exc}；已改用抽取式回答。")
            return
        answer = extractive(query, rewritten, hits)
        shown = ""
        for s, e in split_sentences(answer.answer):
            shown = answer.answer[:e]
            yield shown
        yield answer

    def _missing_article(self, lookup: ArticleLookup) -> str | None:
        """Return why a named article cannot be quoted (no such document, or no such article), if so."""
        if not lookup.names_missing_article:
            return None
        if not lookup.docs:
            return f"知识库中没有《{lookup.ref.doc_hint.strip('《》')}》。"
        entry = self.searcher.manifest.documents[lookup.docs[0]]
        return f"《{entry.title}》中没有{lookup.ref.label}（共 {entry.articles} 条）。"

    def _extractive(self, query: str, rewritten: str, hits: Sequence[Hit], quote_article: bool = False) -> Answer:
        text, chunks = compose(self.searcher, rewritten, hits, quote_article)
        return Answer(query=query, rewritten_query=rewritten, answer=text, refused=False,
                      citations=tuple(Citation(n, c) for n, c in enumerate(chunks, 1)), related=tuple(hits[:5]))


def refusal(query: str, rewritten: str, hits: Sequence[Hit], reason: str | None = None) -> Answer:
    """Return a refusal that lists the nearest passages as possibly related, not as an answer."""
    text = REFUSAL_TEXT + (reason or "")
    if hits:
        text += "以下段落可能相关，仅供参考："
    return Answer(query=query, rewritten_query=rewritten, answer=text, refused=True, related=tuple(hits[:3]))
