"""Study materials: verbatim outlines grouped by document, unambiguous quizzes, Markdown and Word export."""
from __future__ import annotations

import random

import pytest

from bot.export import to_docx, to_markdown
from bot.study import (BLANK, doc_rank, find_blanks, make_quiz, near_duplicate, number_distractors, outline,
                       requirement_strength)


def test_number_distractors_keep_the_unit_and_the_style():
    rng = random.Random(0)
    months = number_distractors("三个月", rng)
    assert len(months) == 3 and len(set(months)) == 3 and "三个月" not in months
    assert all(d.endswith("个月") for d in months)
    years = number_distractors("一年", rng)
    assert "两年" in years and all(d.endswith("年") for d in years)
    assert all(d.endswith("次") and d[:-1].isdigit() for d in number_distractors("1次", rng))
    fractions = number_distractors("半数", rng)
    assert len(fractions) == 3 and "半数" not in fractions and all("分之" in f or "半数" in f for f in fractions)


def test_near_duplicates_ignore_article_labels_and_punctuation():
    assert near_duplicate("第七条 预备党员的预备期为一年。", "预备党员的预备期为一年")
    assert not near_duplicate("预备党员的预备期为一年。", "党员的党龄，从预备期满转为正式党员之日算起。")


def test_requirement_strength():
    assert requirement_strength("党支部每年至少召开1次组织生活会") == 1.0
    assert requirement_strength("要把学习教育抓紧抓实") == 0.5
    assert requirement_strength("中国共产党是中国工人阶级的先锋队") == 0.0


@pytest.mark.corpus
def test_blanks_are_never_ambiguous(searcher):
    sentence = "预备党员的预备期为一年，预备期满应当及时讨论。"
    blanks = find_blanks(searcher, sentence, "预备党员", [], random.Random(0))
    answers = [b.answer for b in blanks]
    assert "一年" in answers and "预备期" not in answers
    assert all(sentence.count(a) == 1 for a in answers)


@pytest.mark.corpus
@pytest.mark.parametrize("topic", ["民主生活会", "预备党员"])
def test_outline_points_are_verbatim_and_grouped_by_document(searcher, topic):
    result = outline(searcher, topic)
    assert result.groups, topic
    doc_ids = [g.doc_id for g in result.groups]
    assert len(doc_ids) == len(set(doc_ids)), "one group per document"
    ranks = [doc_rank(g.doc_type, g.doc_title) for g in result.groups]
    assert ranks == sorted(ranks), "regulations first, then reprints and other documents, then speeches"
    assert result.groups[0].doc_type == "regulation" and ranks[0] == 0
    for g in result.groups:
        assert 0 < len(g.points) <= (6 if g.doc_type == "regulation" else 4)
        text = searcher.kb.catalog.read_doc(g.doc_id)[0].text
        for p in g.points:
            chunk = searcher.chunk(p.source.chunk_id)
            assert p.source.doc_id == g.doc_id == chunk.doc_id
            assert p.text in chunk.text, (p.text, chunk.text)
            assert p.text in text
            # Any sentence of a regulation's article is a rule; elsewhere the wording must state a duty.
            assert requirement_strength(p.text) > 0 or doc_rank(g.doc_type, g.doc_title) == 0
    assert any(topic in p.text for p in result.points)
    points = result.points
    for i, a in enumerate(points):
        assert not any(near_duplicate(a.text, b.text) for b in points[i + 1:]), a.text


@pytest.mark.corpus
def test_outline_on_democratic_life_meetings_cites_the_party_constitution(searcher):
    result = outline(searcher, "民主生活会")
    cited = {(p.source.doc_title, p.source.article) for p in result.points}
    assert ("中国共产党章程", "第八条") in cited, cited


@pytest.fixture(scope="module")
def quiz(searcher):
    return make_quiz(searcher, "预备党员", n=10, seed=0)


@pytest.mark.corpus
def test_quiz_answers_fill_the_blank_to_a_verbatim_sentence(searcher, quiz):
    assert len(quiz) >= 8
    assert {item.kind for item in quiz} == {"fill", "choice"}
    assert any(item.blank_kind == "number" for item in quiz)
    for item in quiz:
        assert item.question.count(BLANK) == 1
        assert item.question.replace(BLANK, item.answer) == item.sentence
        assert item.sentence.count(item.answer) == 1
        chunk = searcher.chunk(item.source.chunk_id)
        assert item.sentence in chunk.text
        assert item.sentence in searcher.kb.catalog.read_doc(item.source.doc_id)[0].text
        if item.kind == "choice":
            assert len(item.options) == 4 and len(set(item.options)) == 4
            assert item.options.count(item.answer) == 1
            assert item.options[item.answer_index] == item.answer
        else:
            assert item.options == () and item.answer_index is None


@pytest.mark.corpus
def test_quiz_is_deterministic_for_a_seed(searcher, quiz):
    assert make_quiz(searcher, "预备党员", n=10, seed=0) == quiz
    other = make_quiz(searcher, "预备党员", n=10, seed=7)
    assert [i.to_dict() for i in other] != [i.to_dict() for i in quiz]


@pytest.mark.corpus
def test_quiz_prefers_regulations(quiz):
    assert sum(item.source.doc_type == "regulation" for item in quiz) >= len(quiz) // 2


@pytest.mark.corpus
def test_markdown_and_docx_export_contain_every_item(searcher, quiz, tmp_path):
    from docx import Document

    result = outline(searcher, "预备党员")
    md = to_markdown(result, quiz)
    assert md.startswith("# 学习材料：预备党员")
    assert md.index("要点提纲") < md.index("练习题") < md.index("参考答案")
    for item in quiz:
        assert item.question in md and item.sentence in md
    for p in result.points:
        assert p.text in md

    path = to_docx(result, quiz, tmp_path / "学习材料.docx")
    paragraphs = [p.text for p in Document(str(path)).paragraphs]
    text = "\n".join(paragraphs)
    key_at = paragraphs.index("三、参考答案")
    assert paragraphs[0] == "学习材料：预备党员"
    for n, item in enumerate(quiz, 1):
        assert any(item.question in p for p in paragraphs[:key_at])
        answer_line = next(p for p in paragraphs[key_at:] if p.startswith(f"{n}. "))
        assert item.answer in answer_line and item.source.doc_title in answer_line
    for p in result.points:
        assert p.text in text


def test_export_of_empty_materials(tmp_path):
    from docx import Document

    from bot.study import StudyOutline

    empty = StudyOutline("不存在的主题", ())
    assert "没有找到" in to_markdown(empty, [])
    path = to_docx(empty, [], tmp_path / "x.docx")
    assert any("没有找到" in p.text for p in Document(str(path)).paragraphs)
