"""Comparing editions: alignment by content on fixture editions of 党章 (edited, inserted, deleted, moved articles)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.compare import compare_editions, to_docx
from fixtures import edition_text
from ingest.chunker import chunk_document
from ingest.pipeline import ingest
from ingest.structure import make_document
from kb.compare import Article, articles_of, compare, summary
from kb.grammar import article_label

NEW_ARTICLE = "各级党组织应当每年对本条例的执行情况开展一次测试检查，并向上级党组织报告检查结果。"


@pytest.fixture(scope="module")
def charter(corpus_dir) -> list[Article]:
    path = corpus_dir / "regulations" / "中国共产党章程(2022年10月22日二十大部分修改).txt"
    doc = make_document(path.read_text(encoding="utf-8"), str(path), path.name)
    return articles_of(chunk_document(doc)[0])


def edited(charter: list[Article]) -> list[str]:
    """Return 党章's article bodies with 第十条 edited, 第二十条 deleted, one inserted after 第三十条, 第四十条 moved
    after 第四十五条."""
    bodies = [a.text for a in charter]
    bodies[9] = bodies[9].replace("党的", "党组织的", 1)[:-20] + "（本句为测试新增）。"
    moved = bodies[39]
    out = []
    for n, body in enumerate(bodies, 1):
        if n in (20, 40):
            continue
        out.append(body)
        if n == 30:
            out.append(NEW_ARTICLE)
        if n == 45:
            out.append(moved)
    return out


def test_alignment_is_exact_on_an_edited_charter(charter):
    assert len(charter) == 55
    new_text = edition_text("中国共产党章程", "（2027年某某大会部分修改）", edited(charter))
    new = articles_of(chunk_document(make_document(new_text, "x", "党章测试.txt"))[0])
    pairs = compare(charter, new)
    counts = summary(pairs)
    assert (counts["未变"], counts["修改"], counts["新增"], counts["删除"]) == (53, 1, 1, 1)
    mapping = {p.old.label: p.new.label for p in pairs if p.old and p.new}
    expected = {article_label(n): article_label(n) for n in range(1, 20)}
    expected |= {article_label(n): article_label(n - 1) for n in range(21, 31)}
    expected |= {article_label(n): article_label(n) for n in range(31, 40)}
    expected |= {article_label(n): article_label(n - 1) for n in range(41, 46)}
    expected |= {article_label(40): article_label(45)}
    expected |= {article_label(n): article_label(n) for n in range(46, 56)}
    assert mapping == expected
    assert counts["改变序号"] == 10 + 5 + 1
    changed = next(p for p in pairs if p.kind == "修改")
    assert (changed.old.label, changed.new.label) == ("第十条", "第十条")
    assert ("insert", "组织") in changed.diff and ("insert", "（本句为测试新增）") in changed.diff
    assert "".join(t for op, t in changed.diff if op != "insert") == charter[9].text
    assert "".join(t for op, t in changed.diff if op != "delete") == new[9].text
    added = next(p for p in pairs if p.kind == "新增")
    deleted = next(p for p in pairs if p.kind == "删除")
    assert (added.new.label, added.new.text, deleted.old.label) == ("第三十条", NEW_ARTICLE, "第二十条")
    kinds = [p.kind for p in pairs]
    assert kinds.index("删除") == 19  # shown where it stood: after 第十九条


def test_compare_cli_json_and_docx(hash_kb, tmp_path, charter):
    old = tmp_path / "old.txt"
    old.write_text(edition_text("测试党章", "（2022年10月22日某某大会通过）", [a.text for a in charter]), encoding="utf-8")
    new = tmp_path / "new.txt"
    new.write_text(edition_text("测试党章", "（2022年10月22日某某大会通过 2027年10月1日某某大会部分修改）",
                                edited(charter)), encoding="utf-8")
    ingest(hash_kb, [old, new])
    ids = {e.edition: d for d, e in hash_kb.catalog.load().documents.items()}
    assert set(ids) == {"2022年发布", "2027年部分修改"}
    out = CliRunner().invoke(cli, ["--kb-dir", str(hash_kb.settings.kb_dir), "compare", ids["2022年发布"],
                                   "《测试党章》（2027年部分修改）", "--json"], catch_exceptions=False)
    result = json.loads(out.output)
    assert result["summary"] == {"未变": 53, "修改": 1, "新增": 1, "删除": 1, "改变序号": 16}
    assert result["old"] == "《测试党章》（2022年发布）" and result["new"] == "《测试党章》（2027年部分修改）"
    text = CliRunner().invoke(cli, ["--kb-dir", str(hash_kb.settings.kb_dir), "compare", ids["2022年发布"],
                                    ids["2027年部分修改"]]).output
    assert "第二十条（删除）" in text and "第三十条（新增）" in text and "{+（本句为测试新增）+}" in text
    assert "第四十条 → 第四十五条（未变，序号改变）" in text
    from docx import Document

    path = to_docx(compare_editions(hash_kb.settings.kb_dir, ids["2022年发布"], ids["2027年部分修改"]), tmp_path / "c.docx")
    doc = Document(str(path))
    heads = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert "第十条 → 第十条（修改）" in heads and "第二十条（删除）" in heads
    struck = [r.text for p in doc.paragraphs for r in p.runs if r.font.strike]
    assert charter[19].text in struck


def test_app_compare_view(hash_kb, tmp_path, charter):
    from bot.handlers import Handlers
    from bot.service import Service
    from kb.retrieve import Searcher

    for name, rev, bodies in (("old.txt", "（2022年10月22日某某大会通过）", [a.text for a in charter]),
                              ("new.txt", "（2022年10月22日某某大会通过 2027年10月1日某某大会部分修改）", edited(charter))):
        (tmp_path / name).write_text(edition_text("测试党章", rev, bodies), encoding="utf-8")
    ingest(hash_kb, [tmp_path / "old.txt", tmp_path / "new.txt"])
    handlers = Handlers(Service(hash_kb.settings, searcher=Searcher(hash_kb)))
    html, docx = handlers.compare("《测试党章》（2022年发布）", "《测试党章》（2027年部分修改）")
    assert "第二十条（删除）" in html and "<ins>（本句为测试新增）</ins>" in html and docx.endswith(".docx")
    assert "第一条（" not in html  # unchanged articles in place are not listed
