"""A window of a document's text around a passage, cut at line breaks, for showing the passage in context."""
from __future__ import annotations

from dataclasses import dataclass

CONTEXT_BEFORE = 240
CONTEXT_AFTER = 600


@dataclass(frozen=True)
class Context:
    """A window of a document's text around a passage: text before, the passage (or its article), text after."""

    before: str
    focus: str
    after: str
    clipped_start: bool
    clipped_end: bool

    def to_dict(self) -> dict:
        return {"before": self.before, "focus": self.focus, "after": self.after}


def context_window(text: str, start: int, end: int, before: int = CONTEXT_BEFORE,
                   after: int = CONTEXT_AFTER) -> Context:
    """Return the span ``text[start:end]`` with some characters on each side, cut at line breaks.

    Little comes before the passage so that it shows near the top of the scrolling box.
    """
    lo = max(0, start - before)
    if lo > 0:
        nl = text.find("\n", lo, start)
        lo = nl + 1 if nl >= 0 else lo
    hi = min(len(text), end + after)
    if hi < len(text):
        nl = text.rfind("\n", end, hi)
        hi = nl if nl >= 0 else hi
    return Context(text[lo:start], text[start:end], text[end:hi], lo > 0, hi < len(text))
