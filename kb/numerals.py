"""Chinese numerals as written in official documents (第一百一十条, 二〇二一年) to and from ``int``."""
from __future__ import annotations

_DIGITS: dict[str, int] = {
    "零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}
_UNITS: dict[str, int] = {"十": 10, "百": 100, "千": 1000}
_MYRIAD = "万"
_CN_DIGITS = "零一二三四五六七八九"

CN_NUMERAL_CHARS = "".join(_DIGITS) + "".join(_UNITS) + _MYRIAD
"""Every character :func:`cn_to_int` accepts besides ASCII and full-width digits (for building regexes)."""


def cn_to_int(text: str) -> int:
    """Return the value of a Chinese or arabic numeral: ``一百零二`` → 102, ``十`` → 10, ``二〇二一`` → 2021, ``１２`` → 12."""
    s = text.strip()
    if not s:
        raise ValueError("empty numeral")
    if s.isdecimal():
        return int(s)
    if any(ch not in _DIGITS and ch not in _UNITS and ch != _MYRIAD for ch in s):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    if not any(ch in _UNITS or ch == _MYRIAD for ch in s):
        # Digit-by-digit form, as in years: 二〇二一.
        return int("".join(str(_DIGITS[ch]) for ch in s))
    total, section, digit = 0, 0, None
    for ch in s:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _UNITS:
            # A bare unit (十 in 十二, 一百十) means one of it.
            section += (1 if digit is None else digit) * _UNITS[ch]
            digit = None
        else:
            total += (section + (digit or 0)) * 10000
            section, digit = 0, None
    return total + section + (digit or 0)


def _below_10000(n: int, leading: bool) -> str:
    """Spell 1..9999; ``leading`` drops the 一 of 一十 (十二, but 一百一十二)."""
    out: list[str] = []
    pending_zero = False
    for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // unit % 10
        if d == 0:
            pending_zero = bool(out)
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        if not (unit == 10 and d == 1 and leading and not out):
            out.append(_CN_DIGITS[d])
        out.append(name)
    return "".join(out)


def int_to_cn(n: int) -> str:
    """Return the Chinese numeral of ``n`` as documents write it: 10 → 十, 110 → 一百一十, 102 → 一百零二."""
    if n < 0:
        raise ValueError(f"negative numeral: {n}")
    if n == 0:
        return "零"
    if n >= 100_000_000:
        raise ValueError(f"numeral too large: {n}")
    high, low = divmod(n, 10000)
    if not high:
        return _below_10000(low, leading=True)
    text = _below_10000(high, leading=True) + _MYRIAD
    if low:
        text += ("零" if low < 1000 else "") + _below_10000(low, leading=False)
    return text
