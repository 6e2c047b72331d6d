"""What one web request may ask for: text lengths, integer parameters, files per upload; and what a user may see.

Every request's cost is bounded here, before any search runs, so that one client cannot hold the server.
"""
from __future__ import annotations

import re

from kb.errors import DjkbError
from kb.query import MAX_QUERY_CHARS

from . import messages as msg

MAX_TOPIC_CHARS = 100  # a study topic is a few words; the outline searches it several times
MAX_TOP_K = 100
MAX_QUIZ = 30
MAX_SEED = 2**31 - 1
MAX_FILES_PER_REQUEST = 20
MAX_NAME_CHARS = 200  # a document id or title given to a filter or to 删除
# An absolute POSIX path of two or more parts (not the host part of a URL): shown to web users by its last part only.
_PATH = re.compile(r"(?<![\w:/.])(?:/[^\s/：:，,；;（）()“”\"'<>]+)+/([^\s/：:，,；;（）()“”\"'<>]+)")


def question(text: str | None, what: str = "问题", limit: int = MAX_QUERY_CHARS) -> str:
    """Return ``text`` stripped; raises DjkbError when it is empty or longer than ``limit`` characters."""
    if text is not None and not isinstance(text, str):
        raise DjkbError(f"{what}应为文本，收到的是“{str(text)[:20]}”。")
    text = (text or "").strip()
    if not text:
        raise DjkbError(msg.EMPTY_QUESTION if what == "问题" else f"请输入{what}")
    if len(text) > limit:
        raise DjkbError(msg.too_long(what, len(text), limit))
    return text


def optional_text(text: str | None, what: str, limit: int = MAX_NAME_CHARS) -> str:
    """Return a filter value stripped ('' when absent); raises DjkbError when it is not text or too long."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise DjkbError(f"参数 {what} 应为文本，收到的是“{str(text)[:20]}”。")
    text = text.strip()
    if len(text) > limit:
        raise DjkbError(msg.too_long(what, len(text), limit))
    return text


def integer(value, name: str, lo: int, hi: int, default: int | None = None) -> int:
    """Return ``value`` as an int in [lo, hi] (a whole float or a numeral string is accepted); raises DjkbError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is None:
            raise DjkbError(msg.not_an_int(name, "", lo, hi))
        return default
    if isinstance(value, bool):
        raise DjkbError(msg.not_an_int(name, value, lo, hi))
    try:
        number = float(value) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        raise DjkbError(msg.not_an_int(name, value, lo, hi)) from None
    if isinstance(number, float) and (number != number or number in (float("inf"), float("-inf"))
                                      or not number.is_integer()):
        raise DjkbError(msg.not_an_int(name, value, lo, hi))
    number = int(number)
    if not lo <= number <= hi:
        raise DjkbError(msg.out_of_range(name, number, lo, hi))
    return number


def hide_paths(text: str) -> str:
    """Return ``text`` with every absolute server path cut to its last part (web users need no server layout)."""
    return _PATH.sub(lambda m: m.group(1), text)


def hide_paths_in(obj):
    """Return a JSON-like ``obj`` with ``hide_paths`` applied to every string in it."""
    if isinstance(obj, str):
        return hide_paths(obj)
    if isinstance(obj, dict):
        return {k: hide_paths_in(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [hide_paths_in(v) for v in obj]
    return obj


def store_down(exc: BaseException) -> bool:
    """Return whether ``exc`` says the Chroma server cannot be reached (refused, reset, timed out)."""
    import httpx

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (httpx.TransportError, ConnectionError)):
            return True
        if isinstance(exc, ValueError) and "Could not connect to a Chroma server" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
