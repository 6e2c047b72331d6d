"""Notices on an answer about the texts it rests on: a superseded or repealed edition, a quotation instead of the
full text, an edition the question named that the knowledge base lacks."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from kb.edition_scope import EditionScope
from kb.editions import REPEALED, SUPERSEDED, Edition, regulation_key
from kb.schema import Answer, Chunk, Notice
from kb.status import DocStatus, cite_title

from . import messages as msg


def _kind_word(title: str) -> str:
    """Return what the document calls itself: 条例, 细则, 章程 …"""
    key = regulation_key(title)
    return "党章" if key.endswith("章程") else key[-2:]


def superseded(status: DocStatus, also: str | None = None) -> Notice:
    """Return the notice for a citation of a superseded edition; ``also``: an article of the current edition with the
    same number that is quoted in the knowledge base (its content may differ)."""
    current: Edition | None = status.current
    text = msg.superseded_notice(status.title, status.edition, _kind_word(status.title),
                                 current.label if current else None, current.effective if current else None,
                                 "条文序号有变化" in (current.note if current else ""))
    if also and current is not None:
        text += msg.also_quoted(status.title, current.label, also)
    return Notice("superseded", status.doc_id, status.edition, current.label if current else None,
                  status.evidence, text)


def repealed(status: DocStatus) -> Notice:
    return Notice("repealed", status.doc_id, status.edition, None, status.evidence,
                  msg.repealed_notice(cite_title(status.title, status.edition)))


def quotation(chunk: Chunk) -> Notice:
    """Return the notice for a citation that is an article quoted in a study note, not the regulation's full text."""
    named = cite_title(chunk.quotes or "", chunk.edition)
    return Notice("quotation", chunk.doc_id, chunk.edition, chunk.edition, f"摘自《{chunk.doc_title}》",
                  msg.quotation_notice(named, chunk.article or "", chunk.doc_title))


def _quoted_same(chunk: Chunk, status: DocStatus, quotations: Mapping[str, Sequence[Chunk]]) -> str | None:
    """Return the article label when the current edition's article of that number is quoted in the knowledge base."""
    if not chunk.article or status.current is None:
        return None
    same = [q for q in quotations.get(regulation_key(status.title), ())
            if q.article == chunk.article and q.edition == status.current.label]
    return chunk.article if same else None


def notices_for(answer: Answer, statuses: Mapping[str, DocStatus], scope: EditionScope | None = None,
                quotations: Mapping[str, Sequence[Chunk]] | None = None) -> Answer:
    """Return ``answer`` with one notice per superseded, repealed or quoted source it cites (none on a refusal)."""
    if answer.refused:
        return answer
    out: dict[tuple[str, str | None], Notice] = {}
    for c in (c.chunk for c in answer.citations):
        status = statuses.get(c.doc_id)
        if c.quotes:
            out.setdefault(("quotation", c.doc_id), quotation(c))
        elif status is not None and status.status == SUPERSEDED:
            out.setdefault(("superseded", c.doc_id), superseded(status, _quoted_same(c, status, quotations or {})))
        elif status is not None and status.status == REPEALED:
            out.setdefault(("repealed", c.doc_id), repealed(status))
    if scope is not None and scope.only_quoted and not any(n.kind == "quotation" for n in out.values()):
        out[("edition", None)] = Notice("edition", None, scope.edition, scope.edition, "",
                                        msg.only_quoted_notice(scope.named))
    return replace(answer, notices=tuple(out.values())) if out else answer
