"""The hit rule: when a passage counts as holding a gold place's evidence. Every metric uses ``matches``.

A passage matches when its canonical text (NFKC, no whitespace; ``kb.text.canonical``) contains the canonical
evidence, or, where a chunk boundary cut the evidence, when the two share a run of at least
``MIN_COVER`` × the evidence's length and at least ``MIN_RUN`` characters. The rule looks at text only, not at
which document the passage came from: the corpus republishes regulations inside speeches and study materials,
and a passage that quotes the regulation verbatim holds the answer just as well.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence

from kb.text import canonical, has_common_run

from .dataset import Gold

MIN_COVER = 0.6
MIN_RUN = 8


@functools.lru_cache(maxsize=65536)
def _canon(text: str) -> str:
    return canonical(text)


def required_run(evidence_len: int) -> int:
    """Return the shared run a cut passage needs: ⌈MIN_COVER × length⌉, at least MIN_RUN."""
    return max(MIN_RUN, math.ceil(MIN_COVER * evidence_len))


def matches(text: str, evidence: str) -> bool:
    """Return whether passage ``text`` holds ``evidence`` under the hit rule (see the module docstring)."""
    t, e = _canon(text), _canon(evidence)
    if not e:
        return False
    if e in t:
        return True
    need = required_run(len(e))
    return need <= len(e) and has_common_run(e, t, need)


def matched_places(text: str, gold: Sequence[Gold]) -> frozenset[int]:
    """Return the indices of the gold places whose evidence ``text`` holds."""
    return frozenset(i for i, g in enumerate(gold) if matches(text, g.evidence))
