"""Turn .txt/.md/.html/.htm/.docx/.pdf files into plain text (paragraphs on their own lines, not yet normalized)."""
from __future__ import annotations

import codecs
import io
import re
import unicodedata
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path

from kb.errors import ReadError, UnsupportedFileType

DEFAULT_MAX_BYTES = 50 * 2**20

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


# ---------------------------------------------------------------------------------------------- plain text, markdown

def text_from_txt(data: bytes) -> str:
    """Return a plain-text file's text."""
    return decode_text(data)


_MD_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_MD_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_MD_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_MD_REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+")
_MD_QUOTE = re.compile(r"^\s{0,3}(>\s?)+")
_MD_ATX = re.compile(r"^\s{0,3}#{1,6}(?:\s+|(?=[^\x00-\x7f]))(.*?)(?:\s+#+)?\s*$")
_MD_BULLET = re.compile(r"^(\s*)[-*+]\s+(\[[ xX]\]\s+)?")
_MD_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>|~])")
_MD_INLINE = (
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),
    (re.compile(r"<((?:https?|mailto):[^>\s]+)>"), r"\1"),
    (re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>"), ""),
    (re.compile(r"`+([^`]+?)`+"), r"\1"),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),
    (re.compile(r"(?<![*\w])\*(?![\s*])(.+?)(?<![\s*])\*(?![*])|(?<=[^\x00-\x7f])\*(?![\s*])(.+?)(?<![\s*])\*"), r"\1\2"),
    (re.compile(r"(?<![A-Za-z0-9_])_(?![\s_])(.+?)(?<![\s_])_(?![A-Za-z0-9_])"), r"\1"),
)
_ESCAPE_BASE = 0xF0000  # supplementary private use: cannot clash with real text


def strip_markdown(text: str) -> str:
    """Return Markdown as plain text: heading text on its own line, no emphasis markers, links without targets."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[0].strip() == "---":  # YAML front matter
        for i, line in enumerate(lines[1:], 1):
            if line.strip() in ("---", "..."):
                lines = lines[i + 1:]
                break
    out: list[str] = []
    in_code = False
    for line in lines:
        if _MD_FENCE.match(line):
            in_code = not in_code
            continue
        if in_code:
            out.append(line)
            continue
        if (_MD_SETEXT.match(line) and out and out[-1].strip()) or _MD_RULE.match(line) or _MD_REFDEF.match(line):
            continue
        line = _MD_QUOTE.sub("", line)
        heading = _MD_ATX.match(line)
        if heading:
            line = heading.group(1)
        line = _MD_BULLET.sub(r"\1", line)
        stripped = line.strip()
        if stripped.startswith("|") and stripped.endswith("|") and len(stripped) > 1:
            if _MD_TABLE_RULE.match(stripped):
                continue
            line = "\t".join(cell.strip() for cell in stripped[1:-1].split("|"))
        line = _MD_ESCAPE.sub(lambda m: chr(_ESCAPE_BASE + ord(m.group(1))), line)
        for pattern, repl in _MD_INLINE:
            line = pattern.sub(lambda m, r=repl: _expand(m, r), line)
        out.append("".join(chr(ord(ch) - _ESCAPE_BASE) if _ESCAPE_BASE <= ord(ch) < _ESCAPE_BASE + 128 else ch for ch in line))
    return "\n".join(out)


def _expand(match: re.Match[str], template: str) -> str:
    """Expand ``template`` for ``match``, treating groups that did not take part as empty."""
    return re.sub(r"\\(\d)", lambda g: match.group(int(g.group(1))) or "", template)


def text_from_markdown(data: bytes) -> str:
    """Return a Markdown file's text without markup."""
    return strip_markdown(decode_text(data))


# ---------------------------------------------------------------------------------------------- HTML

_HTML_DROP = (
    "head", "script", "style", "noscript", "template", "iframe", "frame", "frameset", "object", "embed", "applet",
    "svg", "math", "canvas", "select", "textarea", "button", "input", "nav", "aside", "header", "footer", "menu",
    "dialog", "video", "audio", "map",
)
_HTML_BLOCKS = frozenset((
    "address", "article", "blockquote", "body", "caption", "center", "dd", "details", "dir", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "form", "h1", "h2", "h3", "h4", "h5", "h6", "hgroup", "hr", "html", "li",
    "main", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
))
_HTML_CELLS = frozenset(("td", "th"))
_HTML_LISTS = frozenset(("ul", "ol", "dl", "div", "table", "section", "tbody"))
_CHROME_NAME = re.compile(
    r"nav|menu|footer|foot(?!note)|sidebar|side|breadcrumb|crumb|copyright|share|comment|related|recommend|pager|"
    r"pagination|prev|next|toolbar|login|search|banner|advert|popup|modal|cookie|subscribe|qrcode|social|path|"
    r"location|position|friendlink",
    re.IGNORECASE,
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_SENTENCE_MARK = re.compile(r"[，。！？；、]|[,.!?;](?=\s|$)")
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_CELL_GAP = re.compile(r" ?\t ?")
_NOT_SPACE = re.compile(r"\s+")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([-\w:.]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([-\w:.]+)""", re.IGNORECASE)
_CHROME_SHARE = 0.3  # a chrome-named element holding more of the page's prose than this is the article's wrapper
_SHORT_TEXT_WEIGHT = 0.25  # titles, dates, headings: cheap, so the body wins over "body + page header"


def _html_codec(data: bytes) -> str | None:
    """Return the Python codec an HTML page declares in ``<meta charset>`` or its XML declaration, if known."""
    head = data[:4096]
    match = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    if not match:
        return None
    name = match.group(1).decode("ascii", "ignore").lower()
    if name in ("gb2312", "gbk", "x-gbk", "cp936", "gb_2312-80", "euc-cn", "hz-gb-2312"):
        return "gb18030"  # pages labelled GB2312/GBK routinely contain characters only GB18030 has
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_html(data: bytes) -> str:
    """Decode an HTML page: a valid UTF-8 body wins over a stale declaration, else ``<meta charset>``, else sniffing."""
    declared = _html_codec(data)
    if declared is None or declared == "utf-8" or any(data.startswith(bom) for bom, _, _ in _BOMS):
        return decode_text(data)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return decode_text(data)
    try:
        text = data.decode(declared)
    except (UnicodeDecodeError, LookupError):
        return decode_text(data)
    if declared == "gb18030" and not chinese_plausible(text):
        return decode_text(data)  # the page lied about its charset: sniff instead
    _check_controls(text)
    return text


def _class_names(el) -> str:
    """Return an element's id and class attributes as one string."""
    return f"{el.get('id', '')} {el.get('class', '')}"


def _visible_chars(text: str) -> int:
    """Return the number of non-whitespace characters."""
    return len(_NOT_SPACE.sub("", text))


def _blocks(root) -> Iterator[tuple[object, str, int]]:
    """Yield every block element under ``root`` with its own text (nested blocks excluded) and its link characters."""
    from lxml import etree

    stack: list[list] = []
    links = 0

    def add(text: str | None) -> None:
        if text and stack:
            stack[-1][1].append(text)
            if links:
                stack[-1][2] += _visible_chars(text)

    for event, el in etree.iterwalk(root, events=("start", "end")):
        tag = el.tag if isinstance(el.tag, str) else None
        is_block = el is root or tag in _HTML_BLOCKS
        if event == "start":
            if is_block:
                stack.append([el, [], 0])
            if tag == "a":
                links += 1
            if tag:
                add(el.text)
        else:
            if tag == "a":
                links -= 1
            if is_block:
                block, parts, link_chars = stack.pop()
                yield block, "".join(parts), link_chars
            if el is not root:
                add(el.tail)


def _subtree_scores(root, chrome: set) -> dict:
    """Return {element: (prose, junk)} summed over each subtree; text under ``chrome`` elements is all junk."""
    own: dict = {}
    for block, text, link_chars in _blocks(root):
        total = _visible_chars(text)
        if not total:
            continue
        if chrome and any(a in chrome for a in (block, *block.iterancestors())):
            own[block] = (0.0, float(total))
            continue
        plain = total - link_chars
        if plain >= 10 and link_chars <= 0.3 * total and (plain >= 50 or _SENTENCE_MARK.search(text)):
            own[block] = (float(plain), float(link_chars))
        else:
            own[block] = (0.0, _SHORT_TEXT_WEIGHT * plain + link_chars)
    scores: dict = {}
    for el in reversed(list(root.iter())):
        prose, junk = own.get(el, (0.0, 0.0))
        for child in el:
            child_prose, child_junk = scores.get(child, (0.0, 0.0))
            prose += child_prose
            junk += child_junk
        scores[el] = (prose, junk)
    return scores


def _is_link_list(el) -> bool:
    """Return True for a list or box that is mostly links (related articles, tags, page numbers)."""
    if el.tag not in _HTML_LISTS:
        return False
    anchors = [a for a in el.iter("a") if _visible_chars(a.text_content())]
    if len(anchors) < 3:
        return False
    total = _visible_chars(el.text_content())
    return total > 0 and sum(_visible_chars(a.text_content()) for a in anchors) >= 0.6 * total


def _render(el) -> str:
    """Return an element's text with block elements and ``<br>`` as line breaks and table cells tab-separated."""
    from lxml import etree

    parts: list[str] = []
    pre = 0
    for event, node in etree.iterwalk(el, events=("start", "end")):
        tag = node.tag if isinstance(node.tag, str) else None
        if event == "start":
            if tag == "pre":
                pre += 1
            if (tag in _HTML_BLOCKS and tag not in _HTML_CELLS) or tag == "br":
                parts.append("\n")
            if tag and node.text:
                parts.append(node.text if pre else _HTML_SPACE.sub(" ", node.text))
        else:
            if tag == "pre":
                pre -= 1
            if tag in _HTML_CELLS:
                parts.append("\t")
            elif tag in _HTML_BLOCKS:
                parts.append("\n")
            if node is not el and node.tail:
                parts.append(node.tail if pre else _HTML_SPACE.sub(" ", node.tail))
    lines = (line.strip() for line in "".join(parts).split("\n"))
    return "\n".join(_CELL_GAP.sub("\t", line) for line in lines if line)


def _trafilatura_text(html: str) -> str:
    """Return trafilatura's main-text extraction, or "" where it is unavailable or finds nothing."""
    try:
        import trafilatura
    except ImportError:  # trafilatura needs lxml_html_clean, which some environments lack
        return ""
    return trafilatura.extract(html, include_comments=False, include_tables=True, favor_recall=True) or ""


def extract_html(html: str) -> str:
    """Return the article body of an HTML page as text, without navigation, scripts, menus, footers or site chrome."""
    import lxml.html
    from lxml import etree

    html = _XML_DECL.sub("", html, count=1)
    if not html.strip():
        return ""
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return ""
    for node in list(root.iter(etree.Comment, etree.ProcessingInstruction, *_HTML_DROP)):
        node.drop_tree()
    for node in [n for n in root.iter() if isinstance(n.tag, str)]:
        if node.get("hidden") is not None or _HIDDEN_STYLE.search(node.get("style", "")):
            node.drop_tree()
    raw = _subtree_scores(root, set())
    page_prose = raw[root][0]
    chrome = {
        el for el in root.iter()
        if isinstance(el.tag, str) and _CHROME_NAME.search(_class_names(el)) and raw[el][0] <= _CHROME_SHARE * page_prose
    }
    scores = _subtree_scores(root, chrome)
    best, best_score = None, float("-inf")
    for el in root.iter():
        prose, junk = scores.get(el, (0.0, 0.0))
        if prose and prose - junk >= best_score and el not in chrome:
            best, best_score = el, prose - junk
    if best is None:
        text = _trafilatura_text(html)
        if text:
            return text
        body = root.find("body")
        best = body if body is not None else root
    for node in [n for n in best.iter() if n is not best and (n in chrome or _is_link_list(n))]:
        node.drop_tree()
    return _render(best)


def text_from_html(data: bytes) -> str:
    """Return the article body of an HTML file."""
    text = extract_html(decode_html(data))
    if not text.strip():
        raise ReadError("网页中没有找到正文")
    return text


# ---------------------------------------------------------------------------------------------- DOCX

def _docx_blocks(container, seen: set) -> Iterator[str]:
    """Yield the lines of a document body or table cell: paragraphs in order, tables row by row."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for child in container._element.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            yield Paragraph(child, container).text
        elif tag == "tbl":
            yield from _docx_table(Table(child, container), seen)
        elif tag == "sdt":  # content controls wrap ordinary paragraphs and tables
            content = child.find("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}sdtContent")
            if content is not None:
                yield from _docx_blocks(_Wrapped(content, container), seen)


class _Wrapped:
    """A stand-in parent for python-docx proxies built from a raw XML element (a content control's content)."""

    def __init__(self, element, parent) -> None:
        self._element = element
        self._parent = parent
        self.part = parent.part


def _docx_table(table, seen: set) -> Iterator[str]:
    """Yield a table's rows: one tab-separated line when every cell is one line, else each cell's lines in turn."""
    for row in table.rows:
        cells: list[list[str]] = []
        for cell in row.cells:
            if cell._tc in seen:  # merged cells come back once per grid column and row they span
                continue
            seen.add(cell._tc)
            lines = [line for block in _docx_blocks(cell, seen) for line in block.split("\n") if line.strip()]
            if lines:
                cells.append(lines)
        if all(len(lines) == 1 for lines in cells):
            if cells:
                yield "\t".join(lines[0].strip() for lines in cells)
        else:
            for lines in cells:
                yield from lines


def text_from_docx(data: bytes) -> str:
    """Return a .docx file's paragraphs (headings included) and table text in document order, one per line."""
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx surfaces zip, XML and package errors as many unrelated types
        raise ReadError("DOCX 文件已损坏或不是 Word 2007 及以上格式（旧版 .doc 请先另存为 .docx）") from exc
    return "\n".join(block for block in _docx_blocks(document._body, set()) if block.strip())


# ---------------------------------------------------------------------------------------------- PDF

_NUMERAL = "一二三四五六七八九十百千零〇两"
_HEADING_START = re.compile(
    rf"^\s*(第[{_NUMERAL}\d]+[编章节条款]|[{_NUMERAL}]+[、．.]|[（(][{_NUMERAL}\d]+[）)]|\d+[、．]|\d+\.(?!\d)|"
    r"[①-⑳]|附件|附则|附录)"
)
_CHAPTER = re.compile(rf"^\s*第[{_NUMERAL}\d]+[编章节](\s|$)")
_SENTENCE_END = re.compile(r"[。！？；：!?;:…][\"'”’」』）)]*\s*$")
_PAGE_NUMBER = re.compile(
    r"^\s*([-—–－]?\s*\d{1,4}\s*[-—–－]?|第\s*\d+\s*页(\s*[,，/]?\s*共\s*\d+\s*页)?|\d+\s*/\s*\d+)\s*$"
)
_FULL_LINE = 0.8  # a line at least this share of the page's widest line ran into the margin: its paragraph goes on


def _glue(previous: str, line: str) -> str:
    """Return what goes between two merged lines: a space between Latin words, nothing in Chinese."""
    words = previous[-1:].isascii() and previous[-1:].isalnum() and line[:1].isascii() and line[:1].isalnum()
    return " " if words else ""


def _display_width(line: str) -> int:
    """Return the line's width in half-width cells (CJK characters count two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line.strip())


def join_pdf_lines(pages: list[str]) -> str:
    """Rejoin pypdf's per-page lines into paragraphs: a line wrapped mid-sentence is merged into the one before.

    A line is merged when the previous line reached the right margin, does not end a sentence and is not a
    chapter heading, and the line itself does not start like a heading (第X章/第X条/一、/（一）…).
    """
    widths = [_display_width(line) for page in pages for line in page.split("\n")]
    document_width = max(widths, default=0)
    out: list[str] = []
    previous_full = False
    for page in pages:
        lines = [line.strip() for line in page.split("\n")]
        lines = "\n".join(line for line in lines if not _PAGE_NUMBER.match(line)).strip("\n").split("\n")
        page_widths = [_display_width(line) for line in lines if line]
        full = max(page_widths) if len(page_widths) >= 4 else document_width
        for line in lines:
            if not line:
                previous_full = False
                continue
            prev = out[-1] if out else ""
            if (
                previous_full
                and not _SENTENCE_END.search(prev)
                and not _CHAPTER.match(prev)
                and not _HEADING_START.match(line)
            ):
                out[-1] = prev + _glue(prev, line) + line
            else:
                out.append(line)
            previous_full = _display_width(line) >= _FULL_LINE * full
    return "\n".join(out)


def text_from_pdf(data: bytes) -> str:
    """Return a PDF's text layer, wrapped lines rejoined; scanned PDFs without text are rejected."""
    import pypdf
    from pypdf.errors import DependencyError

    # pypdf reports broken files as PdfReadError, ValueError, KeyError, struct errors…: any failure means broken.
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        locked = reader.is_encrypted and not reader.decrypt("")
        count = 0 if locked else len(reader.pages)
    except DependencyError as exc:
        raise ReadError("PDF 已加密，解密需要安装 cryptography 包") from exc
    except Exception as exc:
        raise ReadError("PDF 文件已损坏或无法解析") from exc
    if locked:
        raise ReadError("PDF 已加密，需要密码才能读取，请先解除密码保护")
    pages = []
    for number in range(count):
        try:
            pages.append(reader.pages[number].extract_text() or "")
        except Exception as exc:
            raise ReadError(f"PDF 第 {number + 1} 页无法解析（文件可能已损坏）") from exc
    text = "\n".join(pages)
    if not any(ch.isalpha() for ch in text):
        raise ReadError("PDF 没有文本层（可能是扫描件），请先 OCR")
    visible = _NOT_SPACE.sub("", text)
    if sum(map(_is_bad_char, visible)) > 0.2 * len(visible):
        raise ReadError("PDF 的文本层无法正确提取（字体缺少 Unicode 映射，得到的是乱码），请先 OCR")
    return join_pdf_lines(pages)


# ---------------------------------------------------------------------------------------------- files

READERS: dict[str, Callable[[bytes], str]] = {
    ".txt": text_from_txt,
    ".md": text_from_markdown,
    ".html": text_from_html,
    ".htm": text_from_html,
    ".docx": text_from_docx,
    ".pdf": text_from_pdf,
}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(READERS)


def _size(n: int) -> str:
    """Return a byte count in human units."""
    if n < 1024:
        return f"{n} 字节"
    if n < 2**20:
        return f"{n / 1024:.1f} KB"
    return f"{n / 2**20:.1f} MB"


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """Return the file's bytes, refusing missing, empty and oversized files."""
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise ReadError("这是一个文件夹，不是文件")
        if size == 0:
            raise ReadError("文件为空")
        if size > max_bytes:
            raise ReadError(f"文件过大（{_size(size)}，上限 {_size(max_bytes)}）")
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise ReadError("文件不存在") from exc
    except OSError as exc:
        raise ReadError(f"无法读取文件（{exc.strerror or exc}）") from exc
    if not data:
        raise ReadError("文件为空")
    if len(data) > max_bytes:
        raise ReadError(f"文件过大（超过上限 {_size(max_bytes)}）")
    return data


def read_file(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Return the plain text of a supported file, or raise UnsupportedFileType / ReadError naming the path."""
    path = Path(path)
    suffix = path.suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        raise UnsupportedFileType(f"不支持的文件类型 {suffix or '（无扩展名）'}（支持：{' '.join(SUPPORTED_SUFFIXES)}）: {path}")
    try:
        text = reader(_read_bytes(path, max_bytes))
    except ReadError as exc:
        raise ReadError(f"{exc}: {path}") from exc
    if not text.strip():
        raise ReadError(f"没有提取到任何文字: {path}")
    return text
