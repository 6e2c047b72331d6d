"""Answering: parse once, retrieve, assess, compose (or generate and verify), with refusal when the texts do not answer."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial

from kb.errors import LLMError
from kb.query import Query
from kb.retrieve import Filters, Mode, Searcher
from kb.schema import Answer, Citation, Hit
from kb.sentences import split_sentences

from .assess import DEFAULT_ANSWERABILITY, Answerability, Evidence, assess
from .compose import compose
from .messages import NO_EVIDENCE
from .notices import notices_for
from .rewrite import Turn, rewrite, topic_words

REFUSAL_TEXT = NO_EVIDENCE + "。"
HITS_PER_ANSWER = 8


def turn_for(answer: Answer) -> Turn:
    """Return what a follow-up may refer to: the stand-alone query and the first citation's document and article."""
    first = answer.citations[0].chunk if answer.citations else None
    return Turn(answer.rewritten_query or answer.query, first.doc_title if first else None,
                first.article if first else None, answer.topic)


@dataclass(frozen=True)
class Retrieval:
    """One question's way through the pipeline: its parsed form, the hits and the evidence assessment."""

    query: Query
    hits: tuple[Hit, ...]
    evidence: Evidence

    @property
    def rewritten(self) -> str:
        return self.query.text


class Answerer:
    """Answers questions from one searcher, extractively or through an LLM."""

    def __init__(self, searcher: Searcher, policy: Answerability = DEFAULT_ANSWERABILITY, llm=None,
                 mode: Mode = "hybrid"):
        self.searcher = searcher
        self.policy = policy
        self.llm = llm
        self.mode = mode  # "lexical" answers while the vector store is unreachable

    def retrieve(self, query: str, history: Sequence[Turn] = (), filters: Filters | None = None,
                 k: int = HITS_PER_ANSWER) -> Retrieval:
        """Return the parsed stand-alone question, its hits and the evidence assessment."""
        text = rewrite(query, history)
        q = self.searcher.parse(text)
        if history:
            last = history[-1]
            tokenizer = self.searcher.tokenizer
            # Nothing of the earlier question was folded in (任期几年, 那人少的单位咋办, 那纪念品呢，能发不).
            if text in query or set(tokenizer.query(text)) <= set(tokenizer.query(query)):
                q = replace(q, context=topic_words(self.searcher, " ".join((*last.topic, last.query)), q))
            elif last.topic:  # folded into a question that itself leaned on the topic (巡视 … / 一届里头要巡完吗 / 那县里呢)
                q = replace(q, context=tuple(w for w in last.topic if w not in text))
        hits = self.searcher.search(q, k=k, mode=self.mode, filters=filters)
        return Retrieval(q, tuple(hits), assess(self.searcher, q, hits, self.searcher.allowed(filters)))

    def converse(self, questions: Sequence[str], filters: Filters | None = None) -> list[Turn]:
        """Return the turns a chat holds after ``questions``, each answered in order as the app answers them."""
        turns: list[Turn] = []
        for question in questions:
            turns.append(turn_for(self.ask(question, turns, filters)))
        return turns

    def ask(self, query: str, history: Sequence[Turn] = (), filters: Filters | None = None) -> Answer:
        """Return the answer to ``query`` with its edition notices; raises DjkbError for an empty query or KB."""
        r = self.retrieve(query, history, filters)
        return self._finished(r, self._ask(query, r))

    def _finished(self, r: Retrieval, answer: Answer) -> Answer:
        """Return ``answer`` with notices on the superseded, repealed or only quoted texts it cites, and the
        conversation's words it was searched with (what a later turn carries on)."""
        return replace(notices_for(answer, self.searcher.statuses(), self.searcher.edition_scope(r.query),
                                   self.searcher.quotations), topic=r.query.context)

    def _ask(self, query: str, r: Retrieval) -> Answer:
        if reason := r.evidence.refusal(self.policy):
            return refusal(query, r, reason)
        extractive = partial(self._extractive, r)
        if self.llm is not None:
            from .generate import generate_answer

            try:
                return generate_answer(self.llm, query, r.rewritten, r.hits, fallback=extractive)
            except LLMError as exc:
                return replace(extractive(query, r.rewritten, r.hits), notice=f"{exc}；已改用抽取式回答。")
        return extractive(query, r.rewritten, r.hits)

    def stream(self, query: str, history: Sequence[Turn] = (), filters: Filters | None = None) -> Iterator[str | Answer]:
        """Yield the growing answer text, then the final Answer (verified, in LLM mode) with its notices."""
        r = self.retrieve(query, history, filters)
        for part in self._stream(query, r):
            yield self._finished(r, part) if isinstance(part, Answer) else part

    def _stream(self, query: str, r: Retrieval) -> Iterator[str | Answer]:
        if reason := r.evidence.refusal(self.policy):
            yield refusal(query, r, reason)
            return
        extractive = partial(self._extractive, r)
        if self.llm is not None:
            from .generate import stream_answer

            try:
                yield from stream_answer(self.llm, query, r.rewritten, r.hits, fallback=extractive)
            except LLMError as exc:
                yield replace(extractive(query, r.rewritten, r.hits), notice=f"{exc}；已改用抽取式回答。")
            return
        answer = extractive(query, r.rewritten, r.hits)
        for _, e in split_sentences(answer.answer):
            yield answer.answer[:e]
        yield answer

    def _extractive(self, r: Retrieval, query: str, rewritten: str, hits: Sequence[Hit]) -> Answer:
        text, chunks = compose(self.searcher, r.query, hits, quote_article=r.evidence.pinned)
        return Answer(query=query, rewritten_query=rewritten, answer=text, refused=False,
                      citations=tuple(Citation(n, c) for n, c in enumerate(chunks, 1)), related=tuple(hits[:5]),
                      reason=answered_reason(r.evidence, self.policy))


def answered_reason(evidence: Evidence, policy: Answerability) -> str:
    """Return why a question was answered, for every interface to show."""
    if evidence.pinned:
        return "问题指明了条款，直接引用原文。"
    return f"检索到的段落足以作答（相关度 {policy.score(evidence.features):.2f}，阈值 {policy.threshold:.2f}）。"


def refusal(query: str, r: Retrieval, reason: str) -> Answer:
    """Return a refusal with its reason that lists the nearest passages as possibly related, not as an answer."""
    text = REFUSAL_TEXT + reason
    if r.hits:
        text += "以下段落可能相关，仅供参考："
    return Answer(query=query, rewritten_query=r.rewritten, answer=text, refused=True, related=tuple(r.hits[:3]),
                  reason=reason)
