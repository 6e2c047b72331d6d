"""Turn .txt/.md/.html/.htm/.docx/.pdf files into plain text (paragraphs on their own lines, not yet normalized)."""
from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

from kb.errors import ReadError, UnsupportedFileType
from kb.grammar import DIVISION_LINE, PARAGRAPH_HEAD

from .encoding import _is_bad_char, decode_text
from .html import decode_html, extract_html

DEFAULT_MAX_BYTES = 50 * 2**20

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

_SENTENCE_END = re.compile(r"[。！？；：!?;:…][\"'”’」』）)]*\s*$")
_PAGE_NUMBER = re.compile(
    r"^\s*([-—–－]?\s*\d{1,4}\s*[-—–－]?|第\s*\d+\s*页(\s*[,，/]?\s*共\s*\d+\s*页)?|\d+\s*/\s*\d+)\s*$"
)
_NOT_SPACE = re.compile(r"\s+")
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
                and not DIVISION_LINE.match(prev)
                and not PARAGRAPH_HEAD.match(line)
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
