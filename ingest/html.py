"""Decode HTML pages (declared charset or sniffing) and extract the article body as text, without site chrome."""
from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

from .encoding import _BOMS, _check_controls, chinese_plausible, decode_text

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
