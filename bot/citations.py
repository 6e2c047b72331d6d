"""Checking that each cited passage was retrieved and really supports the sentence that cites it."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from kb.schema import Chunk
from kb.text import canonical, char_overlap, has_common_run

from kb.sentences import split_sentences

MARKER = re.compile(r"\[(\d{1,2})\]")
_QUOTE = re.compile(r"[“「『\"]([^”」』\"]{4,})[”」』\"]")
# Models often write "……。[1]": move such markers before the punctuation so they stay with their sentence.
_TRAILING_MARKERS = re.compile(r"([。！？；!?;])\s*((?:\[\d{1,2}\])+)")
MIN_OVERLAP = 0.6
MIN_RUN = 6
UNSUPPORTED_MARK = "〔未核实〕"


@dataclass(frozen=True)
class CheckedSentence:
    """One answer sentence with the citations that survived the check."""

    text: str
    kept: tuple[int, ...]
    dropped: tuple[int, ...]

    @property
    def supported(self) -> bool:
        return bool(self.kept)


def supports(sentence: str, passage: str) -> bool:
    """Return whether ``passage`` supports ``sentence``.

    Quoted text must appear verbatim; otherwise most of the sentence's characters must occur in the passage
    and share a run of at least MIN_RUN characters, so that common function characters alone never suffice.
    """
    claim = MARKER.sub("", sentence)
    body = canonical(passage)
    quotes = _QUOTE.findall(claim)
    if any(canonical(q) not in body for q in quotes):
        return False
    c = canonical(claim)
    if len(c) < 4:
        return True
    return char_overlap(c, body) >= MIN_OVERLAP and has_common_run(c, body, min(MIN_RUN, len(c)))


def check_answer(text: str, passages: Mapping[int, Chunk]) -> list[CheckedSentence]:
    """Return each sentence of ``text`` with its citations split into kept and dropped."""
    out = []
    text = _TRAILING_MARKERS.sub(r"\2\1", text)
    for s, e in split_sentences(text):
        sentence = text[s:e]
        cited = [int(n) for n in MARKER.findall(sentence)]
        kept = tuple(n for n in dict.fromkeys(cited) if n in passages and supports(sentence, passages[n].text))
        dropped = tuple(n for n in dict.fromkeys(cited) if n not in kept)
        out.append(CheckedSentence(MARKER.sub("", sentence).strip(), kept, dropped))
    return out


def render(checked: list[CheckedSentence]) -> str:
    """Return the verified answer: supported sentences keep their surviving markers, others are marked."""
    parts = []
    for cs in checked:
        if cs.supported:
            parts.append(cs.text + "".join(f"[{n}]" for n in cs.kept))
        else:
            parts.append(cs.text + UNSUPPORTED_MARK)
    return "".join(parts)
