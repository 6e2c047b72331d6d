"""Questions each regulation article answers, written ahead of any user, matched by vector: 老板塞了张购物卡 shares no
word with 收受…礼品、礼金、消费卡, but it is close to a question asked that way."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence, Set
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


@dataclass(frozen=True)
class AskedIndex:
    """The vectors of the questions whose article the knowledge base holds, and that article's chunks per row."""

    vectors: np.ndarray
    targets: tuple[tuple[str, ...], ...]  # chunk ids of each row's article, in reading order
    docs: tuple[str, ...]  # the document id of each row

    @classmethod
    def build(cls, embed_queries: Callable[[list[str]], np.ndarray], questions: Iterable[ArticleQuestion],
              documents: Mapping[tuple[str, str], Sequence[str]],
              article_chunks: Callable[[str, str], Sequence[str]]) -> AskedIndex:
        """Return the index of ``questions`` whose (title, edition) names a stored document (``documents``: its ids,
        the regulation first) holding their article (``article_chunks``)."""
        rows = []
        for q in questions:
            for doc_id in documents.get((q.title, q.edition), ()):
                chunks = tuple(article_chunks(doc_id, q.article))
                if chunks:
                    rows.append((q.question, chunks, doc_id))
                    break
        if not rows:
            return cls(np.zeros((0, 0), dtype=np.float32), (), ())
        vectors = np.asarray(embed_queries([r[0] for r in rows]), dtype=np.float32)
        return cls(vectors, tuple(r[1] for r in rows), tuple(r[2] for r in rows))

    @classmethod
    def for_documents(cls, embed_queries: Callable[[list[str]], np.ndarray], questions: Iterable[ArticleQuestion],
                      documents: Mapping[str, DocEntry], article_chunks: Callable[[str, str], Sequence[str]]) -> AskedIndex:
        """Return the index of ``questions`` over stored ``documents`` (id → catalog entry), a regulation before a
        note that republishes the same edition."""
        editions: dict[tuple[str, str], list[str]] = {}
        for doc_id in sorted(documents, key=lambda d: (documents[d].doc_type != "regulation", d)):
            if documents[doc_id].edition:
                editions.setdefault((documents[doc_id].title, documents[doc_id].edition), []).append(doc_id)
        return cls.build(embed_queries, questions, editions, article_chunks)

    def search(self, vector: np.ndarray, allowed: Set[str] | None = None,
               k: int = ASKED_CANDIDATES) -> list[tuple[str, float]]:
        """Return the chunks of the articles whose questions are nearest ``vector``, each with its best cosine."""
        if not len(self.vectors) or vector.shape[0] != self.vectors.shape[1]:
            return []
        found = self.vectors @ vector.astype(np.float32)
        best: dict[str, float] = {}
        for i in np.argsort(-found)[:k]:
            if allowed is None or self.docs[i] in allowed:
                for cid in self.targets[i]:
                    best.setdefault(cid, float(found[i]))
        return list(best.items())
