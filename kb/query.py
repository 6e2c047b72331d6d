"""One parsed question, built once and passed through retrieval, assessment, composition and study."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from .answertype import Expected, expected_answer, years_named
from .grammar import ArticleRef, bracketed_titles, find_article_ref
from .known_documents import KnownDocument, documents_named
from .lexical import Tokenizer
from .terms import TermMap
from .titles import spoken_titles
from .typos import TypoCorrector
from .workplace import places

MAX_QUERY_CHARS = 500
"""Longer questions are refused: the cost of a search grows with the question, and no real question is this long."""
_CONTENT = re.compile(r"[\w\u4e00-\u9fff]")
# Full-width letters and digits (１２条, ＡＢ) are read as ASCII; Chinese punctuation stays as the user wrote it.
_WIDE = re.compile(r"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u3000]")
# What a question about a speech, an article or a leader's words says of itself (not of the rule it asks about); a
# study note's 解读 or 摘编 is such a text too.
_SPEECH = re.compile(r"讲话|发言|致辞|党课[上里中]|报告[里中]|工作报告|文章|报道|总书记|习近平|习书记|引用|名言|古话|诗句|"
                     r"党史上的今天|说过|讲过|讲了|[怎咋]么说|提到|通知[里中]|解读|摘编|[那这]篇|[那这]期(?!间)")


# Instructions to the assistant itself (prompt injection): a request to drop its rules or reveal its set-up.
_INSTRUCTION = re.compile(
    r"(?:忽略|无视|忘记|忘掉|不要管|抛开)(?:你|掉)?(?:之前|以上|上面|前面|上述|所有|全部|原来|原有)的?(?:所有|全部)?的?"
    r"(?:指令|指示|规则|设定|提示|要求|限制|约束)"
    r"|(?:你的?(?:之前|以上|上面|前面|原来|原有)的?(?:所有|全部)?的?(?:规则|要求|限制|约束)"
    r"|(?:之前|以上|上面|前面|原来|原有)的?(?:所有|全部)?的?(?:指令|设定|提示))"
    r"(?:全部|全都|都|一律)?(?:作废|无效|取消|清空|不算数?)"
    r"|开发者模式|越狱模式|DAN模式|jailbreak"
    r"|(?:系统|后台|初始|隐藏|原始|内部)的?(?:提示词|提示语|指令|设定|prompt)"
    r"|提示词|system\s*prompt|ignore\s+(?:all\s+|any\s+)?(?:previous|prior|above|the\s+above)\s+instructions"
    r"|假装你是|你现在是(?:一个)?(?:不受|没有)", re.I)


def is_instruction(text: str) -> bool:
    """Return whether a text instructs the assistant itself (ignore your rules, print your prompt) instead of asking."""
    return bool(_INSTRUCTION.search(text))


def is_nonsense(text: str) -> bool:
    """Return whether a text is mostly symbols: fewer than two letters, digits or characters, or more symbols."""
    chars = re.sub(r"\s", "", text)
    content = len(_CONTENT.findall(chars))
    return content < 2 or len(chars) - content > content


def asks_about_speech(text: str) -> bool:
    """Return whether a question asks what a speech, an article or a leader said (讲话里怎么说, 总书记引用了哪句)."""
    return bool(_SPEECH.search(text))


@dataclass(frozen=True)
class Query:
    """A question as every stage needs it: corrected text, words, expansions and what it names or asks for."""

    raw: str
    text: str
    words: tuple[str, ...]
    expansions: tuple[str, ...] = ()
    expansion_words: tuple[str, ...] = ()
    corrections: tuple[tuple[str, str], ...] = ()
    expected: Expected | None = None
    article: ArticleRef | None = None
    years: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()
    spoken_titles: tuple[str, ...] = ()  # regulation-like names written without 《》
    known: tuple[KnownDocument, ...] = ()
    nonsense: bool = False
    instruction: bool = False
    subject: str | None = None
    """The noun phrase the question opens with (入党积极分子 in 入党积极分子的集中培训要多少学时)."""
    context: tuple[str, ...] = ()
    """Topic words of the conversation that a follow-up leaves unsaid (任期几年 after a question on 机关党支部书记)."""
    about_speech: bool = False
    places: frozenset[str] = frozenset()
    """The kinds of organization the question places itself in (kb/workplace.py: 我们公司 is a 企业)."""

    @property
    def search_words(self) -> tuple[str, ...]:
        """Return the words BM25 searches for: the question's own, the official terms it implies, the context."""
        return self.words + self.expansion_words + self.context

    @property
    def dense_text(self) -> str:
        """Return the text embedded for dense search: the context, the question and the official terms it implies."""
        return " ".join((*self.context, self.text, *self.expansions))


@dataclass(frozen=True)
class QueryParser:
    """Builds Query objects with one tokenizer, term map and typo corrector."""

    tokenizer: Tokenizer
    terms: TermMap
    typos: TypoCorrector | None = None
    named_in_rules: Callable[[str], bool] = lambda word: False
    """Whether the regulations name a person (毛泽东, 邓小平): a question naming anyone else asks about a speech."""

    def parse(self, raw: str) -> Query:
        """Return the parsed form of a question (NFKC; typos corrected; colloquial terms expanded)."""
        text = _WIDE.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), (raw or "").strip())[:MAX_QUERY_CHARS]
        corrections = tuple(self.typos.corrections(text)) if self.typos else ()
        for typo, word in corrections:
            text = text.replace(typo, word)
        segments = self.tokenizer.segment(text)
        # Guessed words can straddle a phrase of the term map (高速|口去|接 hides 高速口): its boundaries come from
        # the dictionaries alone.
        expansions = self.terms.expand(text, self.tokenizer.segment(text, hmm=False))
        words = tuple(self.tokenizer.query(text))
        extra = tuple(dict.fromkeys(w for term in expansions for w in self.tokenizer.query(term) if w not in words))
        return Query(
            raw=raw, text=text, words=words, expansions=expansions, expansion_words=extra, corrections=corrections,
            expected=expected_answer(text, segments), article=find_article_ref(text),
            years=years_named(text), entities=tuple(self.tokenizer.entities(text)),
            titles=tuple(bracketed_titles(text)), spoken_titles=tuple(spoken_titles(text)),
            known=tuple(documents_named(text)), nonsense=is_nonsense(text),
            instruction=is_instruction(text), subject=self.tokenizer.subject(text),
            about_speech=asks_about_speech(text) or any(not self.named_in_rules(p) for p in self.tokenizer.people(text)),
            places=places(text),
        )
