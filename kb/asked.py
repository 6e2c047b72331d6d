"""Questions each regulation article answers, written ahead of any user, matched by vector: 老板塞了张购物卡 shares no
word with 收受…礼品、礼金、消费卡, but it is close to a question asked that way."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .catalog import DocEntry
from .errors import DjkbError

ASKED_FILE = Path(__file__).parent / "data" / "article_questions.tsv"
ASKED_CANDIDATES = 40
"""Questions read per search, about three an article. Pooled hit@1 / hit@5 over the sixteen dev splits: 0.841 / 0.975
at 15, 0.839 / 0.975 at 40 and at 100."""


@dataclass(frozen=True)
class ArticleQuestion:
    """One question that an article of a regulation's edition answers."""

    title: str
    edition: str
    article: str
    question: str


def article_questions(extra: Path | None = None) -> tuple[ArticleQuestion, ...]:
    """Return the shipped article questions and those of a user's file (DJKB_ASKED), if any."""
    return read_article_questions() + (read_article_questions(extra) if extra else ())


def read_article_questions(path: Path = ASKED_FILE) -> tuple[ArticleQuestion, ...]:
    """Return the questions of a file of ``title<TAB>edition<TAB>第N条<TAB>question`` lines (``#`` comments skipped).

    Raises DjkbError when the file cannot be read or a line has not four fields.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DjkbError(f"无法读取条文问句文件 {path}（DJKB_ASKED）：{exc.__class__.__name__}") from exc
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) != 4 or not all(fields):
            raise DjkbError(f"条文问句文件 {path} 第 {n} 行应为“标题<TAB>版本<TAB>第N条<TAB>问句”四列")
        out.append(ArticleQuestion(*fields))
    return tuple(out)


def editions_held(documents: Mapping[str, DocEntry]) -> dict[tuple[str, str], list[str]]:
    """Return the ids of the stored documents of each (title, edition), a regulation before a note republishing it."""
    editions: dict[tuple[str, str], list[str]] = {}
    for doc_id in sorted(documents, key=lambda d: (documents[d].doc_type != "regulation", d)):
        if documents[doc_id].edition:
            editions.setdefault((documents[doc_id].title, documents[doc_id].edition), []).append(doc_id)
    return editions


@dataclass(frozen=True)
class AskedIndex:
    """The vectors of the questions whose article the knowledge base holds, and that article's chunks per row."""

    vectors: np.ndarray
    targets: tuple[tuple[str, ...], ...]  # chunk ids of each row's article, in reading order
    docs: tuple[str, ...]  # the document id of each row

    @classmethod
    def build(cls, questions: Sequence[ArticleQuestion], vectors: np.ndarray,
              editions: Mapping[tuple[str, str], Sequence[str]],
              article_chunks: Callable[[str, str], Sequence[str]]) -> AskedIndex:
        """Return the index of the ``questions`` (embedded as ``vectors``, one row each) whose (title, edition) names
        stored documents (``editions``, see editions_held) of which the first holds their article."""
        rows, targets, docs = [], [], []
        for i, q in enumerate(questions):
            for doc_id in editions.get((q.title, q.edition), ()):
                if chunks := tuple(article_chunks(doc_id, q.article)):
                    rows.append(i), targets.append(chunks), docs.append(doc_id)
                    break
        return cls(vectors[rows], tuple(targets), tuple(docs))

    def search(self, vector: np.ndarray, allowed: Set[str] | None = None,
               k: int = ASKED_CANDIDATES) -> list[tuple[str, float]]:
        """Return the chunks of the articles whose questions, among the ``allowed`` documents', are nearest
        ``vector``, each with its best cosine."""
        if not len(self.vectors) or vector.shape[0] != self.vectors.shape[1]:
            return []
        found = self.vectors @ vector.astype(np.float32)
        if allowed is not None:
            found = np.where(np.fromiter((d in allowed for d in self.docs), bool, len(self.docs)), found, -np.inf)
        best: dict[str, float] = {}
        for i in np.argsort(-found)[:k]:
            if np.isfinite(found[i]):
                for cid in self.targets[i]:
                    best.setdefault(cid, float(found[i]))
        return list(best.items())
