"""Reprints: study notes and speeches that republish a regulation's passages, mapped to the regulation's own chunk."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from .catalog import Manifest
from .known_documents import known_documents
from .schema import Chunk
from .sentences import split_sentences
from .text import canonical

# Sentences shorter than this are too common (``第一条``, ``现予公布。``) to show that a passage was copied.
MIN_SENTENCE = 12
# A passage is a reprint when this share of its text lies in sentences of one regulation chunk.
MIN_SHARE = 0.6


def _authority(chunk: Chunk, official: frozenset[str]) -> int:
    """Return how authoritative a chunk's document is: an official title 2, another regulation 1, else 0."""
    if chunk.doc_type != "regulation":
        return 0
    return 2 if chunk.doc_title in official or chunk.doc_title.split("（")[0] in official else 1


def _sentences(chunk: Chunk) -> list[str]:
    return [s for s in (canonical(chunk.text[a:b]) for a, b in split_sentences(chunk.text)) if len(s) >= MIN_SENTENCE]


def originals(chunks: Iterable[Chunk], manifest: Manifest) -> dict[str, str]:
    """Return reprint chunk id → the chunk of the most authoritative document whose sentences it repeats."""
    official = frozenset(d.title for d in known_documents())
    chunks = list(chunks)
    ranked = sorted(chunks, key=lambda c: -_authority(c, official))
    home: dict[str, tuple[int, str]] = {}
    for c in ranked:
        level = _authority(c, official)
        if level < 2:
            break  # only a regulation under its official title is an original
        for s in _sentences(c):
            home.setdefault(s, (level, c.chunk_id))
    out: dict[str, str] = {}
    for c in chunks:
        level = _authority(c, official)
        sentences = _sentences(c)
        total = sum(len(s) for s in sentences)
        if not total:
            continue
        shared: Counter[str] = Counter()
        for s in sentences:
            found = home.get(s)
            if found and found[0] > level and found[1] != c.chunk_id:
                shared[found[1]] += len(s)
        if shared:
            target, chars = shared.most_common(1)[0]
            if chars >= MIN_SHARE * total:
                out[c.chunk_id] = target
    return out
