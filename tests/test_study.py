"""Study materials: article outlines citing regulations (not reprints), quizzes whose items pass the validity check,
and exports opened with python-docx and openpyxl."""
from __future__ import annotations

import random

import pytest

from bot.study import (BLANK, KINDS, TruthCheck, check_item, doc_rank, edit_outline, make_quiz, number_distractors,
                       outline, requirement_strength, sentence_problem, to_docx, to_markdown, to_xlsx)
from bot.sources import ReprintIndex, rank_of


def test_number_distractors_keep_the_unit_and_the_style():
    rng = random.Random(0)
    months = number_distractors("三个月", rng)
    assert len(months) >= 3 and len(set(months)) == len(months) and "三个月" not in months
    assert all(d.endswith("个月") for d in months)
    assert "两年" in number_distractors("一年", rng)
    assert all(d.endswith("次") and d[:-1].isdigit() for d in number_distractors("1次", rng))


def test_boilerplate_and_dangling_sentences_make_no_question():
    assert sentence_problem("根据《中国共产党章程》和有关党内法规，制定本细则。") == "套话"
    assert sentence_problem("本条例自发布之日起施行。") == "套话"
    assert sentence_problem("对此，要高质量开好民主生活会。") == "承上启下"
    assert sentence_problem("预备党员的预备期为一年。") is None


def test_requirement_strength():
    assert requirement_strength("党支部每年至少召开1次组织生活会") == 1.0
    assert requirement_strength("要把学习教育抓紧抓实") == 0.5
    assert requirement_strength("中国共产党是中国工人阶级的先锋队") == 0.0


@pytest.fixture(scope="module")
def membership(searcher):
    return outline(searcher, "发展党员")


@pytest.mark.corpus
def test_outline_cites_regulations_not_reprints(searcher, membership):
    index = ReprintIndex.build(searcher.chunks.values())
    assert membership.groups[0].doc_title.startswith("中国共产党发展党员工作细则")
    ranks = [doc_rank(g.doc_type, g.doc_title) for g in membership.groups]
    assert ranks == sorted(ranks)
    for p in membership.points:
        chunk = searcher.chunk(p.source.chunk_id)
        assert p.text in chunk.text and p.source.where
        assert rank_of(chunk) == 0 or index.original(chunk) in (None, chunk.chunk_id), "cited through a reprint"


@pytest.mark.corpus
def test_procedural_outline_reads_in_stage_order(searcher, membership):
    group = membership.groups[0]
    chapters = [name for name, _ in group.stages()]
    assert len(chapters) >= 3 and len(chapters) == len(set(chapters))
    starts = [searcher.chunk(p.source.chunk_id).char_start for p in group.points]
    assert starts == sorted(starts)
    at = [next(i for i, c in enumerate(chapters) if word in c) for word in ("积极分子", "发展对象", "转正")]
    assert at == sorted(at), chapters


@pytest.mark.corpus
def test_a_regulation_named_for_the_topic_gives_its_core_rules_not_its_reporting_duties(membership):
    # Every article of 发展党员工作细则 is about 发展党员, worded so or not: 培养考察一年以上 (第十三条) and the
    # two sponsors (第十四条) must not lose to the 领导和纪律 chapter, which merely repeats the topic's words.
    articles = {p.source.article for p in membership.groups[0].points}
    assert {"第五条", "第十三条", "第十四条"} <= articles
    assert len({"第三十七条", "第三十八条", "第三十九条", "第四十条", "第四十一条"} & articles) <= 2  # all 5 before


@pytest.mark.corpus
def test_pin_and_remove_points(searcher, membership):
    first, last = membership.points[0], membership.points[-1]
    edited = edit_outline(searcher, membership, pinned={last.key}, removed={first.key})
    assert first.key not in {p.key for p in edited.points}
    assert next(p for p in edited.points if p.key == last.key).pinned
    again = outline(searcher, "发展党员", removed={first.key}, max_points=1, pinned={last.key})
    assert last.key in {p.key for p in again.points} and first.key not in {p.key for p in again.points}


@pytest.fixture(scope="module")
def quiz(searcher, membership):
    return make_quiz(searcher, "发展党员", n=10, seed=0, outline_=membership)


@pytest.mark.corpus
def test_quiz_items_are_valid_and_mix_the_kinds(searcher, quiz):
    assert len(quiz) == 10 and not quiz.shortfall
    assert {i.kind for i in quiz} == set(KINDS)
    truth = TruthCheck.of(searcher)
    for item in quiz:
        assert check_item(searcher, item, "发展党员", truth) == [], item
        assert item.sentence in searcher.chunk(item.source.chunk_id).text
        if item.kind == "judge" and item.answer == "错误":
            assert item.question != item.sentence and not truth.stated(item.question)
        if item.kind in ("single", "fill"):
            assert "发展党员" not in item.answer and item.question.replace(BLANK, item.answer) == item.sentence


@pytest.mark.corpus
def test_checker_rejects_two_right_options_and_boilerplate(searcher, quiz):
    from dataclasses import replace

    item = next(i for i in quiz if i.kind == "single")
    opts = list(item.options)
    wrong = next(n for n, o in enumerate(opts) if o != item.answer)
    opts[wrong] = item.answer  # a second option that also fills the sentence
    assert check_item(searcher, replace(item, options=tuple(opts)), "发展党员")
    assert check_item(searcher, replace(item, answer=opts[(wrong + 1) % 4] if opts[(wrong + 1) % 4] != item.answer
                                        else opts[(wrong + 2) % 4]), "发展党员")
    assert check_item(searcher, replace(item, sentence="根据《中国共产党章程》，制定本细则。"), "发展党员")


@pytest.mark.corpus
def test_shortfall_is_explained(searcher):
    result = make_quiz(searcher, "发展党员", n=30, kinds=("multi",))
    assert len(result) < 30 and f"只生成了 {len(result)} 道题（要求 30 道）" in result.shortfall
    assert "多选题少" in result.shortfall


@pytest.mark.corpus
def test_docx_xlsx_and_markdown_exports(membership, quiz, tmp_path):
    from docx import Document
    from openpyxl import load_workbook

    md = to_markdown(membership, quiz)
    assert md.index("要点提纲") < md.index("练习题") < md.index("参考答案")
    doc = Document(str(to_docx(membership, quiz, tmp_path / "学习材料.docx")))
    assert doc.core_properties.title == "学习材料：发展党员"
    assert doc.core_properties.author and "docx" not in doc.core_properties.author
    paragraphs = doc.paragraphs
    texts = [p.text for p in paragraphs]
    assert texts[0] == "学习材料：发展党员" and texts[1].startswith("日期：")
    assert "中国共产党发展党员工作细则" in texts[2]
    key_at = texts.index("三、参考答案")
    breaks = [i for i, p in enumerate(paragraphs) if 'w:br w:type="page"' in p._p.xml]
    assert breaks[0] < texts.index("一、要点提纲") and any(texts.index("二、练习题") < b < key_at for b in breaks)
    for n, item in enumerate(quiz, 1):
        assert any(item.question in t for t in texts[:key_at])
        line = next(t for t in texts[key_at:] if t.startswith(f"{n}. "))
        assert item.key() in line and item.source.doc_title in line and item.sentence in line
    wb = load_workbook(to_xlsx(quiz, tmp_path / "题库.xlsx", "题库：发展党员"))
    rows = list(wb.active.iter_rows(values_only=True))
    assert rows[0] == ("题型", "题干", "选项A", "选项B", "选项C", "选项D", "答案", "解析", "出处")
    assert len(rows) == 11 and wb.properties.creator and "openpyxl" not in wb.properties.creator
    for row, item in zip(rows[1:], quiz):
        assert row[1] == item.question and item.source.label() == row[8] and item.sentence in row[7]
        assert row[6] == (item.answer_letter if item.options else item.answer)


def test_export_of_empty_materials(tmp_path):
    from docx import Document

    from bot.study import StudyOutline

    empty = StudyOutline("不存在的主题", ())
    assert "没有找到" in to_markdown(empty, [])
    path = to_docx(empty, [], tmp_path / "x.docx")
    assert any("没有找到" in p.text for p in Document(str(path)).paragraphs)


@pytest.mark.corpus
def test_a_chapter_carries_its_topic_to_its_other_articles(searcher):
    # 纪律处分条例 第十一条 and 第十二条 (撤销党内职务, 留党察看) never say 种类; their chapter's first rule does.
    points = outline(searcher, "纪律处分的种类").points
    articles = {(p.source.doc_title, p.source.article) for p in points}
    assert {("中国共产党纪律处分条例", "第十一条"), ("中国共产党纪律处分条例", "第十二条")} <= articles
    assert all(p.source.doc_type != "speech" for p in points)


@pytest.mark.corpus
def test_an_official_document_without_articles_named_for_the_topic_gives_its_sections(searcher):
    points = outline(searcher, "党的政治建设").points
    sections = [p for p in points if p.source.doc_title.startswith("中共中央关于加强党的政治建设的意见")]
    assert len(sections) >= 10
