"""Text normalization shared by ingest, retrieval, citation checks and evals."""
from __future__ import annotations

import re
import unicodedata

_WS = re.compile(r"\s+")
_HSPACE = re.compile(r"[ \t\u00a0\u3000]+")


def normalize_source(text: str) -> str:
    """Return document text with unified newlines, no BOM or control chars, trimmed line ends.

    Full-width spaces inside a line are kept as one space so that ``第一条　内容`` still reads as a heading.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    lines = [_HSPACE.sub(" ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def canonical(text: str) -> str:
    """Return NFKC text without any whitespace: the form in which evidence and quotes are compared."""
    return _WS.sub("", unicodedata.normalize("NFKC", text))


def char_overlap(needle: str, haystack: str) -> float:
    """Return the share of ``needle``'s characters (canonical, multiset) that also occur in ``haystack``."""
    from collections import Counter

    a, b = Counter(canonical(needle)), Counter(canonical(haystack))
    total = sum(a.values())
    return sum(min(n, b[c]) for c, n in a.items()) / total if total else 0.0


def has_common_run(a: str, b: str, length: int) -> bool:
    """Return whether ``a`` and ``b`` share a substring of ``length`` characters."""
    if length <= 0:
        return True
    if length > min(len(a), len(b)):
        return False
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    # Every window of the shorter string, looked up with C-speed ``in``: far faster than an O(n·m) DP in Python.
    return any(short[i:i + length] in long_ for i in range(len(short) - length + 1))
