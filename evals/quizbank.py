"""Turning quiz banks (fill-in-the-blank, multiple choice) into dev-set questions located in the corpus.

Rule: fill each blank （） with its answer; strip both the statement and every stored document down to letters
and digits (NFKC, no whitespace, no punctuation or symbols, so “” versus 「」 or ， versus 、 never matters);
at each place a document contains the (longest) answer, extend the match left and right while statement and
document agree. Keep the item when that match, answer included, is at least MIN_MATCH characters, holds at
least MIN_CONTEXT characters besides the answers, and covers at least MIN_SHARE of the statement. The evidence
is the document's verbatim text from the match's first to its last character.
"""
from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kb.catalog import Catalog
from kb.grammar import ARTICLE_HEAD, DIVISION_HEAD, article_label, cn_to_int
from kb.titles import match_title

from .dataset import Gold, Question

BLANK = re.compile(r"[（(][\s\u3000_]*[）)]|_{2,}")
_PARTS = re.compile(r"[；;、，,\s]+")
MIN_MATCH = 14
MIN_CONTEXT = 8
MIN_SHARE = 0.5
_HTML = (".html", ".htm")
DEFAULT_OUT = Path(__file__).with_name("datasets") / "quiz.jsonl"

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class QuizItem:
    """One quiz question and the text of its answer for each blank."""

    id: str
    question: str
    answers: tuple[str, ...]


def loose(text: str) -> tuple[str, list[int]]:
    """Return ``text`` reduced to letters and digits (NFKC) and, per kept character, its index in ``text``."""
    out, where = [], []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch):
            if unicodedata.category(c)[0] in "LN":
                out.append(c)
                where.append(i)
    return "".join(out), where


def load_bank(path: Path) -> list[QuizItem]:
    """Return the items of a quiz bank JSON file: ``{question, answer}`` or choice ``{question, options, answer}``."""
    rows = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    out = []
    for i, row in enumerate(rows, 1):
        if "options" in row:
            text = row.get("answer_text") or "".join(row["options"].get(c, "") for c in str(row["answer"]))
            answers = (str(text),)
        else:
            answers = (str(row.get("answer", "")),)
        out.append(QuizItem(f"quiz-{Path(path).stem}-{i:04d}", str(row["question"]).strip(), answers))
    return out


def fill(question: str, answer: str) -> tuple[str, list[tuple[int, int]]] | None:
    """Return the statement with every blank filled, and the answers' spans; None when blanks and parts differ.

    One blank takes the whole answer; several blanks take the answer's parts split at ；、， or spaces.
    """
    blanks = list(BLANK.finditer(question))
    if not blanks or not answer.strip():
        return None
    parts = [answer.strip()] if len(blanks) == 1 else [p for p in _PARTS.split(answer) if p]
    if len(parts) != len(blanks):
        return None
    out, spans, last = [], [], 0
    for m, part in zip(blanks, parts):
        out.append(question[last:m.start()])
        start = sum(len(x) for x in out)
        out.append(part)
        spans.append((start, start + len(part)))
        last = m.end()
    out.append(question[last:])
    return "".join(out), spans


@dataclass(frozen=True)
class Located:
    """Where a filled statement was found: document, verbatim evidence and its article label."""

    doc_id: str
    evidence: str
    article: str | None
    length: int
    context: int
    share: float


@dataclass(frozen=True)
class QuizDoc:
    """A stored document prepared for matching: its letters-and-digits form and where each of its characters was."""

    doc_id: str
    title: str
    doc_type: str
    source: str
    text: str
    loose: str
    where: tuple[int, ...]

    @classmethod
    def of(cls, doc_id: str, title: str, doc_type: str, source: str, text: str) -> QuizDoc:
        reduced, where = loose(text)
        return cls(doc_id, title, doc_type, source, text, reduced, tuple(where))


def article_at(text: str, pos: int) -> str | None:
    """Return the label of the article holding ``text[pos]``: the nearest line-start 第X条 before it, if no
    编/章/节 heading comes between them."""
    last = None
    for m in ARTICLE_HEAD.finditer(text, 0, pos + 1):
        last = m
    if last is None or DIVISION_HEAD.search(text, last.end(), pos):
        return None
    try:
        return article_label(cn_to_int(last.group("num")))
    except ValueError:
        return None


def locate(statement: str, spans: Sequence[tuple[int, int]], docs: Sequence[QuizDoc],
           named: frozenset[str] = frozenset()) -> Located | None:
    """Return the best place of ``statement`` in ``docs``, or None.

    The longest match wins; on a tie, a document in ``named`` (ids of documents the question names), then a
    regulation.
    """
    keep = [False] * len(statement)
    for s, e in spans:
        keep[s:e] = [True] * (e - s)
    stmt, where = loose(statement)
    is_answer = [keep[i] for i in where]
    anchor_span = max(spans, key=lambda se: len(loose(statement[se[0]:se[1]])[0]))
    anchor = loose(statement[anchor_span[0]:anchor_span[1]])[0]
    if not anchor:
        return None
    a_start = next(j for j, i in enumerate(where) if i >= anchor_span[0])
    best: tuple | None = None
    for doc in docs:
        pos = doc.loose.find(anchor)
        while pos >= 0:
            left = 0
            while a_start - left > 0 and pos - left > 0 and stmt[a_start - left - 1] == doc.loose[pos - left - 1]:
                left += 1
            right = a_start + len(anchor)
            dpos = pos + len(anchor)
            while right < len(stmt) and dpos < len(doc.loose) and stmt[right] == doc.loose[dpos]:
                right += 1
                dpos += 1
            lo, hi = a_start - left, right
            rank = (hi - lo, doc.doc_id in named, doc.doc_type == "regulation")
            if best is None or rank > best[0]:
                best = (rank, doc, lo, hi, pos - left, dpos)
            pos = doc.loose.find(anchor, pos + 1)
    if best is None:
        return None
    (length, _, _), doc, lo, hi, d_lo, d_hi = best
    context = sum(1 for x in is_answer[lo:hi] if not x)
    start, end = doc.where[d_lo], doc.where[d_hi - 1] + 1
    article = article_at(doc.text, start) if doc.doc_type == "regulation" else None
    return Located(doc.doc_id, doc.text[start:end], article, length, context, length / max(1, len(stmt)))


def confident(loc: Located | None) -> bool:
    """Return whether a located statement is kept (see the module docstring for the rule)."""
    return loc is not None and loc.length >= MIN_MATCH and loc.context >= MIN_CONTEXT and loc.share >= MIN_SHARE


def relative_source(source: str, corpus: Path) -> str:
    """Return ``source`` relative to the corpus root, else its last two path parts."""
    try:
        return Path(source).resolve().relative_to(Path(corpus).resolve()).as_posix()
    except ValueError:
        return "/".join(Path(source).parts[-2:])


def load_docs(catalog: Catalog) -> list[QuizDoc]:
    """Return the knowledge base's stored documents, prepared for matching."""
    manifest = catalog.load()
    docs = []
    for doc_id, entry in sorted(manifest.documents.items()):
        doc, _, _ = catalog.read_doc(doc_id)
        # A document stored from several identical files is cited by its plain-text copy: HTML pages carry noise.
        sources = sorted(entry.sources or (doc.source,), key=lambda s: (Path(s).suffix.lower() in _HTML, s))
        docs.append(QuizDoc.of(doc_id, entry.title, entry.doc_type, sources[0], doc.text))
    return docs


@dataclass(frozen=True)
class Conversion:
    """Questions kept from the quiz banks, and per bank how many items were kept of how many."""

    questions: tuple[Question, ...]
    yields: tuple[tuple[str, int, int], ...]


def convert(banks: Sequence[Path], docs: Sequence[QuizDoc], corpus: Path,
            progress: Progress | None = None) -> Conversion:
    """Return the confidently located items of ``banks`` as ``lookup`` questions in the dev-set format."""
    questions: list[Question] = []
    yields = []
    seen: set[str] = set()
    items = [(Path(b).name, it) for b in banks for it in load_bank(Path(b))]
    kept: dict[str, int] = {}
    titles = {d.doc_id: d.title for d in docs}
    for i, (bank, item) in enumerate(items, 1):
        kept.setdefault(bank, 0)
        filled = fill(item.question, item.answers[0])
        loc = locate(*filled, docs, frozenset(match_title(item.question, titles))) if filled else None
        if confident(loc) and item.question not in seen:
            seen.add(item.question)
            doc = next(d for d in docs if d.doc_id == loc.doc_id)
            gold = Gold(doc=relative_source(doc.source, corpus), evidence=loc.evidence, article=loc.article)
            questions.append(Question(item.id, item.question, "lookup", (gold,)))
            kept[bank] += 1
        if progress:
            progress(item.id, i, len(items))
    for bank in dict.fromkeys(b for b, _ in items):
        yields.append((bank, kept[bank], sum(1 for b, _ in items if b == bank)))
    return Conversion(tuple(questions), tuple(yields))
