"""Quizzes drawn from the outline's articles: 单选, 多选, 判断 and 填空 in the mix a trainer asks for.

Every item keeps its verbatim source sentence, the 《文件》 and the 第X条; a shortfall is always explained.
"""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from kb.grammar import LABEL_PREFIX
from kb.retrieve import Filters, Searcher
from kb.sentences import split_sentences

from .blanks import BLANK, enumeration, find_blanks, multi_distractors, sentence_problem
from .distractors import TruthCheck
from .outline import StudyOutline, outline
from .sources import Source

QuizKind = Literal["single", "multi", "judge", "fill"]
KINDS: tuple[QuizKind, ...] = ("single", "multi", "judge", "fill")
KIND_LABELS = {"single": "单选题", "multi": "多选题", "judge": "判断题", "fill": "填空题"}
SENTENCE_CHARS = (10, 160)
PER_ARTICLE = 2
TRUE_FALSE = ("正确", "错误")


@dataclass(frozen=True)
class QuizItem:
    """One question; ``sentence`` is the verbatim source sentence (for a false 判断 item, the true statement)."""

    kind: QuizKind
    question: str
    answer: str
    sentence: str
    source: Source
    blank_kind: str
    options: tuple[str, ...] = ()
    answer_index: tuple[int, ...] = ()

    @property
    def answer_letter(self) -> str:
        """Return ``B`` (单选), ``ACD`` (多选), or '' where there are no options."""
        return "".join("ABCD"[i] for i in self.answer_index)

    def key(self) -> str:
        """Return the answer as the key prints it: ``B. 一年``, ``ACD``, ``错误``, or the blanked words."""
        if self.kind == "single":
            return f"{self.answer_letter}. {self.answer}"
        return self.answer_letter if self.kind == "multi" else self.answer

    def to_dict(self) -> dict:
        return {
            "kind": self.kind, "kind_label": KIND_LABELS[self.kind], "question": self.question, "answer": self.answer,
            "options": list(self.options), "answer_index": list(self.answer_index), "answer_letter": self.answer_letter,
            "sentence": self.sentence, "blank_kind": self.blank_kind, "source": self.source.label(),
            "doc_title": self.source.doc_title, "article": self.source.article, "heading": self.source.heading,
            "chunk_id": self.source.chunk_id,
        }


@dataclass(frozen=True)
class Quiz:
    """The items made, how many were asked for, and why any are missing."""

    items: tuple[QuizItem, ...]
    asked: int
    shortfall: str = ""
    rejected: dict = field(default_factory=dict, compare=False)

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


@dataclass(frozen=True)
class _Sentence:
    text: str
    source: Source
    article: str


def _sentences(searcher: Searcher, result: StudyOutline, rejected: Counter) -> list[_Sentence]:
    """Return the quizzable sentences of the outline's articles, best point first."""
    out = []
    for p in sorted(result.points, key=lambda p: (not p.pinned, -p.score)):
        chunk = searcher.chunk(p.source.chunk_id)
        for s, e in split_sentences(chunk.text):
            text = chunk.text[s:e].strip()
            label = LABEL_PREFIX.match(text)
            text = text[label.end():].strip() if label else text
            if not SENTENCE_CHARS[0] <= len(text) <= SENTENCE_CHARS[1]:
                continue
            problem = sentence_problem(text)
            if problem:
                rejected[problem] += 1
                continue
            out.append(_Sentence(text, p.source, chunk.text))
    return out


def _single(s: _Sentence, topic: str, truth: TruthCheck, rng: random.Random, used: Counter) -> QuizItem | None:
    for b in find_blanks(s.text, topic, s.article, truth, rng):
        if len(b.distractors) == 3 and not used[b.answer]:
            opts = [b.answer, *b.distractors]
            rng.shuffle(opts)
            q = s.text[:b.start] + BLANK + s.text[b.start + len(b.answer):]
            return QuizItem("single", q, b.answer, s.text, s.source, b.kind, tuple(opts), (opts.index(b.answer),))
    return None


def _fill(s: _Sentence, topic: str, truth: TruthCheck, rng: random.Random, used: Counter) -> QuizItem | None:
    for b in find_blanks(s.text, topic, s.article, truth, rng):
        if b.kind != "duty" and not used[b.answer]:
            q = s.text[:b.start] + BLANK + s.text[b.start + len(b.answer):]
            return QuizItem("fill", q, b.answer, s.text, s.source, b.kind)
    return None


def _judge(s: _Sentence, topic: str, truth: TruthCheck, rng: random.Random, used: Counter,
           false: bool) -> QuizItem | None:
    if not false:
        return QuizItem("judge", s.text, "正确", s.text, s.source, "none")
    for b in find_blanks(s.text, topic, s.article, truth, rng):
        if b.distractors:
            changed = s.text[:b.start] + b.distractors[0] + s.text[b.start + len(b.answer):]
            if not truth.stated(changed):
                return QuizItem("judge", changed, "错误", s.text, s.source, b.kind)
    return None


def _multi(s: _Sentence, topic: str, rng: random.Random, pool: Sequence[str]) -> QuizItem | None:
    found = enumeration(s.text)
    if not found:
        return None
    start, end, items = found
    if any(i in topic for i in items):
        return None
    right = list(items) if len(items) <= 3 else rng.sample(list(items), 3)
    wrong = multi_distractors(items, s.text, s.article, pool, rng)[:4 - len(right)]
    if not wrong:
        return None
    opts = right + wrong
    rng.shuffle(opts)
    q = s.text[:start] + BLANK + s.text[end:] + "（空白处包含下列哪些内容？）"
    index = tuple(sorted(opts.index(r) for r in right))
    return QuizItem("multi", q, "、".join(opts[i] for i in index), s.text, s.source, "list", tuple(opts), index)


def _list_pool(sentences: Sequence[_Sentence]) -> list[str]:
    return sorted({i for s in sentences if (e := enumeration(s.text)) for i in e[2]})


def _explain(n: int, made: int, missing: Counter, rejected: Counter, candidates: int) -> str:
    if made >= n:
        return ""
    kinds = "、".join(f"{KIND_LABELS[k]}少 {v} 道" for k, v in missing.items() if v)
    skipped = "，".join(f"{v} 句是{k}" for k, v in rejected.items())
    return (f"只生成了 {made} 道题（要求 {n} 道）：{kinds}。提纲条文中可独立成题的句子 {candidates} 句"
            + (f"（另有 {skipped}，不出题）" if skipped else "")
            + "；其余句子没有可考的规则内容（数字、主体、义务、处分），或干扰项在知识库中也能成立。")


def make_quiz(searcher: Searcher, topic: str, *, n: int = 10, seed: int = 0, filters: Filters | None = None,
              kinds: Sequence[str] = KINDS, outline_: StudyOutline | None = None) -> Quiz:
    """Return ``n`` questions on ``topic`` cycling through ``kinds``; deterministic per ``seed``."""
    kinds = [k for k in kinds if k in KINDS] or list(KINDS)
    rng = random.Random(seed)
    rejected: Counter = Counter()
    result = outline_ or outline(searcher, topic, filters=filters)
    sentences = _sentences(searcher, result, rejected)
    truth, pool = TruthCheck.of(searcher), _list_pool(sentences)
    used_sent: set[str] = set()
    used: Counter = Counter()
    per_article: Counter = Counter()
    items: list[QuizItem] = []
    missing: Counter = Counter()
    for i in range(n):
        kind = kinds[i % len(kinds)]
        item = None
        for s in sentences:
            if s.text in used_sent or per_article[s.source.chunk_id] >= PER_ARTICLE:
                continue
            item = _build(kind, s, topic, truth, rng, used, pool, false=rng.random() < 0.5)
            if item:
                break
        if item is None:
            missing[kind] += 1
            continue
        items.append(item)
        used_sent.add(item.sentence)
        used[item.answer] += 1
        per_article[item.source.chunk_id] += 1
    return Quiz(tuple(items), n, _explain(n, len(items), missing, rejected, len(sentences)), dict(rejected))


def _build(kind: str, s: _Sentence, topic: str, truth: TruthCheck, rng: random.Random, used: Counter,
           pool: Sequence[str], false: bool) -> QuizItem | None:
    if kind == "single":
        return _single(s, topic, truth, rng, used)
    if kind == "fill":
        return _fill(s, topic, truth, rng, used)
    if kind == "judge":
        return _judge(s, topic, truth, rng, used, false)
    return _multi(s, topic, rng, pool)
