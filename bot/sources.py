"""Where study material comes from: the cited passage, the rank of its document, and reprints mapped to regulations.

The corpus republishes regulations inside speeches, 每周一学 columns and school handouts; a trainer must cite the
regulation itself, so a reprinted sentence is traced back to the regulation's own chunk by its text.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kb.schema import Chunk
from kb.sentences import split_sentences
from kb.text import canonical

_OFFICIAL_TITLE = re.compile(r"(章程|条例|准则|规定|细则|办法|规则|宪法|意见|决定)$")
# Shorter sentences (标题, 总则) recur across regulations and would map a reprint to the wrong one.
MIN_MAPPED_CHARS = 12


@dataclass(frozen=True)
class Source:
    """Where a point or a quiz sentence comes from."""

    doc_id: str
    doc_title: str
    doc_type: str
    heading: str
    article: str | None
    chunk_id: str
    chapter: str = ""
    cited: str = ""  # the title as citations name it, with its edition (Chunk.cited_as)

    @classmethod
    def of(cls, chunk: Chunk) -> Source:
        chapter = next((h for h in chunk.heading_path if h != chunk.article), "")
        return cls(chunk.doc_id, chunk.doc_title, chunk.doc_type, chunk.heading, chunk.article, chunk.chunk_id,
                   chapter, chunk.cited_as)

    @property
    def where(self) -> str:
        """Return ``第十条`` or, for a document without articles, its heading path (``（四）``)."""
        return self.article or self.heading

    def label(self) -> str:
        """Return ``《标题》 第十条`` (or the heading path when the passage is not an article)."""
        named = self.cited or f"《{self.doc_title}》"
        if self.article and self.article in named:  # a quoted article's citation names it already
            return named
        return named + (f" {self.where}" if self.where else "")


def doc_rank(doc_type: str, title: str) -> int:
    """Return 0 for a regulation proper (its title ends in 章程, 条例, 规定…), 1 for other regulation-like documents
    (study materials that reprint articles), 2 for other documents and 3 for speeches."""
    if doc_type != "speech" and _OFFICIAL_TITLE.search(title.strip()):
        return 0
    return {"regulation": 1, "other": 2}.get(doc_type, 3)


def rank_of(chunk: Chunk) -> int:
    """Return ``doc_rank`` of the chunk's document."""
    return doc_rank(chunk.doc_type, chunk.doc_title)


def sentence_keys(text: str) -> list[str]:
    """Return the canonical sentences of ``text`` long enough to identify a regulation's passage."""
    keys = (canonical(text[s:e]).rstrip("。；;") for s, e in split_sentences(text))
    return [k for k in keys if len(k) >= MIN_MAPPED_CHARS]


@dataclass(frozen=True)
class ReprintIndex:
    """Canonical sentence → the regulation chunk that states it."""

    owners: Mapping[str, str]

    @classmethod
    def build(cls, chunks: Iterable[Chunk]) -> ReprintIndex:
        owners: dict[str, str] = {}
        for chunk in chunks:
            if rank_of(chunk) == 0:
                for key in sentence_keys(chunk.text):
                    owners.setdefault(key, chunk.chunk_id)
        return cls(owners)

    def original(self, chunk: Chunk) -> str | None:
        """Return the id of the regulation chunk that ``chunk`` reprints (most shared sentences), or None."""
        if rank_of(chunk) == 0:
            return chunk.chunk_id
        votes = Counter(self.owners[k] for k in sentence_keys(chunk.text) if k in self.owners)
        return votes.most_common(1)[0][0] if votes else None

    def owner_of(self, sentence: str) -> str | None:
        """Return the id of the regulation chunk that states ``sentence``, or None."""
        keys = sentence_keys(sentence)
        return self.owners.get(keys[0]) if len(keys) == 1 else None
