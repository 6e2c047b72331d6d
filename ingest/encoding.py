"""Decode text-file bytes to str (UTF-8±BOM, UTF-16/32, GB18030/GBK) and judge whether text is plausible Chinese."""
from __future__ import annotations

import codecs
import re
import unicodedata
from functools import lru_cache

from kb.errors import ReadError

# ---------------------------------------------------------------------------------------------- encodings

# The ~500 most frequent modern Chinese characters (they make up about three quarters of running text). Bytes in a
# wrong legacy encoding still decode to valid GB2312 hanzi (EUC-KR Hangul lands on GB2312's level-1 block), but
# almost never to frequent ones: that is what tells real Chinese from mojibake.
_COMMON_HANZI = frozenset(
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多"
    "定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由"
    "其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意"
    "建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统"
    "接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导"
    "器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示"
    "议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布"
    "复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选"
    "标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"
)
_SAMPLE_CHARS = 200_000  # plausibility is judged on a prefix: enough evidence, bounded time on 50 MB files
_BAD_SHARE = 0.005  # controls, private-use, unassigned chars tolerated in a real document
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_LATIN1_HIGH = re.compile("[\x80-\xff]")
_CP1252_ONLY = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"  # what cp1252 puts where Latin-1 has C1 controls
_MOJIBAKE = re.compile(f"[\u00c2-\u00f4][\u0080-\u00bf{_CP1252_ONLY}]")
_BEYOND_CP1252 = re.compile(f"[^\x00-\xff{_CP1252_ONLY}]")
_ENCODING_FAILED = "无法可靠识别文件编码（已尝试 UTF-8、UTF-16、GB18030/GBK），请另存为 UTF-8 后重试"
_BINARY = "文件含有二进制内容（NUL 字节或控制字符），不是文本文件"
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)


@lru_cache(maxsize=1)
def _gb2312_classes() -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
    """Return GB2312's level-1 hanzi, level-2 hanzi, punctuation rows (1-3) and other symbol rows (kana, Greek…)."""

    def rows(first: int, last: int) -> frozenset[str]:
        chars = set()
        for lead in range(first, last + 1):
            for trail in range(0xA1, 0xFF):
                try:
                    chars.add(bytes((lead, trail)).decode("gb2312"))
                except UnicodeDecodeError:
                    pass
        return frozenset(chars)

    return rows(0xB0, 0xD7), rows(0xD8, 0xF7), rows(0xA1, 0xA3), rows(0xA4, 0xA9)


@lru_cache(maxsize=1)
def _cp1252_to_latin1() -> dict[int, int]:
    """Map the characters cp1252 puts at 0x80-0x9F back to those byte values."""
    table = {}
    for byte in range(0x80, 0xA0):
        try:
            table[ord(bytes((byte,)).decode("cp1252"))] = byte
        except UnicodeDecodeError:
            pass
    return table


def _is_bad_char(ch: str) -> bool:
    """Return True for characters no real document is made of: controls, private use, unassigned, U+FFFD."""
    if ch in "\t\n\r\f\v":
        return False
    return ch == "\ufffd" or unicodedata.category(ch) in ("Cc", "Co", "Cn", "Cs")


def _is_hanzi(ch: str) -> bool:
    """Return True for a CJK unified ideograph (BMP blocks and extension A)."""
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def chinese_plausible(text: str) -> bool:
    """Return True when ``text`` reads like real Chinese: GB2312 chars, frequent hanzi, no junk characters."""
    level1, level2, punctuation, symbols = _gb2312_classes()
    sample = text[:_SAMPLE_CHARS]
    non_ascii = hanzi = frequent = bad = 0
    good = 0.0
    for ch in sample:
        if ch < "\x80":
            bad += ch < " " and ch not in "\t\n\r\f\v"
            continue
        if ch.isspace():
            continue
        non_ascii += 1
        if ch in level1:
            good += 1
            hanzi += 1
            frequent += ch in _COMMON_HANZI
        elif ch in punctuation:
            good += 1
        elif ch in level2:
            good += 0.5
            hanzi += 1
        elif ch in symbols:
            good += 0.25
        elif _is_bad_char(ch):
            bad += 1
        elif _is_hanzi(ch):
            hanzi += 1
    if non_ascii == 0 or bad > len(sample) * _BAD_SHARE or good < 0.9 * non_ascii:
        return False
    if hanzi == 0:
        return non_ascii >= 2 and good == non_ascii
    # Short texts need a larger share of frequent hanzi: a few random hanzi are too easily "common" by chance.
    return frequent >= hanzi * (0.35 + 1 / hanzi)


def _mostly_junk(text: str) -> bool:
    """Return True when more than a trace of the text is control, private-use or unassigned characters."""
    sample = text[:_SAMPLE_CHARS]
    return sum(map(_is_bad_char, sample)) > len(sample) * _BAD_SHARE


def _plausible_unicode(text: str) -> bool:
    """Return True when BOM-less UTF-16 text is mostly ASCII or reads as Chinese, with almost no junk."""
    sample = text[:_SAMPLE_CHARS]
    if not sample or _mostly_junk(sample):
        return False
    ascii_like = sum(ch < "\x80" or ch.isspace() for ch in sample)
    return ascii_like >= 0.8 * len(sample) or chinese_plausible(sample)


def _check_controls(text: str) -> None:
    """Raise ReadError when decoded text carries more than a stray control character."""
    if len(_CONTROL.findall(text)) > max(1, len(text) // 1000):
        raise ReadError(_BINARY)


def _repair_mojibake(text: str) -> str:
    """Undo UTF-8 or GBK bytes that were read as Latin-1/cp1252 and saved again as UTF-8; reject what can't be undone."""
    if not _LATIN1_HIGH.search(text):
        return text
    # Real characters beyond cp1252 (hanzi next to a stray "·") mean the text is not one uniform mis-decoding.
    raw = None if _BEYOND_CP1252.search(text) else text.translate(_cp1252_to_latin1()).encode("latin-1")
    if raw is not None:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        try:
            chinese = raw.decode("gb18030")
        except UnicodeDecodeError:
            chinese = None
        if chinese is not None and chinese_plausible(chinese):
            return chinese
    non_ascii = sum(ch >= "\x80" for ch in text[:_SAMPLE_CHARS])
    pairs = len(_MOJIBAKE.findall(text[:_SAMPLE_CHARS]))
    if pairs >= 3 and 2 * pairs >= 0.1 * non_ascii:
        raise ReadError("文件内容是乱码（UTF-8 文字曾被当作 Latin-1/Windows-1252 错误转码），请用原始文件重试")
    return text


def _repair_gbk_mojibake(text: str) -> str:
    """Undo UTF-8 bytes that were read as GBK and saved again as UTF-8 (``涓枃`` for ``中文``)."""
    sample = text[:_SAMPLE_CHARS]
    hanzi = [ch for ch in sample if _is_hanzi(ch)]
    if len(hanzi) < 20:
        return text
    if sum(ch in _COMMON_HANZI for ch in hanzi) >= 0.25 * len(hanzi):
        return text
    raw = text.replace("\ufffd", "").encode("gb18030")
    try:
        fixed = raw.decode("utf-8")
    except UnicodeDecodeError:
        # Bytes lost in the bad conversion; if what survives is still UTF-8 Chinese, the text is mojibake.
        lossy = raw.decode("utf-8", errors="replace")
        if lossy.count("\ufffd") <= 0.2 * len(lossy) and chinese_plausible(lossy.replace("\ufffd", "")):
            raise ReadError("文件内容是乱码（UTF-8 文字曾被当作 GBK 错误转码，已丢失字节），请用原始文件重试") from None
        return text  # rare hanzi, but no UTF-8 underneath: classical or traditional Chinese, keep it
    return fixed if chinese_plausible(fixed) else text


def _decode_utf16_without_bom(data: bytes) -> str | None:
    """Return ``data`` decoded as BOM-less UTF-16 when one byte order gives plausible text, else None."""
    if len(data) % 2:
        return None
    # ASCII in UTF-16LE has its NUL on odd offsets: try the byte order the NULs point to first.
    order = ("utf-16-le", "utf-16-be") if data[1::2].count(0) >= data[0::2].count(0) else ("utf-16-be", "utf-16-le")
    for codec in order:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if _plausible_unicode(text):
            return text
    return None


def decode_text(data: bytes) -> str:
    """Decode text bytes (UTF-8±BOM, UTF-16/32 BOM, BOM-less UTF-16, GB18030/GBK); never mojibake, else ReadError."""
    if not data:
        return ""
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(codec)
            except UnicodeDecodeError as exc:
                raise ReadError(f"文件以 {label} 字节序标记开头，但第 {exc.start + len(bom)} 字节处无法按 {label} 解码（文件可能已损坏）") from exc
            if codec == "utf-8":
                text = _repair_gbk_mojibake(_repair_mojibake(text))
            elif _mostly_junk(text):
                raise ReadError(_BINARY)
            _check_controls(text)
            return text
    if b"\x00" in data:
        text = _decode_utf16_without_bom(data)
        if text is not None:
            return text
        one_sided = len(data) % 2 == 0 and 0 in (data[0::2].count(0), data[1::2].count(0))
        raise ReadError(_ENCODING_FAILED if one_sided else _BINARY)
    utf8_error = None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A download cut inside the last character is still the UTF-8 file it was; drop the partial character.
        truncated = exc.end == len(data) and exc.start >= len(data) - 3 and "end of data" in exc.reason
        text = data[: exc.start].decode("utf-8") if truncated else None
        utf8_error = exc.start
    if text is not None:
        text = _repair_gbk_mojibake(_repair_mojibake(text))
        _check_controls(text)
        return text
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and chinese_plausible(text):
        return text
    text = _decode_utf16_without_bom(data)
    if text is not None and chinese_plausible(text):
        return text
    lossy = data.decode("utf-8", errors="replace")
    damaged = lossy.count("\ufffd")
    valid = sum(ch >= "\x80" for ch in lossy[:_SAMPLE_CHARS]) - damaged
    if utf8_error is not None and valid >= max(20, 10 * damaged):
        raise ReadError(f"文件是 UTF-8 编码，但第 {utf8_error} 字节附近已损坏（无法解码），请检查或重新导出文件")
    raise ReadError(_ENCODING_FAILED)
