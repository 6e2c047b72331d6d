"""Editions: labels and dates from revision lines, statuses and overrides, quoted articles of a newer edition, notices."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from fixtures import regulation_text
from ingest.chunker import chunk_document, pipeline_version
from ingest.pipeline import ingest, remove
from ingest.structure import make_document, parse_meta
from kb.editions import _full_year, edition_asked, history, parse_effective, parse_label, registry
from kb.retrieve import Filters, Searcher
from kb.status import resolve

NOTICE_2018 = ("注意：知识库中的《中国共产党纪律处分条例》为2018年修订版；该条例已于2023年修订，2024年1月1日起施行，"
               "条文序号有变化。")


def run(*args, kb_dir=None):
    pre = ["--kb-dir", str(kb_dir)] if kb_dir else []
    return CliRunner().invoke(cli, [*pre, *map(str, args)], catch_exceptions=False)


@pytest.mark.parametrize("line, stem, label", [
    ("（2018年修订，自2018年10月1日起施行）", "", "2018年修订"),
    ("（2010年4月21日中共中央政治局常委会会议审议批准 2010年6月4日中共中央发布 2019年11月29日中共中央政治局会议修订）",
     "", "2019年修订"),
    ("中国共产党第二十次全国代表大会部分修改，2022年10月22日通过", "", "2022年部分修改"),
    ("（2013年10月29日中共中央政治局会议审议批准　2013年11月18日中共中央、国务院发布 2025年5月2日中共中央批准　"
     "2025年5月2日中共中央、国务院发布）", "", "2025年修订"),
    ("（2024年1月18日中共中央政治局常委会会议审议批准 2024年2月5日中共中央发布）", "", "2024年发布"),
    (None, "中华人民共和国宪法(2018年修正)", "2018年修正"),
    (None, "干部人事档案工作条例(2018)", "2018年版"),
    (None, "某某条例", None),
])
def test_edition_label_from_revision_line_or_file_note(line, stem, label):
    assert parse_label(line, stem) == label


def test_effective_date_from_revision_line_closing_article_or_issue():
    assert parse_effective("（2018年修订，自2018年10月1日起施行）", "") == "2018-10-01"
    assert parse_effective(None, "……\n第四十六条　本条例自2019年5月6日起施行。") == "2019-05-06"
    issued = "（2014年5月8日中共中央政治局常委会会议审议批准　2026年5月11日中共中央办公厅发布）"
    assert parse_effective(issued, "第四十四条　本细则自发布之日起施行。") == "2026-05-11"
    revised_only = "（2010年6月4日中共中央发布 2019年11月29日中共中央政治局会议修订）"
    assert parse_effective(revised_only, "第四十三条 本条例自发布之日起施行。") is None


def test_a_news_preamble_is_not_taken_for_the_revision_line():
    text = ("新华社北京2020年3月1日电 近日，中共中央印发了《测试工作条例》，并发出通知，要求认真遵照执行。\n"
            "通知指出，2020年2月20日中共中央政治局会议审议批准了《条例》。\n《测试工作条例》全文如下。\n"
            + regulation_text("测试工作条例").split("\n", 2)[2])
    meta = parse_meta(text, "测试工作条例(2019).txt")
    assert (meta.title, meta.date, meta.issuer, meta.revision_line) == ("测试工作条例", None, None, None)
    assert meta.edition == "2019年版"


def test_registry_covers_the_required_regulations_with_evidence():
    titles = {e.title for e in registry()}
    for t in ("中国共产党党内监督条例", "中国共产党问责条例", "中国共产党廉洁自律准则", "中国共产党支部工作条例",
              "中国共产党党组工作条例", "党政领导干部选拔任用工作条例", "中国共产党巡视工作条例", "中国共产党纪律处分条例",
              "中国共产党章程", "中国共产党发展党员工作细则"):
        assert t in titles, t
    assert all(e.evidence == "unverified" or e.evidence.startswith(("corpus:", "revision-line")) for e in registry())
    assert [e.label for e in history("中国共产党纪律处分条例")][-2:] == ["2018年修订", "2023年修订"]
    corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus"
    for e in registry():
        for part in e.evidence.split("; "):
            if part.startswith("corpus:") and corpus.is_dir():
                name = part.removeprefix("corpus:")
                assert list(corpus.rglob(name)), f"evidence file missing: {name}"


def test_edition_asked_in_questions():
    assert edition_asked("2018年版纪律处分条例第十九条").year == 2018
    assert edition_asked("2023年修订的纪律处分条例第一百五十三条").year == 2023
    assert edition_asked("新版纪律处分条例第十九条").newest
    assert edition_asked("新修订的纪律处分条例比2018年版新增了多少条").newest  # 比2018年版 is compared with
    assert edition_asked("纪律处分条例第十九条") is None
    assert edition_asked("1982年宪法原文第七十九条").year == 1982
    assert edition_asked("1997年的纪律处分条例（试行）第五十条怎么规定的").year == 1997
    assert edition_asked("十九大党章第三十一条是怎么写的").year == 2017
    assert edition_asked("十五大通过的那版党章一共几章").year == 1997  # 那版 between the congress and 党章
    assert edition_asked("截至2021年7月1日现行有效的准则和条例各有多少部？") is None
    assert edition_asked("2013年最早那版厉行节约条例怎么写的").strict  # 那版 names an edition as plainly as 版
    assert edition_asked("2014年5月发的老版本发展党员细则").year == 2014
    assert edition_asked("2019年那次主题教育的总要求是什么") is None


def test_edition_asked_with_a_two_digit_year_or_new_right_before_a_title():
    assert edition_asked("15年版的纪律处分条例第八十八条原文").year == 2015
    assert edition_asked("13年那版的厉行节约条例里公务接待怎么写的").year == 2013
    assert edition_asked("82年宪法第七十九条").year == 1982 and not edition_asked("82年宪法第七十九条").strict
    assert edition_asked("入党18年的老党员按照条例要交多少党费") is None  # a duration, not an edition
    assert edition_asked("我干了13年，老版的条例怎么说") is None
    assert edition_asked("比15年版多了哪些条") is None
    assert edition_asked("18年印发的那个条例第五条").year == 2018
    assert edition_asked("新纪律处分条例对结交政治骗子咋处理").newest
    assert edition_asked("按新党章规定，预备期几年").newest
    for plain in ("新来的党员按照条例要做什么", "重新学习条例", "新时代党建工作条例", "创新党章学习方式",
                  "新提拔干部按照纪律处分条例要注意什么"):
        assert edition_asked(plain) is None, plain
    assert (_full_year(26, this_year=2026), _full_year(27, this_year=2026)) == (2026, 1927)


def _edition(tmp: Path, name: str, line: str, articles: int = 12, seed: int = 0) -> Path:
    body = regulation_text("测试工作条例", articles=articles, seed=seed).split("\n", 2)[2]
    path = tmp / name
    path.write_text(f"测试工作条例\n{line}\n{body}", encoding="utf-8")
    return path


def test_two_stored_editions_newest_is_current_and_the_default_filter_leaves_the_old_out(hash_kb, tmp_path):
    old = _edition(tmp_path, "old.txt", "（2018年1月1日某某委员会发布）")
    new = _edition(tmp_path, "new.txt", "（2018年1月1日某某委员会发布 2022年5月1日某某委员会修订）", seed=1)
    ingest(hash_kb, [old, new])
    manifest = hash_kb.catalog.load()
    ids = {Path(e.sources[0]).name: d for d, e in manifest.documents.items()}
    statuses = resolve(manifest)
    assert (statuses[ids["old.txt"]].status, statuses[ids["new.txt"]].status) == ("已被修订", "现行有效")
    assert statuses[ids["old.txt"]].superseded_by[0].doc_id == ids["new.txt"]
    assert statuses[ids["new.txt"]].supersedes[0].doc_id == ids["old.txt"]
    searcher = Searcher(hash_kb)
    assert {h.chunk.doc_id for h in searcher.search("各级组织应当开展工作", k=30)} == {ids["new.txt"]}
    wide = searcher.search("各级组织应当开展工作", k=30, filters=Filters(in_force=False))
    assert {h.chunk.doc_id for h in wide} == set(ids.values())
    hit = searcher.search("2018年版测试工作条例第三条", k=1)[0]
    assert hit.chunk.doc_id == ids["old.txt"] and hit.chunk.article == "第三条"


def test_status_override_from_the_cli_survives_reingest(hash_kb, tmp_path):
    path = _edition(tmp_path, "reg.txt", "（2018年1月1日某某委员会发布）")
    ingest(hash_kb, [path])
    kb_dir = hash_kb.settings.kb_dir
    doc_id = next(iter(hash_kb.catalog.load().documents))
    out = run("status", doc_id, "--set", "已废止", kb_dir=kb_dir)
    assert out.exit_code == 0 and "已将《测试工作条例》（2018年发布）的状态设为“已废止”" in out.output
    remove(hash_kb, doc_id)
    ingest(hash_kb, [path])
    row = json.loads(run("docs", "--json", kb_dir=kb_dir).output)[0]
    assert (row["status"], row["status_basis"], row["edition"]) == ("已废止", "override", "2018年发布")
    assert (Path(kb_dir) / "status_overrides.json").exists()  # kept apart from the catalog, so re-ingest keeps it
    assert Searcher(hash_kb).search("各级组织应当开展工作", k=5) == []  # 已废止 is out of the default filter
    assert run("status", "测试工作条例", "--clear", kb_dir=kb_dir).exit_code == 0
    assert json.loads(run("status", doc_id, "--json", kb_dir=kb_dir).output)["status_basis"] != "override"
    assert run("status", "没有这篇", "--set", "已废止", kb_dir=kb_dir).exit_code == 1


QUOTE_NOTE = """新修订的《中国共产党纪律处分条例》（以下简称《条例》）与2018年《条例》相比，新增16条，修改76条。
一、关于不予处分
【条文】
第十九条 对于党员违犯党纪应当给予警告或者严重警告处分，但是具有本条例第十七条规定的情形之一的，可以免予党纪处分。
党员行为虽然造成损失或者后果，但不是出于故意或者过失，而是由于不可抗力等原因所引起的，不追究党纪责任。
【解读】
此次修订《条例》，新增第十九条第三款，明确了对没有故意或者过失的行为不追究党纪责任的基本规则。
二、关于违背公序良俗
【条文】
第一百五十三条 违背社会公序良俗，在公共场所、网络空间有不当言行，造成不良影响的，给予警告或者严重警告处分。
第一百五十四条 测试用的第二条引文，内容不同于前一条。
【解读】
新增本条，是为了规范党员在公共场所和网络空间的言行。
"""
NOTE_NAME = "2024-04-22_每周一学《中国共产党纪律处分条例》增改重点条文解读1.txt"


@pytest.fixture
def discipline_kb(hash_kb, tmp_path):
    """A 2018 纪律处分条例 (test text) and a 2024 study note quoting articles of the 2023 revision."""
    reg = tmp_path / "中国共产党纪律处分条例(2018年修订).txt"
    body = regulation_text("中国共产党纪律处分条例", articles=30).split("\n", 2)[2]
    reg.write_text(f"中国共产党纪律处分条例\n（2018年修订，自2018年10月1日起施行）\n{body}", encoding="utf-8")
    note = tmp_path / NOTE_NAME
    note.write_text(QUOTE_NOTE, encoding="utf-8")
    ingest(hash_kb, [reg, note])
    return hash_kb


def test_quoted_articles_are_chunked_as_articles_of_the_quoted_edition(tmp_path):
    doc = make_document(QUOTE_NOTE, "x", NOTE_NAME)
    chunks, audit = chunk_document(doc)
    quoted = [c for c in chunks if c.quotes]
    assert [c.article for c in quoted] == ["第十九条", "第一百五十三条", "第一百五十四条"]
    assert all(c.edition == "2023年修订" and c.quotes == "中国共产党纪律处分条例" for c in quoted)
    assert quoted[1].text.endswith("【条文】\n第一百五十三条 违背社会公序良俗，在公共场所、网络空间有不当言行，造成不良影响的，给予警告或者严重警告处分。")
    assert quoted[2].text.startswith("第一百五十四条")
    assert quoted[0].cited_as == ("《中国共产党纪律处分条例》（2023年修订）第十九条"
                                  "（摘自《每周一学《中国共产党纪律处分条例》增改重点条文解读1》）")
    assert audit.uncovered_chars == 0 and audit.overlapping_chars == 0
    assert pipeline_version(doc) == "3"
    plain = make_document("在会议上的讲话\n一、提高站位\n同志们，要抓好学习。\n", "y", "2024-01-01_讲话.txt")
    assert pipeline_version(plain) == "1"  # a speech without quotations is chunked as before: not re-embedded


def test_quoted_new_articles_found_at_rank_one_and_answered_as_quotations(discipline_kb):
    from bot.answer import Answerer

    searcher = Searcher(discipline_kb)
    for query, label in (("新版纪律处分条例第十九条", "第十九条"), ("2023年修订的纪律处分条例第一百五十三条", "第一百五十三条")):
        top = searcher.search(query, k=3)[0].chunk
        assert (top.quotes, top.edition, top.article) == ("中国共产党纪律处分条例", "2023年修订", label)
    answer = Answerer(searcher).ask("2023年修订的纪律处分条例第一百五十三条")
    assert not answer.refused and "违背社会公序良俗" in answer.answer
    assert [n.kind for n in answer.notices] == ["quotation"]
    assert "没有《中国共产党纪律处分条例》（2023年修订）的全文" in answer.notices[0].text
    missing = Answerer(searcher).ask("2023年修订的纪律处分条例第二十条")
    assert missing.refused and "只有其中第十九条、第一百五十三条、第一百五十四条的引文，没有第二十条的原文" in missing.reason
    lacking = Answerer(searcher).ask("2015年版纪律处分条例第八条")
    assert lacking.refused and "知识库中没有《中国共产党纪律处分条例》（2015年修订）" in lacking.reason


def test_every_answer_citing_the_superseded_text_carries_the_notice(discipline_kb):
    from bot.answer import Answerer

    answerer = Answerer(Searcher(discipline_kb))
    answer = answerer.ask("纪律处分条例第十九条")
    assert not answer.refused and answer.citations[0].chunk.cited_as == "《中国共产党纪律处分条例》（2018年修订）"
    notice = answer.notices[0]
    assert (notice.kind, notice.edition, notice.current_edition) == ("superseded", "2018年修订", "2023年修订")
    assert notice.text == NOTICE_2018 + ("知识库中另有2023年修订版第十九条的引文，内容可能不同，"
                                         "可问“2023年修订的中国共产党纪律处分条例第十九条”。")
    assert "corpus:" in notice.evidence
    assert answer.to_dict()["notices"][0]["doc_id"] == answer.citations[0].chunk.doc_id
    final = list(answerer.stream("纪律处分条例第三条"))[-1]
    assert final.notices and final.notices[0].text == NOTICE_2018
    # Ordinary questions stay answerable from the only full text: the 现行有效 filter keeps it (with the notice).
    assert Searcher(discipline_kb).search("各级组织应当开展工作", k=3)[0].chunk.doc_title == "中国共产党纪律处分条例"


def test_app_views_show_editions_and_notices():
    from bot import messages as msg
    from bot.handlers import doc_choices
    from bot.views import doc_table_rows, final_message
    from kb.schema import Answer, Notice

    answer = Answer("q", "答案[1]", False, notices=(Notice("superseded", "d", "2018年修订", "2023年修订", "", NOTICE_2018),))
    assert NOTICE_2018 in final_message(answer)
    row = {"doc_id": "d", "title": "中国共产党纪律处分条例", "doc_type": "regulation", "chunks": 1, "articles": 1,
           "chars": 1, "audit": "完整", "sources": ["a.txt"], "ingested_at": "", "edition": "2018年修订",
           "status": "已被修订", "cited_as": "《中国共产党纪律处分条例》（2018年修订）"}
    assert doc_choices([row])[1] == ("《中国共产党纪律处分条例》（2018年修订）〔已被修订〕", "d")
    assert doc_table_rows([row])[0][1] == msg.doc_label(row)
