"""What a question that names an edition (2018年版, 新版, 2023年修订的) may be answered from: the stored full text of
that edition, or the articles of it quoted in study notes, or nothing (and then it is told so)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .catalog import Manifest
from .editions import EditionAsk, edition_asked, edition_year, history, regulation_key, without_edition
from .schema import Chunk
from .status import DocStatus, cite_title
from .titles import match_title


@dataclass(frozen=True)
class EditionScope:
    """The edition a question asks for and what the knowledge base holds of it."""

    ask: EditionAsk
    title: str
    edition: str | None
    doc_ids: tuple[str, ...] = ()
    quotes: tuple[Chunk, ...] = ()
    stored: tuple[str, ...] = ()  # the editions of this regulation the knowledge base does hold (cited titles)

    @property
    def named(self) -> str:
        return cite_title(self.title, self.edition or self.ask.describe())

    @property
    def missing(self) -> bool:
        return not self.doc_ids and not self.quotes

    @property
    def only_quoted(self) -> bool:
        return not self.doc_ids and bool(self.quotes)

    def allowed(self) -> set[str]:
        """Return the documents an answer may rest on: the full text, else the notes that quote the edition."""
        return set(self.doc_ids) or {c.doc_id for c in self.quotes}

    def quoted_labels(self) -> list[str]:
        ordered = sorted((c for c in self.quotes if c.article), key=lambda c: c.article_no or 0)
        return list(dict.fromkeys(c.article for c in ordered))

    def lacks(self, label: str | None = None) -> str:
        """Return the plain statement that the knowledge base lacks this edition (or ``label`` of it)."""
        have = f"知识库中现有：{'、'.join(self.stored)}。" if self.stored else ""
        if self.doc_ids:
            return f"{self.named}中没有{label}。"
        if self.quotes:
            quoted = "、".join(self.quoted_labels())
            return f"知识库中没有{self.named}的全文，只有其中{quoted}的引文" + (f"，没有{label}的原文。" if label else "。") + have
        return f"知识库中没有{self.named}。" + have


def _target(ask: EditionAsk, key: str, years: Sequence[int]) -> tuple[int | None, str | None]:
    """Return the year and label of the edition asked for: a given year, or the newest known anywhere."""
    known = {e.year: e.label for e in history(key) if e.year}
    if ask.year is not None:
        return ask.year, known.get(ask.year)
    newest = max([*known, *years], default=None)
    return newest, known.get(newest)


def edition_scope(text: str, manifest: Manifest, statuses: Mapping[str, DocStatus],
                  quotations: Mapping[str, Sequence[Chunk]], known_titles: Sequence[str] = ()) -> EditionScope | None:
    """Return the scope of a question that names an edition of a stored or quoted regulation, else None.

    ``known_titles``: the titles of the known documents the question names, by a short name (干部档案条例) too; as for
    an article, they stand in when no stored title matches the text.
    """
    ask = edition_asked(text)
    if ask is None:
        return None
    plain = without_edition(text, ask)
    titles = {d: s.title for d, s in statuses.items() if manifest.documents[d].doc_type == "regulation"}
    named = match_title(plain, titles) or [d for d, title in titles.items() if title in known_titles]
    keys = [regulation_key(titles[d]) for d in named] or match_title(plain, {k: k for k in quotations})
    if not keys:
        return None
    key = keys[0]
    mine = {d: s for d, s in statuses.items() if regulation_key(s.title) == key}
    quoted = list(quotations.get(key, ()))
    labels = [s.edition for s in mine.values()] + [c.edition for c in quoted]
    years = [y for y in map(edition_year, labels) if y]
    year, label = _target(ask, key, years)
    docs = tuple(d for d, s in mine.items() if year is not None and edition_year(s.edition) == year)
    quotes = tuple(c for c in quoted if year is not None and edition_year(c.edition) == year)
    title = next((s.title for s in mine.values()), key)
    if label is None:
        label = next((mine[d].edition for d in docs), None) or next((c.edition for c in quotes), None)
    if label is None and year is not None:
        label = f"{year}年版"
    return EditionScope(ask, title, label, docs, quotes, tuple(s.named for s in mine.values()))
