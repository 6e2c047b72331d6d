"""Editions on the corpus: statuses of the regulations, the quoted 2023 纪律处分条例 articles, notices on every answer
citing the 2018 text. Runs on the whole-corpus test knowledge base (real model), so the 2018 text, its reprints and
the notes that quote the 2023 edition all compete as they do for a user."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from kb.base import KnowledgeBase
from kb.editions import edition_year

pytestmark = pytest.mark.corpus
ROOT = Path(__file__).resolve().parents[1]
QUOTED = ("第十九条", "第三十条", "第五十五条", "第五十七条", "第八十条", "第八十六条", "第九十四条", "第一百零五条",
          "第一百零六条", "第一百零七条", "第一百三十二条", "第一百三十九条", "第一百五十三条")
NOTICE = ("注意：知识库中的《中国共产党纪律处分条例》为2018年修订版；该条例已于2023年修订，2024年1月1日起施行，"
          "条文序号有变化。")
# Ordinary questions about 处分: they must stay answerable from the 2018 full text, with the notice.
DISCIPLINE_QUESTIONS = (
    "纪律处分条例第二十七条讲了什么", "党员受到留党察看处分期间有哪些限制？", "党纪处分有哪几种？",
    "对党员的纪律处分种类有哪些", "受到撤销党内职务处分的党员多长时间内不得担任与其原任职务相当的职务？",
    "违反廉洁纪律收受礼品礼金怎么处分？", "纪律处分条例适用于哪些人？",
)


@pytest.fixture(scope="module")
def editions_settings(corpus_settings):
    return corpus_settings


def run(*args, kb_dir):
    return CliRunner().invoke(cli, ["--kb-dir", str(kb_dir), *map(str, args)], catch_exceptions=False)


def test_docs_json_gives_every_regulation_its_edition_date_and_status(editions_settings):
    rows = json.loads(run("docs", "--json", kb_dir=editions_settings.kb_dir).output)
    regs = {r["title"]: r for r in rows if any("/regulations/" in s for s in r["sources"])}
    assert len(regs) == 11
    for title, r in regs.items():
        assert r["edition"] and r["status"] in ("现行有效", "未知", "已被修订"), title
        assert r["date"] or r["effective_date"] or r["issued"] or r["doc_type"] == "other", title
        assert edition_year(r["edition"]), title  # the year at least, from the revision line or the file name
        assert r["cited_as"] == f"《{title}》（{r['edition']}）"
    discipline = regs["中国共产党纪律处分条例"]
    assert (discipline["edition"], discipline["status"], discipline["current_edition"]) == ("2018年修订", "已被修订",
                                                                                          "2023年修订")
    assert "增改重点条文解读1.txt" in discipline["evidence"] and discipline["effective_date"] == "2018-10-01"
    assert [x["edition"] for x in discipline["superseded_by"]] == ["2023年修订"]
    assert all(r["status"] in ("现行有效", "未知") for t, r in regs.items() if t != "中国共产党纪律处分条例")
    assert regs["中国共产党章程"]["edition"] == "2022年部分修改" and regs["中国共产党章程"]["status"] == "现行有效"
    assert regs["中国共产党党员教育管理工作条例"]["effective_date"] == "2019-05-06"
    assert regs["中国共产党党员教育管理工作条例"]["issuer"] is None  # not taken from the news preamble


@pytest.fixture(scope="module")
def searcher(editions_settings):
    from kb.retrieve import Searcher

    return Searcher(KnowledgeBase.open(editions_settings))


@pytest.mark.parametrize("label", QUOTED)
def test_every_quoted_2023_article_is_found_at_rank_one(searcher, label):
    top = searcher.search(f"2023年修订的纪律处分条例{label}", k=3)[0].chunk
    assert (top.quotes, top.edition, top.article) == ("中国共产党纪律处分条例", "2023年修订", label)
    assert top.cited_as.startswith(f"《中国共产党纪律处分条例》（2023年修订）{label}（摘自《每周一学")
    assert "增改重点条文解读" in top.cited_as


def test_new_edition_questions(searcher):
    from bot.answer import Answerer

    assert searcher.search("新版纪律处分条例第十九条", k=1)[0].chunk.quotes == "中国共产党纪律处分条例"
    answerer = Answerer(searcher)
    quoted = answerer.ask("2023年修订的纪律处分条例第一百五十三条")
    assert not quoted.refused and [n.kind for n in quoted.notices] == ["quotation"]
    missing = answerer.ask("2023年修订的纪律处分条例第二十条")
    assert missing.refused and "没有第二十条的原文" in missing.reason and "第一百五十三条" in missing.reason
    old = answerer.ask("2018年版纪律处分条例第十九条")
    assert not old.refused and old.citations[0].chunk.cited_as == "《中国共产党纪律处分条例》（2018年修订）"
    assert answerer.ask("2015年版纪律处分条例第八十八条原文是啥").refused
    old_rules = answerer.ask("13年那版的厉行节约条例里公务接待怎么写的")
    assert old_rules.refused and "2013" in old_rules.reason
    # a short name (干部档案条例) names the stored regulation, whose 1991 predecessor the knowledge base lacks
    lacking = answerer.ask("1991年的干部档案条例对借阅档案怎么规定的")
    assert lacking.refused and "1991" in lacking.reason and "干部人事档案工作条例" in lacking.reason
    # a loosely named edition counts when asked what it says, not when asked about its history
    assert searcher.edition_scope("八大党章对预备党员是怎么规定的").missing
    assert "1956" in answerer.ask("八大党章对预备党员是怎么规定的").reason
    assert searcher.edition_scope("十九大党章是哪一年通过的") is None


def test_every_answer_citing_the_2018_text_carries_the_notice_in_cli_json_and_text(editions_settings, tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text("".join(json.dumps({"id": i, "question": q}, ensure_ascii=False) + "\n"
                             for i, q in enumerate(DISCIPLINE_QUESTIONS)), encoding="utf-8")
    lines = [json.loads(x) for x in run("ask", "--batch", batch, "--json", kb_dir=editions_settings.kb_dir).output.splitlines()]
    citing = [a for a in lines if any(c["doc_title"] == "中国共产党纪律处分条例" and "quotes" not in c for c in a["citations"])]
    assert len(citing) >= len(DISCIPLINE_QUESTIONS) - 1, [a["query"] for a in lines if a["refused"]]
    for a in citing:
        superseded = [n for n in a["notices"] if n["kind"] == "superseded"]
        assert superseded and superseded[0]["text"] == NOTICE, a["query"]
        assert (superseded[0]["edition"], superseded[0]["current_edition"]) == ("2018年修订", "2023年修订")
        assert superseded[0]["doc_id"] and "corpus:" in superseded[0]["evidence"]
    text = run("ask", DISCIPLINE_QUESTIONS[0], kb_dir=editions_settings.kb_dir).output
    assert NOTICE in text and "《中国共产党纪律处分条例》（2018年修订）" in text


def test_compare_aligns_every_quoted_article_or_marks_it_new(editions_settings):
    out = run("compare", "《中国共产党纪律处分条例》（2018年修订）", "《中国共产党纪律处分条例》（2023年修订）", "--json",
              kb_dir=editions_settings.kb_dir)
    result = json.loads(out.output)
    assert [p["new_label"] for p in result["pairs"]] == list(QUOTED)
    assert all(p["kind"] in ("修改", "新增", "未变") for p in result["pairs"])
    by_new = {p["new_label"]: p for p in result["pairs"]}
    assert by_new["第一百五十三条"]["old_label"] != "第一百五十三条"  # the 2018 text has 142 articles
    assert by_new["第三十条"]["old_label"] == "第二十八条" and by_new["第一百零五条"]["old_label"] == "第九十六条"


@pytest.mark.browser
@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")
def test_browser_chat_shows_the_notice_and_the_edition(editions_settings, searcher, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from test_app import serve
    from test_browser import ARGS, CHROMIUM, WAIT_MS

    if not CHROMIUM.exists():
        pytest.skip("Debian Chromium is not installed at /usr/bin/chromium")
    expect.set_options(timeout=WAIT_MS)
    with serve(editions_settings, searcher, tmp_path / "reports") as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        page = browser.new_page(locale="zh-CN")
        page.goto(url)
        page.locator("#djkb-question textarea").fill("纪律处分条例第二十七条讲了什么")
        page.locator("#djkb-ask").click()
        expect(page.locator("#djkb-cards .djkb-card").first).to_contain_text("《中国共产党纪律处分条例》（2018年修订）")
        expect(page.locator("#djkb-chat")).to_contain_text(NOTICE)
        browser.close()


def edition_questions(corpus: Path) -> list[dict]:
    """Return the dev and cadre-dev questions edition handling decides: those naming an edition, and those whose gold
    evidence is a quoted article of the 2023 纪律处分条例."""
    from kb.editions import edition_asked
    from kb.grammar import quoted_articles
    from kb.text import normalize_source

    quoted = []
    for path in sorted((corpus / "speeches").glob("*增改重点条文解读*.txt")):
        text = normalize_source(path.read_text(encoding="utf-8"))
        quoted += [text[q.start:q.end] for q in quoted_articles(text)]
    rows = [json.loads(line) for name in ("dev", "cadre-dev")
            for line in (ROOT / "evals" / "datasets" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines() if line]
    return [r for r in rows if not r.get("history") and (
        edition_asked(r["question"]) or r.get("why") == "edition"
        or (r.get("evidence") and any(r["evidence"] in q for q in quoted)))]


# Refused on this knowledge base (score 0.71, threshold 0.75) with the right note at rank 2: retrieval, not editions.
KNOWN_MISSES = {"cd-229"}


def test_dev_questions_on_editions_are_answered_or_refused_as_gold(searcher, corpus_dir):
    from bot.answer import Answerer

    answerer = Answerer(searcher)
    questions = edition_questions(corpus_dir)
    assert len(questions) >= 15
    wrong = []
    for r in questions:
        a = answerer.ask(r["question"])
        if r["kind"] == "refuse":
            ok = a.refused
        else:
            ok = not a.refused and (not r.get("evidence") or any(r["evidence"] in c.chunk.text for c in a.citations))
        if not ok:
            wrong.append((r["id"], r["question"], a.reason))
    assert {w[0] for w in wrong} <= KNOWN_MISSES, wrong
