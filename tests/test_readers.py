"""Tests for ingest.readers: encodings, rejected files, HTML article extraction, DOCX and PDF structure."""
from __future__ import annotations

import codecs
import io
import os
import random
import zipfile
from pathlib import Path

import pytest

from ingest.encoding import decode_text
from ingest.html import extract_html
from ingest.readers import (
    READERS,
    SUPPORTED_SUFFIXES,
    join_pdf_lines,
    read_file,
    strip_markdown,
)
from kb.errors import ReadError, UnsupportedFileType
from kb.text import canonical, normalize_source

CORPUS = Path(os.environ.get("DJKB_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))
REGULATION = "regulations/党史学习教育工作条例(2024).txt"

# Each raw page and the corpus text of the same article (found by grepping a distinctive sentence).
HTML_PAGES = {
    "sxyz-10426.html": "speeches/2019-07-13_【2019年7月学习材料】.txt",
    "sxyz-13124.html": "speeches/2020-01-06_【2020年1月学习材料】.txt",
    "sxyz-16583.html": "speeches/2022-11-07_每周一学（2022年11月7日-11月13日）.txt",
    "sxyz-19382.html": "speeches/2024-02-25_每周一学（2024年2月26日-3月3日）党史学习教育工作条例.txt",
    "sxyz-8271.html": "speeches/2018-04-04_习近平总书记论述“两学一做”摘编.txt",
}
# Top links, login script, main menu, breadcrumb, sidebar, article meta, print link, prev/next, footer.
SITE_CHROME = (
    "公共文件夹", "智慧校园", "CheckIsLogin1", "getElementById", "jQuery", "Subheading", "学校公告", "校友之家",
    "当前位置", "推荐阅读", "中组部召开基层党建工", "文章来源", "发布时间", "点击数", "打印正文", "上一篇", "下一篇",
    "网站地图", "版权所有", "Copyright", "绍兴市第一中学",
)


@pytest.fixture(scope="module")
def corpus() -> Path:
    """Return the shared corpus folder, failing clearly where it is missing."""
    if not (CORPUS / "regulations").is_dir() or not (CORPUS / "raw-html").is_dir():
        pytest.fail(f"corpus not found at {CORPUS}: put it at ../shared/corpus or set DJKB_CORPUS")
    return CORPUS


@pytest.fixture(scope="module")
def regulation(corpus: Path) -> str:
    """Return a real regulation's exact text (newlines untouched)."""
    return (corpus / REGULATION).read_bytes().decode("utf-8")


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``tmp_path/name`` and return the path."""
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _decoded_or_rejected(data: bytes, original: str) -> None:
    """Assert that ``data`` either decodes to exactly ``original`` or is rejected: never garbled."""
    try:
        text = decode_text(data)
    except ReadError:
        return
    assert text == original


# ------------------------------------------------------------------------------------------------ API


def test_supported_suffixes_and_readers_agree():
    assert SUPPORTED_SUFFIXES == (".txt", ".md", ".html", ".htm", ".docx", ".pdf")
    assert set(READERS) == set(SUPPORTED_SUFFIXES)


# ------------------------------------------------------------------------------------------------ encodings

ENCODINGS = {
    "utf-8": lambda t: t.encode("utf-8"),
    "utf-8-bom": lambda t: codecs.BOM_UTF8 + t.encode("utf-8"),
    "gbk": lambda t: t.encode("gbk"),
    "gb18030": lambda t: t.encode("gb18030"),
    "utf-16-le-bom": lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le"),
    "utf-16-be-bom": lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"),
    "utf-16-le-no-bom": lambda t: t.encode("utf-16-le"),
    "utf-16-be-no-bom": lambda t: t.encode("utf-16-be"),
}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_regulation_reencoded_reads_back_identical(tmp_path, regulation, encoding):
    path = _write(tmp_path, "条例.txt", ENCODINGS[encoding](regulation))
    assert read_file(path) == regulation


def test_every_regulation_survives_gb18030_and_crlf(tmp_path, corpus):
    for source in sorted((corpus / "regulations").glob("*.txt")):
        text = source.read_bytes().decode("utf-8").replace("\n", "\r\n")
        assert read_file(_write(tmp_path, "doc.txt", text.encode("gb18030"))) == text, source.name


def test_short_gbk_line_is_decoded():
    line = "第一条 为了推动党史学习教育常态化长效化"
    assert decode_text(line.encode("gbk")) == line


def test_utf8_cut_inside_last_character_drops_only_that_character(regulation):
    data = regulation.rstrip().encode("utf-8")
    assert decode_text(data[:-1]) == regulation.rstrip()[:-1]


def test_double_encoded_utf8_is_repaired_never_returned_as_mojibake(regulation):
    via_latin1 = regulation.encode("utf-8").decode("latin-1").encode("utf-8")
    assert decode_text(via_latin1) == regulation
    gbk_via_latin1 = regulation.encode("gbk").decode("latin-1").encode("utf-8")
    assert decode_text(gbk_via_latin1) == regulation


def test_lossy_mojibake_is_rejected(regulation):
    via_cp1252 = regulation.encode("utf-8").decode("cp1252", errors="replace").encode("utf-8")
    with pytest.raises(ReadError, match="乱码"):
        decode_text(via_cp1252)
    via_gbk = regulation.encode("utf-8").decode("gbk", errors="replace").encode("utf-8")
    with pytest.raises(ReadError, match="乱码"):
        decode_text(via_gbk)


FOREIGN = {
    "japanese": "日本語のテキストです。これはテストの文章で、ひらがなとカタカナ、そして漢字を含みます。東京都に住んでいます。" * 3,
    "korean": "한국어 텍스트입니다. 이것은 테스트 문장이며 한글과 한자를 포함합니다. 서울에 살고 있습니다." * 3,
    "traditional": "中華人民共和國是工人階級領導的、以工農聯盟為基礎的人民民主專政的社會主義國家。社會主義制度是根本制度。" * 3,
    "french": "Le café est très bon. Voilà une phrase en français, avec des accents : é, è, à, ç, ô.",
}


@pytest.mark.parametrize(
    ("language", "codec"),
    [("japanese", "shift_jis"), ("japanese", "euc-jp"), ("japanese", "iso-2022-jp"), ("korean", "euc-kr"),
     ("traditional", "big5"), ("french", "cp1252"), ("traditional", "utf-16-le"), ("japanese", "utf-16-be")],
)
def test_other_legacy_encodings_are_rejected_or_exact(language, codec):
    _decoded_or_rejected(FOREIGN[language].encode(codec), FOREIGN[language])


@pytest.mark.parametrize("language", FOREIGN)
def test_valid_utf8_in_other_languages_is_left_alone(language):
    assert decode_text(FOREIGN[language].encode("utf-8")) == FOREIGN[language]


def test_random_bytes_are_never_decoded():
    rng = random.Random(7)
    for size in (64, 512, 4096):
        with pytest.raises(ReadError):
            decode_text(bytes(rng.randrange(0x80, 0x100) for _ in range(size)))
        with pytest.raises(ReadError):
            decode_text(bytes(rng.randrange(256) for _ in range(size)))


def test_corrupt_byte_in_utf8_is_reported_with_offset(regulation):
    data = regulation.encode("utf-8")
    with pytest.raises(ReadError, match="UTF-8.*第 .* 字节"):
        decode_text(data[:600] + b"\xff" + data[600:])


# ------------------------------------------------------------------------------------------------ rejected files


def test_binary_file_saved_as_txt_is_rejected(tmp_path):
    rng = random.Random(3)
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(rng.randrange(256) for _ in range(2048))
    path = _write(tmp_path, "图片.txt", png)
    with pytest.raises(ReadError, match="二进制") as info:
        read_file(path)
    assert str(path) in str(info.value)


def test_control_characters_in_text_are_rejected(tmp_path):
    path = _write(tmp_path, "ctl.txt", ("正文\x01\x02\x03内容，" * 20).encode("utf-8"))
    with pytest.raises(ReadError, match="二进制"):
        read_file(path)


def test_zero_byte_file_is_rejected(tmp_path):
    with pytest.raises(ReadError, match="文件为空"):
        read_file(_write(tmp_path, "empty.txt", b""))


def test_whitespace_only_file_has_no_text(tmp_path):
    with pytest.raises(ReadError, match="没有提取到任何文字"):
        read_file(_write(tmp_path, "blank.md", " \n\t\r\n".encode("utf-8")))


def test_unsupported_suffix_names_it_and_the_supported_ones(tmp_path):
    path = _write(tmp_path, "表格.xlsx", b"PK\x03\x04")
    with pytest.raises(UnsupportedFileType) as info:
        read_file(path)
    assert str(info.value) == f"不支持的文件类型 .xlsx（支持：.txt .md .html .htm .docx .pdf）: {path}"
    assert isinstance(info.value, ReadError)
    with pytest.raises(UnsupportedFileType, match="无扩展名"):
        read_file(_write(tmp_path, "README", b"text"))


def test_oversize_file_is_rejected(tmp_path):
    path = _write(tmp_path, "big.txt", "党的建设。".encode("utf-8") * 20)
    with pytest.raises(ReadError, match="文件过大"):
        read_file(path, max_bytes=100)
    assert read_file(path, max_bytes=300).startswith("党的建设")


def test_missing_file_is_a_read_error(tmp_path):
    with pytest.raises(ReadError, match="文件不存在"):
        read_file(tmp_path / "nope.txt")


def test_suffix_is_case_insensitive(tmp_path):
    assert read_file(_write(tmp_path, "A.TXT", "第一条 内容。".encode("utf-8"))) == "第一条 内容。"


# ------------------------------------------------------------------------------------------------ HTML


@pytest.mark.parametrize("page", HTML_PAGES)
def test_raw_html_page_yields_the_whole_body_and_no_chrome(corpus, page):
    raw = (corpus / "raw-html" / page).read_text(encoding="utf-8")
    expected = (corpus / HTML_PAGES[page]).read_text(encoding="utf-8")
    text = read_file(corpus / "raw-html" / page)

    body_lines = [line for line in expected.splitlines() if line.strip()]
    flat = canonical(text)
    missing = [line for line in body_lines if canonical(line) not in flat]
    assert not missing, f"{len(missing)}/{len(body_lines)} body lines missing, e.g. {missing[:3]}"
    # Paragraph structure survives too: the corpus lines come out as lines, not glued together.
    extracted_lines = {canonical(line) for line in normalize_source(text).splitlines()}
    as_lines = sum(canonical(line) in extracted_lines for line in body_lines)
    assert as_lines >= 0.98 * len(body_lines)

    for chrome in SITE_CHROME:
        assert chrome in raw and chrome not in expected, f"bad fixture string {chrome!r}"
        assert chrome not in text, f"site chrome {chrome!r} leaked into the text"


def test_gbk_html_is_decoded_by_meta_charset_and_by_sniffing(tmp_path, corpus):
    raw = (corpus / "raw-html" / "sxyz-19382.html").read_text(encoding="utf-8")
    expected = extract_html(raw)
    declared = raw.replace("charset=utf-8", "charset=gb2312")
    assert "charset=gb2312" in declared
    assert read_file(_write(tmp_path, "page.htm", declared.encode("gb18030"))) == expected
    undeclared = raw.replace("charset=utf-8", "")
    assert read_file(_write(tmp_path, "page.html", undeclared.encode("gb18030"))) == expected
    stale = declared.encode("utf-8")  # re-saved as UTF-8 without fixing the declaration
    assert read_file(_write(tmp_path, "stale.html", stale)) == expected


def test_html_without_class_names_keeps_the_br_separated_body_only():
    html = """<html><head><title>通知</title><style>p{color:red}</style></head><body>
    <div><ul><li><a href="/">首页</a></li><li><a href="/a">新闻中心</a></li><li><a href="/b">学习专栏</a></li></ul></div>
    <div><h1>关于加强学习的通知</h1><div>发布时间：2024-01-01 来源：本站</div>
    <div>各支部：<br>现将有关事项通知如下，请认真贯彻落实。<br>一、提高认识，加强领导，确保学习取得实效。<br>
    二、突出重点，联系实际，推动工作深入开展。<br>特此通知。</div>
    <div><a href="/p">上一篇：某某</a> <a href="/n">下一篇：某某</a></div></div>
    <div class="footer">版权所有 某某单位</div><script>var a = "脚本内容，不应出现。";</script></body></html>"""
    assert extract_html(html).splitlines() == [
        "各支部：",
        "现将有关事项通知如下，请认真贯彻落实。",
        "一、提高认识，加强领导，确保学习取得实效。",
        "二、突出重点，联系实际，推动工作深入开展。",
        "特此通知。",
    ]


def test_html_tables_keep_rows_and_xml_declaration_is_accepted():
    html = """<?xml version="1.0" encoding="utf-8"?><html><body><table>
    <tr><th>姓名</th><th>职务</th></tr><tr><td>张三</td><td>支部书记，负责全面工作。</td></tr></table>
    <p>以上名单已经支部大会讨论通过，现予公示。</p></body></html>"""
    assert extract_html(html).splitlines() == ["姓名\t职务", "张三\t支部书记，负责全面工作。", "以上名单已经支部大会讨论通过，现予公示。"]


def test_html_without_text_is_rejected(tmp_path):
    path = _write(tmp_path, "empty.html", b"<html><body><script>var x = 1;</script></body></html>")
    with pytest.raises(ReadError, match="没有找到正文"):
        read_file(path)


# ------------------------------------------------------------------------------------------------ Markdown


def test_markdown_markup_is_stripped_and_headings_keep_their_lines(tmp_path):
    source = (
        "# 中国共产党章程\n\n## 第一章　党员\n\n**第一条**　年满十八岁的*中国*工人、农民……\n\n"
        "- 参见[党章全文](https://example.org/zhangcheng)和![图](a.png)\n> 引用的`原文`\n\n---\n"
        "| 项目 | 内容 |\n|---|---|\n| 学习 | 三会一课 |\n"
    )
    path = _write(tmp_path, "章程.md", source.encode("gb18030"))
    lines = [line for line in read_file(path).splitlines() if line.strip()]
    assert lines == [
        "中国共产党章程",
        "第一章　党员",
        "第一条　年满十八岁的中国工人、农民……",
        "参见党章全文和图",
        "引用的原文",
        "项目\t内容",
        "学习\t三会一课",
    ]


def test_markdown_keeps_escaped_and_snake_case_text():
    assert strip_markdown(r"a\*b\* snake_case_name 2\_3") == "a*b* snake_case_name 2_3"


# ------------------------------------------------------------------------------------------------ DOCX


def _docx_bytes() -> bytes:
    """Return a small .docx with a heading, chapter and article paragraphs, and a table with a merged cell."""
    import docx

    document = docx.Document()
    document.add_heading("中国共产党党员教育管理工作条例", level=1)
    document.add_paragraph("第一章　总则")
    document.add_paragraph("第一条　为了加强和改进党员教育管理工作，制定本条例。")
    document.add_paragraph("第二条　党员教育管理工作必须坚持党要管党、全面从严治党。")
    table = document.add_table(rows=3, cols=3)
    for (row, col), text in {(0, 0): "项目", (0, 1): "内容", (0, 2): "备注", (1, 0): "学习",
                             (1, 1): "三会一课", (2, 0): "考核", (2, 1): "民主评议"}.items():
        table.cell(row, col).text = text
    table.cell(1, 2).merge(table.cell(2, 2)).text = "每年一次"
    document.add_paragraph("第三条　本条例自发布之日起施行。")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_keeps_paragraph_order_headings_and_tables(tmp_path):
    text = read_file(_write(tmp_path, "条例.docx", _docx_bytes()))
    assert text.splitlines() == [
        "中国共产党党员教育管理工作条例",
        "第一章　总则",
        "第一条　为了加强和改进党员教育管理工作，制定本条例。",
        "第二条　党员教育管理工作必须坚持党要管党、全面从严治党。",
        "项目\t内容\t备注",
        "学习\t三会一课\t每年一次",
        "考核\t民主评议",
        "第三条　本条例自发布之日起施行。",
    ]


def test_docx_content_controls_are_read(tmp_path):
    import docx
    from docx.oxml import OxmlElement

    document = docx.Document()
    title = document.add_paragraph("封面标题")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "单位", "某某党支部"
    control, content = OxmlElement("w:sdt"), OxmlElement("w:sdtContent")
    control.append(content)
    document.element.body.insert(0, control)
    content.append(title._p)
    content.append(table._tbl)
    paragraph = document.add_paragraph("第一条　内容")
    paragraph.add_run().add_break()
    paragraph.add_run("第二行")
    buffer = io.BytesIO()
    document.save(buffer)
    text = read_file(_write(tmp_path, "封面.docx", buffer.getvalue()))
    assert text.splitlines() == ["封面标题", "单位\t某某党支部", "第一条　内容", "第二行"]


@pytest.mark.parametrize("kind", ["random", "zip-not-docx", "truncated"])
def test_corrupt_docx_is_rejected(tmp_path, kind):
    if kind == "random":
        data = bytes(random.Random(1).randrange(256) for _ in range(4096))
    elif kind == "zip-not-docx":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("hello.txt", "not a word document")
        data = buffer.getvalue()
    else:
        data = _docx_bytes()[:3000]
    with pytest.raises(ReadError, match="DOCX"):
        read_file(_write(tmp_path, "bad.docx", data))


# ------------------------------------------------------------------------------------------------ PDF


def _pdf_bytes(paragraphs: list[str], chars_per_line: int = 34) -> bytes:
    """Return a multi-page PDF (reportlab, CID font STSong-Light) with paragraphs wrapped at a fixed width."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    y, page = 800, 1

    def finish_page() -> None:
        nonlocal y, page
        pdf.drawString(290, 30, f"- {page} -")
        pdf.showPage()
        y, page = 800, page + 1

    for paragraph in paragraphs:
        for start in range(0, len(paragraph), chars_per_line):
            if y < 60:
                finish_page()
            pdf.setFont("STSong-Light", 11)
            pdf.drawString(50, y, paragraph[start:start + chars_per_line])
            y -= 16
    finish_page()
    pdf.save()
    return buffer.getvalue()


def test_pdf_lines_are_rejoined_into_paragraphs_and_articles_start_lines(tmp_path, regulation):
    paragraphs = [line.strip() for line in regulation.splitlines() if line.strip()]
    data = _pdf_bytes(paragraphs)
    import pypdf

    assert len(pypdf.PdfReader(io.BytesIO(data)).pages) > 2, "fixture should span pages"
    lines = read_file(_write(tmp_path, "条例.pdf", data)).splitlines()
    assert [canonical(line) for line in lines] == [canonical(p) for p in paragraphs]
    assert sum(line.startswith("第") and "条" in line[:6] for line in lines) >= 30
    assert not any(line.startswith("- ") for line in lines), "page numbers must be dropped"


def test_join_pdf_lines_rules():
    page = "\n".join([
        "第一章 总则",
        "第一条 为了推动党史学习教育常态化长效化，推动全党全社会学好党史、用",
        "好党史，制定本条例。",
        "第二条 党史学习教育工作的主要任务是：",
        "（一）学史明理。教育引导党员深刻领悟中国共产党为什么能、马克思主义为",
        "什么行",
        "一、坚持党的全面领导",
        "短标题",
        "正文从这里开始，这一行很长很长很长很长很长很长很长很长很长很长很长",
    ])
    assert join_pdf_lines([page]).splitlines() == [
        "第一章 总则",
        "第一条 为了推动党史学习教育常态化长效化，推动全党全社会学好党史、用好党史，制定本条例。",
        "第二条 党史学习教育工作的主要任务是：",
        "（一）学史明理。教育引导党员深刻领悟中国共产党为什么能、马克思主义为什么行",
        "一、坚持党的全面领导",
        "短标题",
        "正文从这里开始，这一行很长很长很长很长很长很长很长很长很长很长很长",
    ]


def test_pdf_without_text_layer_is_rejected(tmp_path):
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.rect(100, 100, 300, 400, fill=1)  # a "scan": marks on the page, no text
    pdf.showPage()
    pdf.save()
    with pytest.raises(ReadError, match="PDF 没有文本层（可能是扫描件），请先 OCR"):
        read_file(_write(tmp_path, "扫描件.pdf", buffer.getvalue()))


@pytest.mark.parametrize("data", [bytes(random.Random(2).randrange(256) for _ in range(4096)), b"%PDF-1.4\n%garbage\n"])
def test_corrupt_pdf_is_rejected(tmp_path, data):
    with pytest.raises(ReadError, match="PDF"):
        read_file(_write(tmp_path, "bad.pdf", data))
