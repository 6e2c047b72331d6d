"""Extractive answers with numbered citations, and refusal when the evidence is weak. No LLM needed."""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial

from kb.answertype import expected_answer, states_year, years_named
from kb.errors import LLMError
from kb.grammar import DIVISION_HEAD, find_clause
from kb.retrieve import ArticleLookup, Filters, Searcher
from kb.schema import Answer, Chunk, Citation, Hit
from kb.sentences import split_sentences

from .rewrite import Turn, rewrite

REFUSAL_TEXT = "知识库中没有找到相关依据。"
# Every query word in one top passage: strong evidence even where the vector similarity of a bare keyword query
# (``凡提必审``) says little.
FULL_COVERAGE = 0.999
# Composition, chosen on evals/datasets/dev.jsonl (citations holding the gold evidence, articles cited correctly).
MAX_SENTENCES = 3
PASSAGES_CONSIDERED = 5
KEEP_RATIO = 0.5
PASSAGE_PRIOR = 0.5
TYPED_BONUS = 0.2


@dataclass(frozen=True)
class RefusalPolicy:
    """Answer only when the best passages cover enough of the query's weighted words and are close enough in meaning.

    A question asking for a quantity (几天, 多少元) is instead judged by the best sentence stating one. Chosen on the
    ``djkb eval --calibrate`` curve over evals/datasets/dev.jsonl (see evals/README.md).
    """

    min_coverage: float = 0.35
    min_dense: float = 0.87
    min_typed_coverage: float = 0.15


DEFAULT_POLICY = RefusalPolicy()


@dataclass(frozen=True)
class Evidence:
    """How well the retrieved passages support answering a query.

    ``typed_coverage`` is the best coverage among sentences stating the quantity the query asks for (None when it
    asks for none); ``unmet`` says why no passage can answer, whatever the scores.
    """

    coverage: float
    dense: float
    pinned: bool
    typed_coverage: float | None = None
    unmet: str | None = None

    def sufficient(self, policy: RefusalPolicy) -> bool:
        if self.unmet:
            return False
        if self.pinned or self.coverage >= FULL_COVERAGE:
            return True
        if self.typed_coverage is not None and self.typed_coverage >= policy.min_typed_coverage:
            return self.dense >= policy.min_dense
        return self.coverage >= policy.min_coverage and self.dense >= policy.min_dense


_CONTENT = re.compile(r"[\w\u4e00-\u9fff]")


def is_nonsense(query: str) -> bool:
    """Return whether a query is mostly symbols: fewer than two letters, digits or characters, or more symbols."""
    chars = re.sub(r"\s", "", query)
    content = len(_CONTENT.findall(chars))
    return content < 2 or len(chars) - content > content


def assess(searcher: Searcher, query: str, hits: Sequence[Hit]) -> Evidence:
    """Return the evidence strength of ``hits`` for ``query``."""
    lookup = searcher.lookup_article(query)
    dense = max((h.dense for h in hits if h.dense is not None), default=0.0)
    if not hits or is_nonsense(query):
        return Evidence(0.0, dense, False, unmet="无法识别这个问题，请用文字描述要查询的内容。" if hits else None)
    if lookup.names_missing_article:
        return Evidence(0.0, dense, False, unmet=missing_article(searcher, lookup))
    pinned = bool(lookup.chunks) and hits[0].chunk.article is not None
    unknown = [e for e in searcher.tokenizer.entities(query) if not searcher.mentions(e)]
    if unknown:
        return Evidence(0.0, dense, pinned, unmet="知识库中没有提到" + "、".join(f"“{e}”" for e in unknown) + "。")
    tokens = searcher.tokenizer.query(query)
    top = [h.chunk for h in hits[:3]]
    years = years_named(query)
    dated = [c for c in top if all(states_year(f"{c.embedding_text()} {c.date or ''}", y) for y in years)]
    if not dated and not pinned:
        return Evidence(0.0, dense, pinned, unmet=f"知识库中没有{'、'.join(years)}年的相关内容。")
    coverage = max((searcher.coverage(tokens, c.embedding_text()) for c in dated), default=0.0)
    expected = expected_answer(query, searcher.tokenizer.segment(query))
    if expected is None or pinned:
        return Evidence(coverage, dense, pinned)
    stating = [c.text[s:e] for c in top for s, e in split_sentences(c.text) if expected.found_in(c.text[s:e])]
    if not stating:
        return Evidence(coverage, dense, pinned, unmet=f"检索到的段落没有给出具体的{expected.label}。")
    typed = max(searcher.coverage(tokens, s) for s in stating)
    return Evidence(coverage, dense, pinned, typed_coverage=typed)


def missing_article(searcher: Searcher, lookup: ArticleLookup) -> str:
    """Return why a named article cannot be quoted: no such document, or no such article."""
    if not lookup.docs:
        return f"知识库中没有《{lookup.ref.doc_hint.strip('《》')}》。"
    entry = searcher.manifest.documents[lookup.docs[0]]
    return f"《{entry.title}》中没有{lookup.ref.label}（共 {entry.articles} 条）。"




def clause_of(query: str, chunks: Sequence[Chunk]) -> tuple[Chunk, str] | None:
    """Return the chunk and text of the 款 (paragraph) a query names in an article, if it exists."""
    n = find_clause(query)
    if n is None:
        return None
    paragraphs = [(c, line.strip()) for c in chunks for line in c.text.split("\n")
                  if line.strip() and not DIVISION_HEAD.match(line)]
    return paragraphs[n - 1] if 0 < n <= len(paragraphs) else None




def _sentence_candidates(searcher: Searcher, query: str, hits: Sequence[Hit]) -> list[tuple[float, int, int, str]]:
    tokens = searcher.tokenizer.query(query)
    expected = expected_answer(query, searcher.tokenizer.segment(query))
    out = []
    top = hits[0].score or 1.0
    for rank, hit in enumerate(hits[:PASSAGES_CONSIDERED]):
        text = hit.chunk.text
        for s, e in split_sentences(text):
            sentence = text[s:e]
            if len(sentence) < 6:
                continue
            # The passage's retrieval score, relative to the best one, keeps close runners-up in play.
            score = searcher.coverage(tokens, sentence) + PASSAGE_PRIOR * hit.score / top
            if expected is not None and expected.found_in(sentence):
                score += TYPED_BONUS
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
    floor = KEEP_RATIO * candidates[0][0]
    # The top passage always speaks; then each other passage's best sentence that is good enough, so that the
    # answer cites every strong passage, not three sentences of one; then any further strong sentences.
    best_of: dict[int, tuple] = {}
    for cand in candidates:
        best_of.setdefault(cand[1], cand)
    chosen = [best_of[0]] if 0 in best_of else []
    chosen += [c for r, c in sorted(best_of.items()) if r != 0 and c[0] >= floor][:MAX_SENTENCES - len(chosen)]
    for cand in candidates:
        if len(chosen) >= MAX_SENTENCES or cand[0] < floor:
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
            return refusal(query, rewritten, hits, evidence.unmet)
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
            yield refusal(query, rewritten, hits, evidence.unmet)
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
