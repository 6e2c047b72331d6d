"""Compare two editions of a regulation article by article, aligned by content rather than by number: 新增, 删除,
修改 and 未变, with a character diff of each changed article and its old and new numbers."""
from __future__ import annotations

import difflib
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .grammar import DIVISION_LINE, LABEL_PREFIX, article_number, is_article_label
from .schema import Chunk

# Similarity (see ``similarity``) above which two articles are one article edited, not one deleted and one added.
# Chosen on the 13 quoted 2023 纪律处分条例 articles against the 2018 text (true pairs 0.71–0.97, the best false
# ones 0.51 and 0.56) and checked on the 党章 fixture editions (tests/test_compare.py); the idf weighting keeps shared
# boilerplate (给予警告或者严重警告处分) from pairing unrelated articles.
MATCH_THRESHOLD = 0.6
# Among equally similar candidates, the one at the nearer relative position wins (a tie-breaker only).
POSITION_WEIGHT = 0.01
KINDS = ("未变", "修改", "新增", "删除")


@dataclass(frozen=True)
class Article:
    """One article of an edition: its label and its text without the label and headings."""

    label: str
    text: str


@dataclass(frozen=True)
class Pair:
    """One row of a comparison: an article of A, of B, or of both, what happened to it and the character diff."""

    kind: str
    old: Article | None
    new: Article | None
    similarity: float = 1.0
    diff: tuple[tuple[str, str], ...] = ()  # (op, text): equal, delete, insert

    @property
    def renumbered(self) -> bool:
        return self.old is not None and self.new is not None and self.old.label != self.new.label

    def marked(self) -> str:
        """Return the diff as text: ``[-删去的-]{+新增的+}``."""
        marks = {"equal": "{}", "delete": "[-{}-]", "insert": "{{+{}+}}"}
        return "".join(marks[op].format(text) for op, text in self.diff)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "old_label": self.old.label if self.old else None,
                "new_label": self.new.label if self.new else None, "renumbered": self.renumbered,
                "similarity": round(self.similarity, 4), "old_text": self.old.text if self.old else None,
                "new_text": self.new.text if self.new else None,
                **({"diff": [list(d) for d in self.diff]} if self.kind == "修改" else {})}


def articles_of(chunks: Sequence[Chunk]) -> list[Article]:
    """Return a document's articles in order from its chunks: pieces of one article joined, headings and labels off."""
    texts: dict[str, list[Chunk]] = {}
    for c in sorted(chunks, key=lambda c: c.char_start):
        if c.article and is_article_label(c.article):
            texts.setdefault(c.article, []).append(c)
    out = []
    for label, parts in texts.items():
        lines = [ln.strip() for c in parts for ln in c.text.split("\n") if ln.strip()]
        start = next((k for k, ln in enumerate(lines) if ln.startswith(label)), 0)  # headings above the label go
        lines = [ln for ln in lines[start:] if not DIVISION_LINE.match(ln)]
        if lines and lines[0].startswith(label):
            lines[0] = LABEL_PREFIX.sub("", lines[0], count=1).strip()
        out.append(Article(label, "\n".join(ln for ln in lines if ln)))
    return sorted(out, key=lambda a: article_number(a.label) or (0, 0))


def _bigrams(text: str) -> Counter:
    return Counter(text[i:i + 2] for i in range(len(text) - 1))


def similarity(a: Counter, b: Counter, weight: Mapping[str, float] | None = None) -> float:
    """Return the mean of the Dice and the overlap coefficient of two bigram multisets, each bigram weighted (by its
    idf) when ``weight`` is given: an article that gained or lost a paragraph still matches its old self."""
    w = (lambda g: weight.get(g, 1.0)) if weight else (lambda g: 1.0)
    wa, wb = sum(n * w(g) for g, n in a.items()), sum(n * w(g) for g, n in b.items())
    if not wa or not wb:
        return 1.0 if wa == wb else 0.0
    common = sum(n * w(g) for g, n in (a & b).items())
    return (2 * common / (wa + wb) + common / min(wa, wb)) / 2


def _idf(grams: Sequence[Counter]) -> dict[str, float]:
    df = Counter(g for c in grams for g in c)
    return {g: math.log((1 + len(grams)) / (1 + n)) + 1.0 for g, n in df.items()}


def char_diff(old: str, new: str) -> tuple[tuple[str, str], ...]:
    """Return the character diff of two texts as (op, text) runs."""
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            out.append(("delete", old[i1:i2]))
        if op in ("insert", "replace"):
            out.append(("insert", new[j1:j2]))
        if op == "equal":
            out.append(("equal", old[i1:i2]))
    return tuple(out)


def _match(old: Sequence[Article], new: Sequence[Article]) -> dict[int, tuple[int, float]]:
    """Return new index → (old index, similarity): identical texts first, then greedily the most similar pairs."""
    matched: dict[int, tuple[int, float]] = {}
    used: set[int] = set()
    by_text: dict[str, list[int]] = {}
    for i, a in enumerate(old):
        by_text.setdefault(a.text, []).append(i)
    for j, b in enumerate(new):
        free = [i for i in by_text.get(b.text, []) if i not in used]
        if free:
            i = min(free, key=lambda i: abs(i / max(1, len(old)) - j / max(1, len(new))))
            matched[j] = (i, 1.0)
            used.add(i)
    grams_old = [_bigrams(a.text) for a in old]
    grams_new = [_bigrams(b.text) for b in new]
    weight = _idf(grams_old + grams_new)
    scored = []
    for j, gb in enumerate(grams_new):
        if j in matched:
            continue
        for i, ga in enumerate(grams_old):
            if i not in used:
                s = similarity(ga, gb, weight)
                if s >= MATCH_THRESHOLD:
                    drift = abs(i / max(1, len(old)) - j / max(1, len(new)))
                    scored.append((s - POSITION_WEIGHT * drift, s, i, j))
    for _, s, i, j in sorted(scored, reverse=True):
        if i not in used and j not in matched:
            matched[j] = (i, s)
            used.add(i)
    return matched


def compare(old: Sequence[Article], new: Sequence[Article], new_partial: bool = False) -> list[Pair]:
    """Return the rows of the comparison in the new edition's order, each deleted article after its predecessor.

    ``new_partial``: the new edition is known only from quotations, so an old article without a match is not shown as
    deleted (it may simply not be quoted)."""
    matched = _match(old, new)
    rows: list[tuple[float, Pair]] = []
    for j, b in enumerate(new):
        if j in matched:
            i, s = matched[j]
            a = old[i]
            kind = "未变" if a.text == b.text else "修改"
            rows.append((j, Pair(kind, a, b, s, char_diff(a.text, b.text) if kind == "修改" else ())))
        else:
            rows.append((j, Pair("新增", None, b, 0.0)))
    where = {i: j for j, (i, _) in matched.items()}
    for i, a in enumerate(old):
        if i not in where and not new_partial:
            before = [where[k] for k in range(i) if k in where]
            rows.append(((max(before) if before else -1) + 0.5, Pair("删除", a, None, 0.0)))
    return [p for _, p in sorted(rows, key=lambda r: r[0])]


def summary(pairs: Sequence[Pair]) -> dict[str, int]:
    """Return how many articles are of each kind, and how many kept articles were renumbered."""
    counts = {k: sum(p.kind == k for p in pairs) for k in KINDS}
    counts["改变序号"] = sum(p.renumbered for p in pairs)
    return counts
