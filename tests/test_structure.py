"""Structure parser, numerals and chunker: hand-made fixtures and acceptance on the real corpus."""
from __future__ import annotations

import hashlib
import os
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

from ingest.chunker import audit as audit_of  # noqa: E402
from ingest.chunker import chunk_document  # noqa: E402
from kb.grammar import cn_to_int, int_to_cn  # noqa: E402
from ingest.structure import make_document, parse_meta, parse_revision, parse_structure  # noqa: E402
from kb.schema import Chunk, Document  # noqa: E402
from kb.text import normalize_source  # noqa: E402

CORPUS = Path(os.environ.get("DJKB_CORPUS", Path(__file__).resolve().parents[1].parent / "shared" / "corpus"))
SENTENCE_ENDS = "。！？；!?;”’」』）)》"


def build(raw: str, filename: str, source: str | None = None) -> Document:
    """Build a Document the way the ingest pipeline does, from raw file text."""
    meta = parse_meta(raw, filename)
    return Document(
        doc_id="x",
        title=meta.title,
        doc_type=meta.doc_type,
        source=source or filename,
        text=normalize_source(raw),
        content_hash="h",
        date=meta.date,
        issuer=meta.issuer,
    )


def assert_chunks_sound(doc: Document, chunks: list[Chunk]) -> None:
    """Every chunk is a verbatim, trimmed, bounded span of the text, cut at a sentence or line end."""
    for c in chunks:
        assert doc.text[c.char_start : c.char_end] == c.text, c.chunk_id
        assert c.text == c.text.strip() and c.text, c.chunk_id
        assert len(c.text) <= 1000, (c.chunk_id, len(c.text))
        end = c.char_end
        assert end == len(doc.text) or doc.text[end].isspace() or doc.text[end - 1] in SENTENCE_ENDS, c.text[-20:]
    starts = [c.char_start for c in chunks]
    assert starts == sorted(starts)


# ---------------------------------------------------------------- numerals


def test_numerals_round_trip_1_to_200():
    for n in range(1, 201):
        assert cn_to_int(int_to_cn(n)) == n
        assert cn_to_int(str(n)) == n


@pytest.mark.parametrize(
    ("text", "value"),
    [("一百四十二", 142), ("二十", 20), ("十", 10), ("十二", 12), ("一百零二", 102), ("两", 2), ("一百一十", 110),
     ("一百十", 110), ("二〇二一", 2021), ("142", 142), ("１２", 12), ("一千零一十", 1010), ("三万零五", 30005)],
)
def test_cn_to_int(text, value):
    assert cn_to_int(text) == value


@pytest.mark.parametrize(
    ("value", "text"),
    [(142, "一百四十二"), (10, "十"), (11, "十一"), (20, "二十"), (110, "一百一十"), (119, "一百一十九"),
     (102, "一百零二"), (100, "一百"), (1010, "一千零一十"), (10010, "一万零一十")],
)
def test_int_to_cn(value, text):
    assert int_to_cn(value) == text


@pytest.mark.parametrize("bad", ["", "abc", "第一", "一x"])
def test_cn_to_int_rejects_non_numerals(bad):
    with pytest.raises(ValueError):
        cn_to_int(bad)


# ---------------------------------------------------------------- fixtures

REGULATION = """\
中国共产党示例条例
（2010年4月21日中共中央政治局常委会会议审议批准
2010年6月4日中共中央发布　2019年11月29日中共中央政治局会议修订）
第一编　总则
第一章　指导思想
第一条　为了示例，制定本条例。
第二条　工作遵循以下原则：
（一）坚持党的领导；
（二）坚持从严治党。
第二章　党　员
第一节　义务
第三条　党员必须履行义务。
第十一条规定的情形，依照本条例处理。
第四条　按照第三章规定处理。
第二编　分则
第三章　处分
第五条　违反规定的，给予警告处分。
第五条之一　情节严重的，给予撤销党内职务处分。
第六条　本条例自发布之日起施行。
（来源：新华社）
"""


def test_structure_of_regulation_fixture():
    text = normalize_source(REGULATION)
    sections = parse_structure(text)
    got = [(s.kind, s.label, s.title, s.number, s.level) for s in sections]
    assert got == [
        ("编", "第一编", "总则", 1, 1),
        ("章", "第一章", "指导思想", 1, 2),
        ("条", "第一条", "", 1, 3),
        ("条", "第二条", "", 2, 3),
        ("章", "第二章", "党员", 2, 2),
        ("节", "第一节", "义务", 1, 3),
        ("条", "第三条", "", 3, 4),
        ("条", "第四条", "", 4, 4),
        ("编", "第二编", "分则", 2, 1),
        ("章", "第三章", "处分", 3, 2),
        ("条", "第五条", "", 5, 3),
        ("条", "第五条之一", "", 5, 3),
        ("条", "第六条", "", 6, 3),
        ("other", "（来源：新华社）", "", None, 1),
    ]
    by_label = {s.label: s for s in sections}
    # The cross-reference line stays inside article 3; the （一） items inside article 2.
    assert "第十一条规定的情形" in text[by_label["第三条"].start : by_label["第三条"].end]
    assert text[by_label["第二条"].start : by_label["第二条"].end].rstrip().endswith("（二）坚持从严治党。")
    assert text[by_label["第一编"].start : by_label["第一编"].end].rstrip().endswith("按照第三章规定处理。")
    assert by_label["第二章"].heading == "第二章 党员"


def test_stray_article_quotes_do_not_break_the_sequence():
    text = normalize_source(
        "近日，中共中央印发了《示例条例》。\n第五条 明确了党员的义务，这是新的规定。\n《示例条例》全文如下。\n"
        "第一章 总则\n第一条 为了示例。\n第二条 适用范围。\n"
        "问：如何理解？\n第十条 引自其他条例的一句话。\n第三条 本条例自发布之日起施行。\n"
    )
    labels = [s.label for s in parse_structure(text) if s.kind == "条"]
    assert labels == ["第一条", "第二条", "第三条"]


def test_parse_meta_of_regulation_fixture():
    meta = parse_meta(REGULATION, "中国共产党示例条例(2019年修订).txt")
    assert meta.title == "中国共产党示例条例"
    assert meta.doc_type == "regulation"
    assert meta.date == "2019-11-29"
    assert meta.issuer == "中共中央政治局会议"
    assert meta.revision_line and meta.revision_line.startswith("（2010年4月21日") and meta.revision_line.endswith("修订）")


@pytest.mark.parametrize(
    ("line", "date", "issuer"),
    [
        ("中国共产党第二十次全国代表大会部分修改，2022年10月22日通过", "2022-10-22", "中国共产党第二十次全国代表大会"),
        ("（2018年修订，自2018年10月1日起施行）", "2018-10-01", None),
        ("（2013年10月29日中共中央政治局会议审议批准 2013年11月18日中共中央、国务院发布 "
         "2025年5月2日中共中央批准 2025年5月2日中共中央、国务院发布）", "2025-05-02", "中共中央、国务院"),
        ("（二〇二一年七月）", None, None),
    ],
)
def test_parse_revision(line, date, issuer):
    assert parse_revision(line) == (date, issuer)


def test_parse_meta_news_preamble_and_speech_names():
    news = "近日，中共中央印发了《中国共产党示例条例》（以下简称《条例》），并发出通知。\n《中国共产党示例条例》全文如下。\n第一章 总则\n"
    meta = parse_meta(news, "中国共产党示例条例(2019).txt")
    assert meta.title == "中国共产党示例条例"
    assert parse_meta("同志们：\n今天开会。\n", "示例会议讲话.txt").title == "示例会议讲话"
    assert parse_meta("同志们：\n今天开会。\n", "示例会议讲话.txt").doc_type == "speech"
    speech = parse_meta("标题\n正文。\n", "2021-07-09_党建引领_专题党课.txt")
    assert (speech.title, speech.date, speech.doc_type) == ("党建引领 专题党课", "2021-07-09", "speech")
    assert parse_meta("关于示例工作的意见\n一、总体要求\n正文。\n", "关于示例工作的意见.txt").doc_type == "other"


SPEECH = """\
同志们：
今天召开会议，我讲几点意见。
一、深化政治建设，铸魂工作要用灵魂去抓
市直机关首先是政治机关。
（一）加强理论学习。学习是前提，要读原著、学原文、悟原理，做到学思用贯通、知信行统一。这是第一段的延续内容，用来让这一行超过六十个字符。
按照第三章规定，各单位要落实。
1.坚持集中学习
2.坚持个人自学
（二）抓好意识形态工作
意识形态工作极端重要。
二、深化党建赋能，围绕中心要用真心去做
要抓实功能作用发挥。
"""


def test_structure_of_speech_fixture():
    text = normalize_source(SPEECH)
    got = [(s.kind, s.label, s.title, s.level) for s in parse_structure(text)]
    assert got == [
        ("heading", "一、", "深化政治建设，铸魂工作要用灵魂去抓", 1),
        ("heading", "（一）", "加强理论学习", 2),
        ("heading", "（二）", "抓好意识形态工作", 2),
        ("heading", "二、", "深化党建赋能，围绕中心要用真心去做", 1),
    ]


def test_chunks_of_speech_fixture():
    doc = build(SPEECH, "2020-01-01_示例讲话.txt")
    chunks, audit = chunk_document(doc)
    assert_chunks_sound(doc, chunks)
    assert audit.ok and audit.articles == 0
    top = {c.heading_path[0] for c in chunks if c.heading_path}
    assert top == {"一、深化政治建设，铸魂工作要用灵魂去抓", "二、深化党建赋能，围绕中心要用真心去做"}
    last = chunks[-1]
    assert last.heading_path == ("二、深化党建赋能，围绕中心要用真心去做",)
    assert last.text.startswith("二、深化党建赋能")
    # No chunk crosses a top-level section boundary.
    for c in chunks:
        assert not ("一、深化" in c.text and "二、深化" in c.text)


def test_chunks_of_regulation_fixture():
    doc = build(REGULATION, "中国共产党示例条例(2019年修订).txt")
    chunks, audit = chunk_document(doc)
    assert_chunks_sound(doc, chunks)
    assert audit.ok and audit.articles == 7
    first = chunks[0]
    assert first.article is None and first.heading_path == () and first.text.startswith("中国共产党示例条例\n（2010年")
    art = {c.article: c for c in chunks if c.article}
    assert art["第一条"].heading_path == ("第一编 总则", "第一章 指导思想", "第一条")
    assert art["第一条"].text.startswith("第一编 总则\n第一章 指导思想\n第一条")
    assert art["第三条"].heading_path == ("第一编 总则", "第二章 党员", "第一节 义务", "第三条")
    assert art["第五条之一"].article_no == 5
    assert art["第五条之一"].heading_path == ("第二编 分则", "第三章 处分", "第五条之一")
    assert art["第六条"].text == "第六条 本条例自发布之日起施行。"
    assert [c.chunk_id for c in chunks] == [c.chunk_id for c in chunk_document(doc)[0]]
    for i, c in enumerate(chunks):
        assert c.chunk_id == f"x-{i:04d}-{hashlib.sha1(c.text.encode('utf-8')).hexdigest()[:8]}"
        assert (c.doc_title, c.doc_type, c.date, c.issuer) == ("中国共产党示例条例", "regulation", "2019-11-29", "中共中央政治局会议")


def test_long_article_is_split_at_paragraphs_and_keeps_its_label():
    paragraph = "党组织应当加强对党员的教育管理监督，" * 12 + "确保各项要求落到实处。"
    body = "\n".join(["第一条 " + paragraph, paragraph, paragraph, "第二条 本条例自发布之日起施行。", "第三条 本条例由中央组织部负责解释。"])
    doc = build("示例条例\n" + body, "示例条例.txt")
    chunks, audit = chunk_document(doc)
    assert_chunks_sound(doc, chunks)
    pieces = [c for c in chunks if c.article == "第一条"]
    assert len(pieces) >= 2 and all(c.heading_path == ("第一条",) for c in pieces)
    assert all(len(c.text) <= 600 for c in pieces)
    assert audit.articles == 3 and audit.ok


def test_audit_reports_gaps_uncovered_and_overlap():
    doc = build("示例条例\n第一条 甲。\n第二条 乙。\n第四条 丁。\n第五条 戊。\n第六条 己。\n第七条 庚。\n", "示例条例.txt")
    chunks, audit = chunk_document(doc)
    assert audit.articles == 6 and audit.article_gaps == ("第三条",)
    damaged = audit_of(doc, chunks[:-1] + [chunks[-2]])
    assert damaged.uncovered_chars == len(re.sub(r"\s", "", chunks[-1].text))
    assert damaged.overlapping_chars == len(chunks[-2].text)


def test_make_document_hashes_normalized_text():
    doc = make_document("\ufeff标题\r\n第一条　内容。\r\n", "/x/标题.txt", "标题.txt")
    assert doc.text == "标题\n第一条 内容。"
    assert doc.content_hash == hashlib.sha256(doc.text.encode("utf-8")).hexdigest()
    assert doc.doc_id == doc.content_hash[:16] and doc.source == "/x/标题.txt" and doc.title == "标题"


# ---------------------------------------------------------------- real corpus

# Article sets established by reading each text: line-start 第X条 headings, 1..N without gaps or 之一 articles.
EXPECTED_ARTICLES: dict[str, tuple[int, str | None]] = {
    "中国共产党章程(2022年10月22日二十大部分修改).txt": (55, "总纲"),
    "中国共产党纪律处分条例(2018年修订).txt": (142, None),
    "中国共产党党和国家机关基层组织工作条例(2019年修订).txt": (43, None),
    "中国共产党党员教育管理工作条例(2019).txt": (46, None),
    "中国共产党发展党员工作细则(2026年修订).txt": (44, None),
    "党史学习教育工作条例(2024).txt": (34, None),
    "党政机关厉行节约反对浪费条例(2025年修订).txt": (63, None),
    "干部人事档案工作条例(2018).txt": (46, None),
    "中华人民共和国宪法(2018年修正).txt": (143, "序言"),
    "中国共产党党内法规体系(2021年7月_中办法规局).txt": (0, None),
    "中共中央关于加强党的政治建设的意见(2019).txt": (0, None),
}


@pytest.fixture(scope="module")
def corpus() -> dict[str, tuple[Document, list[Chunk], object]]:
    if not CORPUS.is_dir():
        pytest.fail(f"corpus not found at {CORPUS}: set DJKB_CORPUS to the folder holding regulations/ and speeches/")
    out = {}
    for path in sorted(CORPUS.glob("*/*.txt")):
        doc = build(path.read_text(encoding="utf-8"), path.name, str(path))
        chunks, audit = chunk_document(doc)
        out[f"{path.parent.name}/{path.name}"] = (doc, chunks, audit)
    return out


def test_corpus_has_expected_files(corpus):
    regulations = {k.split("/", 1)[1] for k in corpus if k.startswith("regulations/")}
    assert regulations == set(EXPECTED_ARTICLES), "a regulation was added or removed: state its article set here"
    assert sum(k.startswith("speeches/") for k in corpus) == 485


@pytest.mark.parametrize("name", sorted(EXPECTED_ARTICLES))
def test_regulation_article_sets(corpus, name):
    doc, chunks, audit = corpus[f"regulations/{name}"]
    count, preamble = EXPECTED_ARTICLES[name]
    expected = {f"第{int_to_cn(n)}条" for n in range(1, count + 1)} | ({preamble} if preamble else set())
    assert {c.article for c in chunks if c.article} == expected
    assert audit.articles == count and audit.article_gaps == ()
    for label in expected - {preamble}:
        assert re.search(rf"(?m)^{label} ", doc.text), label
    numbers = [c.article_no for c in chunks if c.article_no is not None]
    assert numbers == sorted(numbers)
    if count:
        assert doc.doc_type == "regulation"
    else:
        assert doc.doc_type != "regulation"


def test_party_constitution_preamble(corpus):
    doc, chunks, _ = corpus["regulations/中国共产党章程(2022年10月22日二十大部分修改).txt"]
    general = [c for c in chunks if c.article == "总纲"]
    assert general and all(c.heading_path == ("总纲",) and c.article_no is None for c in general)
    assert general[0].text.startswith("总 纲\n中国共产党是中国工人阶级的先锋队")
    first = next(c for c in chunks if c.article == "第一条")
    assert first.heading_path == ("第一章 党员", "第一条")
    assert chunks[0].article is None and chunks[0].text.startswith("中国共产党章程")
    assert (doc.date, doc.issuer) == ("2022-10-22", "中国共产党第二十次全国代表大会")


def test_constitution_preamble_and_sections(corpus):
    _, chunks, _ = corpus["regulations/中华人民共和国宪法(2018年修正).txt"]
    assert all(c.heading_path == ("序言",) for c in chunks if c.article == "序言")
    art = next(c for c in chunks if c.article == "第一百一十条")
    assert art.heading_path == ("第三章 国家机构", "第五节 地方各级人民代表大会和地方各级人民政府", "第一百一十条")


def test_discipline_regulation_paths(corpus):
    _, chunks, _ = corpus["regulations/中国共产党纪律处分条例(2018年修订).txt"]
    by_article = {}
    for c in chunks:
        if c.article:
            by_article.setdefault(c.article, c)
    assert by_article["第一条"].heading_path == ("第一编 总则", "第一章 指导思想、原则和适用范围", "第一条")
    assert by_article["第四十四条"].heading_path == ("第二编 分则", "第六章 对违反政治纪律行为的处分", "第四十四条")
    assert by_article["第一百一十条"].heading_path[0] == "第二编 分则"
    assert by_article["第一百四十二条"].heading_path[0] == "第三编 附则"
    for c in chunks:
        if c.article_no is None:
            continue
        if c.article_no <= 138:
            assert c.heading_path[0] == ("第一编 总则" if c.article_no <= 43 else "第二编 分则")
            assert len(c.heading_path) == 3 and re.match(r"^第.+章 ", c.heading_path[1]), c.heading_path
        else:  # 第三编 附则 has no chapters
            assert c.heading_path == ("第三编 附则", c.article)


def test_regulation_meta(corpus):
    doc, _, _ = corpus["regulations/中国共产党党和国家机关基层组织工作条例(2019年修订).txt"]
    assert (doc.title, doc.date, doc.issuer) == ("中国共产党党和国家机关基层组织工作条例", "2019-11-29", "中共中央政治局会议")
    doc, _, _ = corpus["regulations/中国共产党党员教育管理工作条例(2019).txt"]
    assert doc.title == "中国共产党党员教育管理工作条例"
    doc, _, _ = corpus["regulations/干部人事档案工作条例(2018).txt"]
    assert doc.title == "干部人事档案工作条例"
    doc, _, _ = corpus["regulations/党政机关厉行节约反对浪费条例(2025年修订).txt"]
    assert (doc.date, doc.issuer) == ("2025-05-02", "中共中央、国务院")


def test_news_preamble_is_front_matter(corpus):
    _, chunks, _ = corpus["regulations/中国共产党党员教育管理工作条例(2019).txt"]
    first_article = next(i for i, c in enumerate(chunks) if c.article)
    front = chunks[:first_article]
    assert front and front[0].text.startswith("近日，中共中央印发了")
    assert front[-1].text.endswith("《中国共产党党员教育管理工作条例》全文如下。")
    assert all(c.article is None and c.heading_path == () for c in front)
    first = next(c for c in chunks if c.article == "第一条")
    assert first.text.startswith("第一章 总则\n第一条") and first.heading_path == ("第一章 总则", "第一条")


def test_every_document_is_fully_covered(corpus):
    lengths = []
    for key, (doc, chunks, audit) in corpus.items():
        assert chunks, key
        assert audit.uncovered_chars == 0 and audit.overlapping_chars == 0, (key, audit)
        assert_chunks_sound(doc, chunks)
        lengths += [len(c.text) for c in chunks]
    assert max(lengths) <= 1000


def test_speech_heading_paths(corpus):
    _, chunks, _ = corpus["speeches/市直机关党建工作会议讲话.txt"]
    paths = Counter(c.heading_path for c in chunks)
    assert paths[("一、深化政治建设，铸魂工作要用灵魂去抓",)] >= 2
    assert paths[("二、深化党建赋能，围绕中心要用真心去做",)] >= 1
    assert paths[("三、深化责任落实，抓实党建要用实干去干",)] >= 1
    assert chunks[0].heading_path == () and chunks[0].text.startswith("同志们：")
    assert all(c.article is None for c in chunks)
    for c in chunks[1:]:
        assert sum(h in c.text for h in ("一、深化", "二、深化", "三、深化")) <= 1


def test_speech_chunk_sizes(corpus):
    prose = [len(c.text) for doc, chunks, _ in corpus.values() for c in chunks if c.article is None]
    assert max(prose) <= 600 + 60  # a glued heading may top a full-size sentence group
    in_target = sum(300 <= n <= 600 for n in prose)
    assert in_target / len(prose) > 0.85


def test_political_building_opinion(corpus):
    doc, chunks, audit = corpus["regulations/中共中央关于加强党的政治建设的意见(2019).txt"]
    assert audit.articles == 0 and doc.doc_type == "other"
    paths = {c.heading_path for c in chunks}
    assert ("二、坚定政治信仰", "（一）坚持用党的科学理论武装头脑") in paths
    qa = [c for c in chunks if c.heading_path and c.heading_path[0].endswith("答记者问")]
    assert qa and qa[0].text.startswith("中央办公厅负责人就")
