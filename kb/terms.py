"""Colloquial wording mapped to the official terms of the texts (炒股 → 买卖股票), for query expansion."""
from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

COLLOQUIAL_TERMS = Path(__file__).with_name("data") / "colloquial_terms.tsv"


@dataclass(frozen=True)
class TermMap:
    """Colloquial phrases and the official terms each stands for; the longest phrase found wins where two overlap."""

    entries: tuple[tuple[str, tuple[str, ...]], ...]

    def expand(self, text: str, words: Sequence[str] = ()) -> tuple[str, ...]:
        """Return the official terms for the colloquial phrases in ``text`` that ``text`` does not already contain.

        ``words``, the text's segmentation, keeps a phrase from matching inside a longer word (入党 in 入党誓词).
        """
        bounds = _boundaries(words) if words else None
        taken = [False] * len(text)
        out: list[str] = []
        for phrase, terms in self.entries:  # longest first
            start = text.find(phrase)
            while start >= 0 and (any(taken[start:start + len(phrase)]) or (
                    bounds is not None and not (start in bounds and start + len(phrase) in bounds))):
                start = text.find(phrase, start + 1)
            if start < 0:
                continue
            taken[start:start + len(phrase)] = [True] * len(phrase)
            out.extend(t for t in terms if t not in text and t not in out)
        return tuple(out)


def _boundaries(words: Sequence[str]) -> set[int]:
    out, pos = {0}, 0
    for w in words:
        pos += len(w)
        out.add(pos)
    return out


def parse_terms(lines: list[str], where: str) -> list[tuple[str, tuple[str, ...]]]:
    """Return the entries of a term file's lines; raises ValueError naming ``where`` and the line of a bad entry."""
    out = []
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        terms = tuple(t.strip() for t in parts[1].split(",") if t.strip()) if len(parts) == 2 else ()
        if not parts[0].strip() or not terms or parts[0].strip() in terms:
            raise ValueError(f"{where} 第 {n} 行：应为“口语说法<TAB>规范用语[,规范用语…]”（口语说法本身不是规范用语），"
                             f"实为 {line!r}")
        out.append((parts[0].strip(), terms))
    return out


@functools.lru_cache(maxsize=4)
def load_terms(user_file: str | None = None) -> TermMap:
    """Return the shipped term map, extended (and overridden per phrase) by ``user_file``."""
    files = [COLLOQUIAL_TERMS] + ([Path(user_file)] if user_file else [])
    merged: dict[str, tuple[str, ...]] = {}
    for f in files:
        merged.update(parse_terms(f.read_text(encoding="utf-8-sig").splitlines(), str(f)))
    return TermMap(tuple(sorted(merged.items(), key=lambda kv: -len(kv[0]))))
