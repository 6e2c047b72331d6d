"""The central party regulations and state laws of this field, by title and short name, whether or not they are stored."""
from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .titles import title_aliases

KNOWN_DOCUMENTS = Path(__file__).with_name("data") / "known_documents.tsv"
# Who issues or is bound by a document, which speakers drop: 党政领导干部选拔任用工作条例 is 干部选拔任用条例.
_ISSUERS = re.compile(r"^(中共中央|中央和国家机关|党政领导|党政机关|党政)")
_WORK = re.compile(r"工作(条例|规定|办法|细则)$")
SPOKEN_MIN_CHARS = 4
"""A shorter spoken form (党内条例) could name several documents."""


def spoken_forms(title: str) -> set[str]:
    """Return the shortened names people say for a title: without its issuer and without 工作 before its kind."""
    forms = {title, *title_aliases(title)}
    forms |= {_ISSUERS.sub("", f) for f in forms}
    forms |= {_WORK.sub(r"\1", f) for f in forms}
    return {f for f in forms if f != title and len(f) >= SPOKEN_MIN_CHARS}


@dataclass(frozen=True)
class KnownDocument:
    """A document of the field: its official title, kind (党内法规, 法律 …) and the short names people use."""

    title: str
    kind: str
    names: tuple[str, ...]

    def is_called(self, name: str) -> bool:
        """Return whether ``name`` is this document's title or one of its short names."""
        return name in self.names

    def named_in(self, text: str) -> int:
        """Return the length of the longest of this document's names that ``text`` contains (0 if none)."""
        return max((len(n) for n in self.names if n in text), default=0)


def _parse(line: str) -> KnownDocument | None:
    parts = line.rstrip("\n").split("\t")
    if len(parts) != 3 or line.startswith("#"):
        return None
    title, kind, short = parts
    names = {title, *spoken_forms(title), *(s.strip() for s in short.split(",") if s.strip())}
    return KnownDocument(title, kind, tuple(sorted(names, key=len, reverse=True)))


@functools.lru_cache(maxsize=1)
def known_documents() -> tuple[KnownDocument, ...]:
    """Return the shipped list (kb/data/known_documents.tsv)."""
    rows = KNOWN_DOCUMENTS.read_text(encoding="utf-8").splitlines()
    return tuple(d for d in map(_parse, rows) if d is not None)


# 国企党建那个条例, 村里的那个条例: a document called by its topic and its kind, a demonstrative between.
_DESCRIBED = re.compile(r"([\u4e00-\u9fff]{2,12}?)的?(?:那个|那部|那份|那项|那本)(条例|准则|细则|规则|规定|办法|法)")
# Everyday words for what titles spell out, longest first. Not the query term map (kb/terms.py): these rewrite a
# description to match titles, and must not add search terms to every question that says 高校 or 村里.
_TITLE_WORDING = (("国企", "国有企业"), ("央企", "中央企业"), ("高校", "高等学校"), ("村里", "农村"), ("纪委", "纪律检查"),
                  ("基层党组织", "基层组织"), ("保密", "保守国家秘密"))
# Words of many titles, which tell no document apart (words no title holds are never topic words anyway).
_UNTELLING = frozenset({"党建", "党的", "工作", "有关", "关于", "中国", "共产党", "中国共产党", "规定", "条例", "党内"})
MIN_TOPIC_CHARS = 2


def _topic_words(descriptor: str, titles: Sequence[str]) -> list[str]:
    """Return the longest runs of ``descriptor`` (in titles' wording) that some title holds, less untelling words."""
    for spoken, written in _TITLE_WORDING:
        descriptor = descriptor.replace(spoken, written)
    runs = {descriptor[i:j] for i in range(len(descriptor)) for j in range(i + MIN_TOPIC_CHARS, len(descriptor) + 1)
            if any(descriptor[i:j] in t for t in titles)}
    longest = [r for r in runs if not any(r != o and r in o for o in runs)]
    return [r for r in longest if r not in _UNTELLING]


def documents_described(text: str) -> list[KnownDocument]:
    """Return the one known document each description in ``text`` (国企党建那个条例) fits: of that kind, its title holding
    every topic word of the description; none where no document or several fit."""
    docs = known_documents()
    out: list[KnownDocument] = []
    for m in _DESCRIBED.finditer(text):
        kind = m.group(2)
        of_kind = [d for d in docs if (d.title.endswith(kind) if kind == "法" else kind in d.title)]
        words = _topic_words(m.group(1), [d.title for d in of_kind])
        fits = [d for d in of_kind if words and all(w in d.title for w in words)]
        if len(fits) == 1 and fits[0] not in out:
            out.append(fits[0])
    return out


def documents_named(text: str) -> list[KnownDocument]:
    """Return the known documents ``text`` names, longest name first; a name inside a longer one found counts once;
    then those it describes (documents_described)."""
    found = sorted(((d.named_in(text), d) for d in known_documents()), key=lambda x: -x[0])
    out: list[KnownDocument] = []
    spans: list[str] = []
    for length, doc in found:
        if not length:
            break
        name = next(n for n in doc.names if len(n) == length and n in text)
        if any(name in s for s in spans):
            continue  # 监察法 inside 监察法实施条例
        spans.append(name)
        out.append(doc)
    return out + [d for d in documents_described(text) if d not in out]
