"""The grammar of official documents: numerals, labels and article references, table-driven; and its one home."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from kb.grammar import (ARTICLE_HEAD, DIVISION_HEAD, ArticleRef, article_label, article_number, cn_to_int,
                        find_article_ref, find_clause, find_item, int_to_cn, is_article_label, item_number)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text, value", [
    ("十", 10), ("十二", 12), ("二十", 20), ("一百零三", 103), ("一百一十", 110), ("一百十", 110), ("两千", 2000),
    ("二〇二一", 2021), ("一万零一", 10001), ("12", 12), ("１２", 12), ("一百五十八", 158),
])
def test_cn_to_int(text, value):
    assert cn_to_int(text) == value


@pytest.mark.parametrize("value, text", [(10, "十"), (12, "十二"), (103, "一百零三"), (110, "一百一十"), (1000, "一千"),
                                         (10001, "一万零一"), (158, "一百五十八")])
def test_int_to_cn(value, text):
    assert int_to_cn(value) == text


@pytest.mark.parametrize("bad", ["", "abc", "十a"])
def test_cn_to_int_rejects(bad):
    with pytest.raises(ValueError):
        cn_to_int(bad)


@pytest.mark.parametrize("query, number, sub, clause, item, hint", [
    ("党章第十条", 10, 0, None, None, "党章"),
    ("纪律处分条例第十条之一讲了什么", 10, 1, None, None, "纪律处分条例"),
    ("第12条", 12, 0, None, None, None),
    ("《中国共产党纪律处分条例》第一百零三条", 103, 0, None, None, "中国共产党纪律处分条例"),
    ("党章第十条第二款", 10, 0, 2, None, "党章"),
    ("宪法第 三十四 条第一款第二项", 34, 0, 1, 2, "宪法"),
    ("细则第１２条", 12, 0, None, None, "细则"),
    # 第 dropped right after a document's name.
    ("纪律处分条例117条管的是啥事", 117, 0, None, None, "纪律处分条例"),
    ("宪法三十五条第一款", 35, 0, 1, None, "宪法"),
    ("《准则》的12条", 12, 0, None, None, "准则"),
])
def test_find_article_ref(query, number, sub, clause, item, hint):
    assert find_article_ref(query) == ArticleRef(number, sub, clause, item, hint)


@pytest.mark.parametrize("query", ["第零条", "党章规定了什么", "第一万条", "我们支部有3条意见", "坚持这个原则3条",
                                   "条例有5条件"])
def test_no_article_ref(query):
    assert find_article_ref(query) is None


def test_labels_round_trip():
    assert article_label(10, 1) == article_label(10, "之一") == "第十条之一"
    assert article_number("第十条之一") == (10, 1) and article_number("第一百零三条") == (103, 0)
    assert is_article_label("第十条之一") and is_article_label("第12条") and not is_article_label("第十条规定")


@pytest.mark.parametrize("text, clause, item", [("第二款呢", 2, None), ("它的第三项", None, 3), ("第十二款", 12, None),
                                                ("没有款", None, None)])
def test_clause_and_item(text, clause, item):
    assert find_clause(text) == clause and find_item(text) == item


@pytest.mark.parametrize("line, value", [("（十二）加强学习", 12), ("(2) 二项", 2), ("（一）", 1), ("一、总则", None)])
def test_item_number(line, value):
    assert item_number(line) == value


def test_heads_at_line_start_only():
    text = "第一章 总则\n第一条 为了……依照第二条规定。\n　第二条之一 补充。"
    assert [m["num"] for m in ARTICLE_HEAD.finditer(text)] == ["一", "二"]
    assert [m["kind"] for m in DIVISION_HEAD.finditer(text)] == ["章"]


def test_article_patterns_live_only_in_the_grammar_module():
    """No other module writes a 第X条/款/项 or 编/章/节 pattern of its own."""
    pattern = re.compile(r"第(?:\\s\*)?[\[(].{0,80}?[\])][+*]?(?:\\s\*)?\)?(?:条|款|项|\[编章节|\[编章节条)")
    offenders = []
    for package in ("kb", "ingest", "bot", "evals", "benchmarks"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name == "grammar.py" and package == "kb":
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_the_grep_finds_the_grammar_module_itself():
    """The check above must be able to fail: it flags the grammar module's own article pattern."""
    pattern = re.compile(r"第(?:\\s\*)?[\[(].{0,80}?[\])][+*]?(?:\\s\*)?\)?(?:条|款|项|\[编章节|\[编章节条)")
    source = (ROOT / "kb" / "grammar.py").read_text(encoding="utf-8")
    assert pattern.search(source)


@pytest.mark.parametrize("text, names", [
    ("党内关怀帮扶办法对生活困难党员每年补助多少钱", ["党内关怀帮扶办法"]),
    ("请问信访工作条例规定信访事项要在多少天内办结", ["信访工作条例"]),
    ("2013年版的厉行节约反对浪费条例对公务用车怎么规定", ["厉行节约反对浪费条例"]),
    ("年底突击花钱有规定管吗", []),
    # A demonstrative before a name points at it (那个党组工作条例, 1991年那个干部档案工作条例).
    ("这个处分条例哪天开始施行的", ["处分条例"]),
    ("那个党组工作条例规定党组会多久开一次", ["党组工作条例"]),
    ("1991年那个干部档案工作条例对查阅档案是怎么规定的", ["干部档案工作条例"]),
    ("2015年那版纪律处分条例里开除党籍咋规定的", ["纪律处分条例"]),
    ("入党有什么规定", []),
    ("越南共产党规定的预备期多长", []),
    ("领导干部报告个人有关事项规定 要报哪些", ["领导干部报告个人有关事项规定"]),
    ("按照党费收缴使用管理的那个规定", []),
    # An A-not-A question or a verb that takes rules as its object: a phrase about rules.
    ("党员下班后炒股，违不违反规定", []),
    ("私车公养，算违反规定吗", []),
    # A phrase opening with such a verb, and "this" or "relevant" regulations.
    ("坚持和平外交，维护国际关系基本准则", []),
    ("从轻处分，是指在本条例规定的处分幅度以内", []),
    ("有违反有关规定行为的怎么处理", []),
    ("公务员基本准则有哪些", ["公务员基本准则"]),
])
def test_names_of_regulations_written_without_brackets(text, names):
    from kb.titles import spoken_titles

    assert spoken_titles(text) == names


@pytest.mark.parametrize("text, title", [
    ("国企党建那个条例里对党委书记有啥要求", "中国共产党国有企业基层组织工作条例（试行）"),
    ("问责那个条例有哪些问责方式", "中国共产党问责条例"),
    ("高校的那个条例管不管院系党组织", "中国共产党普通高等学校基层组织工作条例"),
    ("保密的那个法里脱密期多久", "中华人民共和国保守国家秘密法"),
    ("发展党员那个细则里预备期多长", "中国共产党发展党员工作细则"),
    # Several documents fit, or none: no document is meant for sure.
    ("廉洁那个准则讲了啥", None),
    ("按那个规定办就行", None),
    ("党章那个规定", None),
])
def test_documents_described_by_topic_and_kind(text, title):
    from kb.known_documents import documents_described

    assert [d.title for d in documents_described(text)] == ([title] if title else [])


@pytest.mark.parametrize("text, history", [
    ("支部工作条例是哪天印发的", True),
    ("巡视工作条例什么时候开始施行", True),
    ("问责条例规定了哪些问责方式", False),
    ("巡视组进驻多长时间", False),
    ("廉洁自律准则的发布日期", True),
    ("巡视工作条例通过多长时间巡视一次", False),
])
def test_a_question_about_when_a_text_was_issued(text, history):
    from kb.editions import asks_history

    assert asks_history(text) is history


@pytest.mark.parametrize("title, is_document", [
    ("中国共产党章程", True), ("中华人民共和国宪法", True), ("中国共产党国有企业基层组织工作条例（试行）", True),
    ("【2019年8月学习材料】", False), ("每周一学（2021年10月25日—31日）", False),
    ("每周一学（2025年6月23日-6月29日）中共中央 国务院印发《党政机关厉行节约反对浪费条例》", False),
])
def test_a_title_ends_in_a_kind_of_document_and_a_study_note_does_not(title, is_document):
    from kb.titles import ends_in_kind

    assert ends_in_kind(title) is is_document
