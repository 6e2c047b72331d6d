"""Typo tolerance: a word the texts never use, written like a frequent word of theirs (处份 for 处分, 党废 for 党费)."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

# A candidate correction must be a word of at least this many regulation passages: the words cadres ask about.
# Chosen on the questions (and earlier turns) of the twelve dev splits and quiz.jsonl: 36 corrected at 5, 38 at 3
# (学食 → 学时, 宣势 → 宣誓), 42 at 2, one of them wrong (老去 → 老区); none wrong at 3.
MIN_PASSAGES = 3
# Function characters: a span holding one (讲的, 表是) is ordinary grammar, not a misspelt word.
FUNCTION_CHARS = frozenset("的了是在有和与及或吗呢吧啊么个这那就也都又还要会能把被给让对为以于从到说讲得地着过不没很")
MIN_TITLE_CHARS = 4
"""A shorter name (监察法, 检察法) is one character from another real one."""
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")


def _pinyin(word: str) -> str:
    from pypinyin import lazy_pinyin

    return " ".join(lazy_pinyin(word))


@dataclass(frozen=True)
class TypoCorrector:
    """Corrects two- to four-character spans that sound like a frequent corpus word and differ from it in one character."""

    by_sound: Mapping[str, str]
    known: Callable[[str], bool]
    segment: Callable[[str], list[str]]
    seen: Callable[[str], bool] = lambda word: True
    """Whether the texts use a word: a dictionary word they never use (留党查看) may be a homophone of one they do."""
    titles: Mapping[tuple[int, str], tuple[str, ...]] = field(default_factory=dict)
    """Document names by their characters 0-1 and 2-3 ((0, 问责), (2, 条例) → 问责条例): a name misspelt in one
    character keeps one of the two pairs, so only the names sharing one are compared with a span."""
    mentioned: Callable[[str], bool] = lambda span: True
    """Whether some passage holds a span: a name the texts write (党组工作条例) is nobody's misspelling."""

    @classmethod
    def build(cls, frequencies: Mapping[str, int], known: Callable[[str], bool],
              segment: Callable[[str], list[str]], seen: Callable[[str], bool] = lambda word: True,
              titles: Iterable[str] = (), mentioned: Callable[[str], bool] = lambda span: True) -> TypoCorrector:
        """Return a corrector over corpus words (word → passages using it) and document ``titles``; ``known`` says a
        span is a real word, ``segment`` cuts text into words, ``seen`` says the texts use a word and ``mentioned``
        that some passage holds a span."""
        best: dict[str, tuple[int, str]] = {}
        for word, n in frequencies.items():
            if 2 <= len(word) <= 4 and n >= MIN_PASSAGES and _CJK_RUN.fullmatch(word):
                key = _pinyin(word)
                if n > best.get(key, (0, ""))[0]:
                    best[key] = (n, word)
        anchors: dict[tuple[int, str], list[str]] = {}
        for title in dict.fromkeys(titles):
            if len(title) >= MIN_TITLE_CHARS and _CJK_RUN.fullmatch(title):
                for at in (0, 2):
                    anchors.setdefault((at, title[at:at + 2]), []).append(title)
        return cls({k: w for k, (_, w) in best.items()}, known, segment, seen,
                   {k: tuple(v) for k, v in anchors.items()}, mentioned)

    def corrections(self, text: str) -> list[tuple[str, str]]:
        """Return (typo, word) pairs found in ``text``, longest spans first, none overlapping."""
        names = self._misspelt_titles(text)
        for typo, _ in names:
            text = text.replace(typo, "，" * len(typo))
        words = self.segment(text)
        found = names + self._homophone_words(words)
        for run in self._unknown_runs(words):
            taken = [False] * len(run)
            for size in (4, 3, 2):
                for i in range(len(run) - size + 1):
                    span = run[i:i + size]
                    if any(taken[i:i + size]) or self.known(span) or FUNCTION_CHARS & set(span):
                        continue
                    word = self.by_sound.get(_pinyin(span))
                    if word and sum(a != b for a, b in zip(word, span)) == 1:
                        found.append((span, word))
                        taken[i:i + size] = [True] * size
        return found

    def _misspelt_titles(self, text: str) -> list[tuple[str, str]]:
        """Return the spans of ``text`` that are one document name with one character changed (问责条列, 公务圆法) and
        that no passage holds, longest first, none overlapping."""
        near: dict[tuple[int, str], set[str]] = {}  # (start, span) → the names within one character of it
        for i in range(len(text)):
            for name in {*self.titles.get((0, text[i:i + 2]), ()), *self.titles.get((2, text[i + 2:i + 4]), ())}:
                span = text[i:i + len(name)]
                if len(span) == len(name) and _CJK_RUN.fullmatch(span) and sum(a != b for a, b in zip(span, name)) <= 1:
                    near.setdefault((i, span), set()).add(name)
        found: list[tuple[str, str]] = []
        taken = [False] * len(text)
        for (i, span), names in sorted(near.items(), key=lambda x: (-len(x[0][1]), x[0][0])):
            # A span that is a name itself, or one character from two names (党?工作条例), is no one's misspelling; a
            # typo sounds like the character it replaces (公务员下班 is no misspelt 公务员法); a span the texts hold is
            # no typo (checked last: it scans every passage).
            name = next(iter(names))
            if len(names) == 1 and span != name and not any(taken[i:i + len(span)]) \
                    and all(a == b or _sounds_alike(a, b) for a, b in zip(span, name)) and not self.mentioned(span):
                found.append((span, name))
                taken[i:i + len(span)] = [True] * len(span)
        return found

    def _homophone_words(self, words: list[str]) -> list[tuple[str, str]]:
        """Return the three- and four-character dictionary words the texts never use that sound like a corpus word
        one character away: 留党查看 for 留党察看. Shorter words are too often right (查看 is a word of its own)."""
        found = []
        for word in words:
            if 3 <= len(word) <= 4 and _CJK_RUN.fullmatch(word) and not self.seen(word):
                match = self.by_sound.get(_pinyin(word))
                if match and sum(a != b for a, b in zip(match, word)) == 1:
                    found.append((word, match))
        return found

    def _unknown_runs(self, words: list[str]) -> list[str]:
        """Return the runs of CJK text (in its ``words``) that no known word of two or more characters covers: where
        typos hide."""
        runs, current = [], ""
        for word in words:
            if _CJK_RUN.fullmatch(word) and len(word) >= 2 and self.known(word):
                runs.append(current)
                current = ""
            elif len(word) == 1 and "\u4e00" <= word <= "\u9fff" or _CJK_RUN.fullmatch(word):
                current += word
            else:
                runs.append(current)
                current = ""
        return [r for r in runs + [current] if len(r) >= 2]

    def correct(self, text: str) -> str:
        """Return ``text`` with its typos replaced."""
        for typo, word in self.corrections(text):
            text = text.replace(typo, word)
        return text


def _sounds_alike(a: str, b: str) -> bool:
    """Whether two characters sound the same but for the tone, or nearly so (列 lie / 例 li: one reading extends the
    other)."""
    x, y = _pinyin(a), _pinyin(b)
    return x == y or x[0] == y[0] and (x.startswith(y) or y.startswith(x))


def passage_frequencies(token_lists: Iterable[Iterable[str]]) -> dict[str, int]:
    """Return, per token, the number of passages that use it."""
    from collections import Counter

    return dict(Counter(t for tokens in token_lists for t in set(tokens)))
