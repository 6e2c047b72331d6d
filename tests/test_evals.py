"""Evals: the hit rule, each metric on hand-made inputs, the question-set validator, reports, comparison,
the quiz converter, the sweeps, the ``djkb eval`` command and the regression gate on a fixed dev subset."""
from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from evals import metrics as M
from evals.dataset import DEFAULT_SET, DatasetError, Gold, Question, load_questions, parse_lines
from evals.matching import matched_places, matches, required_run
from evals.records import ANSWER_MODE, Passage, Record, append_records, load_records, record_key
from evals.render import compare_markdown
from evals.report import latest_report, regenerate, write_latest, write_report
from evals.summary import summarize
from kb.text import has_common_run

FLOORS = Path(__file__).resolve().parents[1] / "evals" / "floors.json"
S = frozenset


def _p(text: str, title: str = "文档", article: str | None = None) -> Passage:
    return Passage(chunk_id=text[:8], doc_title=title, heading="", article=article, text=text)


# --- the hit rule -------------------------------------------------------------------------------------------

def test_hit_rule_contains_after_nfkc_and_whitespace_removal():
    assert matches("第十条　党员 必须\n履行义务（一）", "党员必须履行义务(一)")
    assert not matches("党员必须履行义务", "党员必须遵守纪律")


def test_hit_rule_accepts_evidence_cut_by_a_chunk_boundary():
    evidence = "党支部每年至少召开1次组织生活会"  # 16 chars: needs a shared run of ⌈0.6·16⌉ = 10
    assert required_run(len(evidence)) == 10
    assert matches("……党支部每年至少召开1", evidence)  # 11-char run
    assert not matches("……党支部每年至少召", evidence)  # 9-char run: too little
    # Short evidence needs the 8-character minimum, so a cut one never matches partly.
    assert required_run(6) == 8
    assert not matches("留党察看最长", "留党察看最长不超")
    assert not matches("任何文本", "")


def longest_common_substring(a: str, b: str) -> int:
    """Reference: the longest common substring by dynamic programming."""
    best, prev = 0, [0] * (len(b) + 1)
    for ca in a:
        cur = [0] * (len(b) + 1)
        for j, cb in enumerate(b, 1):
            if ca == cb:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def test_common_run_agrees_with_dynamic_programming():
    rng = random.Random(7)
    for _ in range(300):
        a = "".join(rng.choice("党员组织纪律") for _ in range(rng.randint(0, 14)))
        b = "".join(rng.choice("党员组织纪律") for _ in range(rng.randint(0, 30)))
        lcs = longest_common_substring(a, b)
        assert has_common_run(a, b, lcs) and not has_common_run(a, b, lcs + 1)


def test_matched_places_is_per_gold_place():
    gold = (Gold("a.txt", "留党察看最长不超过两年"), Gold("b.txt", "留党察看一年、留党察看二年"))
    assert matched_places("……留党察看最长不超过两年。留党察看一年、留党察看二年", gold) == S({0, 1})
    assert matched_places("留党察看最长不超过两年", gold) == S({0})


# --- metrics on hand-made inputs ----------------------------------------------------------------------------

def test_hit_mrr_and_ndcg_single_place():
    ranked = [S(), S(), S({0}), S()]
    assert [M.hit_at(ranked, k) for k in (1, 2, 3, 10)] == [0.0, 0.0, 1.0, 1.0]
    assert M.reciprocal_rank(ranked) == pytest.approx(1 / 3)
    assert M.ndcg(ranked, 1) == pytest.approx(1 / math.log2(4))  # 0.5
    assert M.reciprocal_rank([S()] * 10 + [S({0})], 10) == 0.0


def test_ndcg_credits_each_gold_place_once():
    # places 0 and 1 at ranks 1 and 3, a repeat of place 0 at rank 2: DCG = 1 + 1/log2(4) = 1.5
    ideal = 1 + 1 / math.log2(3)
    assert M.ndcg([S({0}), S({0}), S({1})], 2) == pytest.approx(1.5 / ideal)
    assert M.ndcg([S({0, 1})], 2) == 1.0  # one passage holding both places: capped
    assert M.ndcg([S({1})], 2) == pytest.approx(1 / ideal)


def test_citation_precision_recall_and_article():
    assert M.citation_precision([S({0}), S(), S({0}), S()]) == 0.5
    assert M.citation_precision([]) is None
    assert M.citation_recall([S({0}), S()], 2) == 0.5
    assert M.citation_recall([S({0}), S({1})], 2) == 1.0
    gold = (Gold("a.txt", "x", "第十条"), Gold("b.txt", "y", None))
    titles = (("党章",), ("条例",))
    assert M.citation_article([_p("x", "党章", "第十条")], gold, titles) == 1.0
    assert M.citation_article([_p("x", "讲话", "第十条")], gold, titles) == 0.0
    assert M.article_correct(_p("x", "党章", "第十条"), gold, titles) == 1.0
    assert M.article_correct(_p("x", "党章", "第九条"), gold, titles) == 0.0
    assert M.article_correct(None, gold, titles) == 0.0
    assert M.article_correct(_p("x"), gold[1:], titles[1:]) is None


def test_faithfulness_counts_sentences_under_each_marker_group():
    passages = {1: "第四十八条 可以成立党组。党组发挥领导作用。", 2: "党支部每年至少召开1次组织生活会。"}
    # two sentences under [1], one under [2], one unsupported, one citing nothing
    answer = "可以成立党组。党组发挥领导作用。[1]党支部每年至少召开1次组织生活会。[2]月亮是奶酪做的。[1]最后一句。"
    assert M.faithfulness(answer, passages) == pytest.approx(3 / 5)
    assert M.faithfulness("", passages) is None


def test_mean_and_percentile():
    assert M.mean([1.0, None, 0.0]) == 0.5
    assert M.mean([None]) is None
    assert M.percentile([1, 2, 3, 4, 5], 50) == 3
    assert M.percentile([10, 20], 95) == pytest.approx(19.5)
    assert M.percentile([], 50) is None


# --- the question-set validator -----------------------------------------------------------------------------

GOOD = ('{"id": "q1", "question": "入党誓词是什么？", "kind": "lookup", "doc": "regulations/党章.txt", '
        '"article": "第六条", "evidence": "我志愿加入中国共产党"}')


@pytest.mark.parametrize("line, message", [
    ('{"id": "q2", "question": "问", "kind": "lookup"', "不是合法 JSON"),
    ('{"id": "q2", "question": "问", "kind": "lookup", "doc": "a.txt", "article": null}', "缺少字段 evidence"),
    ('{"id": "q2", "question": "问", "kind": "guess", "doc": null, "article": null, "evidence": null}', "kind"),
    ('{"id": "q2", "question": "问", "kind": "refuse", "doc": "a.txt", "article": null, "evidence": "x"}', "refuse"),
    ('{"id": "q2", "question": "问", "kind": "lookup", "doc": null, "article": null, "evidence": null}', "doc"),
    ('{"id": "q2", "question": "问", "kind": "multi", "doc": "a.txt", "article": null, "evidence": "x"}', "doc2"),
    ('{"id": "q2", "question": "", "kind": "lookup", "doc": "a.txt", "article": null, "evidence": "x"}', "question"),
    ('{"id": "q2", "question": "问", "kind": "lookup", "doc": "/abs/a.txt", "article": null, "evidence": "x"}', "相对"),
    ('{"id": "q2", "question": "问", "kind": "lookup", "doc": "a.txt", "article": null, "evidence": "x", "x": 1}',
     "未知字段 x"),
    (GOOD, "重复"),
])
def test_validator_names_line_and_field(line, message):
    with pytest.raises(DatasetError) as exc:
        parse_lines([GOOD, "", line], "set.jsonl")
    assert "set.jsonl 第 3 行" in str(exc.value) and message in str(exc.value)


def test_dev_set_loads_and_round_trips():
    questions = load_questions(DEFAULT_SET)
    assert len(questions) == 215
    assert {q.kind for q in questions} == {"lookup", "paraphrase", "keyword", "article", "speech", "multi", "refuse"}
    assert parse_lines([json.dumps(q.to_json(), ensure_ascii=False) for q in questions]) == questions
    with pytest.raises(DatasetError, match="无法读取"):
        load_questions(Path("no/such/set.jsonl"))


def test_held_out_refusal_set_holds_only_unanswerable_questions():
    questions = load_questions(DEFAULT_SET.with_name("refuse-heldout.jsonl"))
    assert len(questions) == 60 and all(q.kind == "refuse" and not q.answerable for q in questions)
    dev = {q.question for q in load_questions(DEFAULT_SET)}
    assert not {q.question for q in questions} & dev  # written apart from the dev set


# --- reports, cache, comparison -----------------------------------------------------------------------------

def _fixture_run():
    qs = [Question("a", "留党察看最长多久？", "lookup", (Gold("r/党章.txt", "留党察看最长不超过两年", "第四十一条"),)),
          Question("b", "手机号是多少？", "refuse")]
    hits = (_p("无关段落"), _p("第四十一条 留党察看最长不超过两年。", "党章", "第四十一条"))
    recs = {
        ("a", "hybrid"): Record("k1", "a", "hybrid", "kb1", 12.0, hits, (("党章",),)),
        ("b", "hybrid"): Record("k2", "b", "hybrid", "kb1", 8.0, hits[:1]),
        ("a", ANSWER_MODE): Record("k3", "a", ANSWER_MODE, "kb1", 30.0, hits, (("党章",),), False,
                                   "第四十一条 留党察看最长不超过两年。[1]", hits[1:]),
        ("b", ANSWER_MODE): Record("k4", "b", ANSWER_MODE, "kb1", 20.0, hits[:1], (), False, "无关段落。[1]", hits[:1]),
    }
    return qs, recs


def test_summarize_scores_and_lists_misses():
    qs, recs = _fixture_run()
    m = summarize(qs, recs, ["hybrid"], 10)
    hybrid = m["retrieval"]["hybrid"]["overall"]
    assert (hybrid["hit@1"], hybrid["hit@3"], hybrid["mrr@10"], hybrid["article@1"]) == (0.0, 1.0, 0.5, 0.0)
    assert hybrid["latency_p50_ms"] == 10.0
    a = m["answers"]["overall"]
    assert (a["refusal_recall"], a["false_refusal_rate"]) == (0.0, 0.0)
    assert (a["citation_hit"], a["citation_article"]) == (1.0, 1.0)
    assert a["faithfulness"] == 1.0
    assert [x["category"] for x in m["misses"]] == ["漏拒答"]
    assert m["retrieval"]["hybrid"]["by_doc"]["r/党章.txt"]["title"] == "党章"


def test_write_report_regenerate_and_latest(tmp_path):
    qs, recs = _fixture_run()
    out = tmp_path / "reports" / "run1"
    append_records(out / "results.jsonl", recs.values())
    m = write_report(out, qs, recs, {"modes": ["hybrid"], "k": 10, "set": "x"})
    for name in ("report.md", "metrics.json", "hit_at_k.png", "latency.png", "per_doc_hit5.png"):
        assert (out / name).stat().st_size > 0
    assert "漏拒答" in (out / "report.md").read_text(encoding="utf-8")
    (out / "report.md").unlink()
    assert regenerate(out)["retrieval"] == m["retrieval"]
    assert (out / "report.md").exists()
    write_latest(tmp_path / "reports", out)
    assert (tmp_path / "reports" / "LATEST").read_text().strip() == "run1"
    assert latest_report(tmp_path / "reports") == out.resolve()


def test_cache_keys_and_torn_lines(tmp_path):
    q = Question("a", "问题", "lookup", (Gold("d.txt", "证据"),))
    assert record_key(q, "hybrid", "kb1", 10) != record_key(q, "hybrid", "kb2", 10)
    edited = Question("a", "改过的问题", "lookup", q.gold)
    assert record_key(q, "hybrid", "kb1", 10) != record_key(edited, "hybrid", "kb1", 10)
    path = tmp_path / "results.jsonl"
    rec = Record("k", "a", "hybrid", "kb1", 1.0, (_p("证据"),))
    append_records(path, [rec])
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"key": "torn')
    assert load_records(path) == {"k": rec}


def test_cached_results_are_keyed_by_the_code_that_made_them(tmp_path):
    from evals.runner import source_digest

    (tmp_path / "kb").mkdir()
    rule = tmp_path / "kb" / "rule.py"
    rule.write_text("THRESHOLD = 0.58\n", encoding="utf-8")
    before = source_digest([tmp_path / "kb"])
    (tmp_path / "kb" / "notes.md").write_text("not code", encoding="utf-8")
    assert source_digest([tmp_path / "kb"]) == before
    rule.write_text("THRESHOLD = 0.72\n", encoding="utf-8")
    assert source_digest([tmp_path / "kb"]) != before


def test_compare_marks_changes():
    def metrics(hit5, frr, p50):
        overall = {"hit@5": hit5, "latency_p50_ms": p50}
        return {"meta": {"n_questions": 10}, "retrieval": {"hybrid": {"overall": overall}},
                "answers": {"overall": {"false_refusal_rate": frr}}}

    text = compare_markdown(metrics(0.90, 0.10, 100.0), metrics(0.95, 0.05, 100.2), "A", "B")
    assert "| hybrid hit@5 | 0.900 | 0.950 | **▲ +0.050** | 更好 |" in text
    assert "| 回答 误拒率 | 0.100 | 0.050 | **▼ -0.050** | 更好 |" in text
    assert "| hybrid p50 ms | 100 | 100 | = |  |" in text
    assert "更差" in compare_markdown(metrics(0.95, 0.05, 100.0), metrics(0.90, 0.05, 100.0))


# --- the quiz converter -------------------------------------------------------------------------------------

def _doc(text: str, doc_type: str = "regulation", source: str = "/c/regulations/条例.txt"):
    from evals.quizbank import QuizDoc

    return QuizDoc.of("d1", "条例", doc_type, source, text)


def test_quiz_fill_and_locate():
    from evals.quizbank import article_at, confident, fill, locate

    assert fill("“四个自信”指道路自信、理论自信、制度自信、（）自信。", "文化")[0] == "“四个自信”指道路自信、理论自信、制度自信、文化自信。"
    assert fill("（）是最大毒瘤，（）是最彻底的自我革命。", "腐败；反腐败")[0] == "腐败是最大毒瘤，反腐败是最彻底的自我革命。"
    assert fill("两个空（）（）", "只有一个") is None
    assert fill("没有空", "对") is None
    text = "第一章 总则\n第一条 为了规范工作，制定本条例。\n第二条 党员应当 “按期” 交纳党费，党费交纳情况应当公开。\n"
    doc = _doc(text)
    loc = locate(*fill("党员应当按期交纳（），党费交纳情况应当公开。", "党费"), [doc])
    assert loc.evidence == "党员应当 “按期” 交纳党费，党费交纳情况应当公开" and loc.article == "第二条"
    assert confident(loc)
    weak = locate(*fill("交纳（）的人", "党费"), [doc])
    assert not confident(weak)
    assert article_at(text, text.index("为了")) == "第一条"
    assert article_at(text, text.index("总则")) is None


def test_quiz_convert_writes_dev_format(tmp_path):
    from evals.quizbank import convert

    bank = tmp_path / "bank.json"
    bank.write_text(json.dumps([
        {"question": "党员应当按期交纳（），党费交纳情况应当公开。", "answer": "党费"},
        {"question": "月亮是（）做的。", "answer": "奶酪"},
    ], ensure_ascii=False), encoding="utf-8")
    choice = tmp_path / "choice.json"
    choice.write_text(json.dumps([{"type": "choice", "question": "（    ），根据党章制定本条例。", "options": {
        "A": "为了规范党员教育管理工作", "B": "为了好玩"}, "answer": "A"}], ensure_ascii=False), encoding="utf-8")
    doc = _doc("第一条 为了规范党员教育管理工作，根据党章制定本条例。\n第二条 党员应当按期交纳党费，党费交纳情况应当公开。\n")
    result = convert([bank, choice], [doc], Path("/c"))
    assert result.yields == (("bank.json", 1, 2), ("choice.json", 1, 1))
    q = result.questions[0]
    assert (q.kind, q.gold[0].doc, q.gold[0].article) == ("lookup", "regulations/条例.txt", "第二条")
    assert parse_lines([json.dumps(x.to_json(), ensure_ascii=False) for x in result.questions])


# --- the sweeps ---------------------------------------------------------------------------------------------

def test_fitted_policy_maximises_recall_within_false_refusal_ceiling():
    from bot.assess import FEATURES, Evidence
    from evals.tuning import fit_answerability, score_policy

    ans = Question("a", "问", "lookup", (Gold("d", "e"),))
    ref = Question("r", "问", "refuse")

    def ev(dense: float, unmet: str | None = None) -> Evidence:
        return Evidence((dense,) + (0.5,) * (len(FEATURES) - 1), unmet=unmet)

    # Answerable questions score high on the first feature except one; the unanswerable ones low except one.
    rows = [(ans, ev(0.9)), (ans, ev(0.85)), (ans, ev(0.8)), (ans, ev(0.95)), (ans, ev(0.3)),
            (ref, ev(0.2)), (ref, ev(0.25)), (ref, ev(0.1)), (ref, ev(0.88)), (ref, ev(0.5, unmet="没有"))]
    fitted = fit_answerability(rows, max_frr=0.2)
    assert fitted.false_refusal_rate <= 0.2
    assert fitted.refusal_recall == 0.8  # all but the one that looks answerable
    # No threshold with at most 20% false refusals refuses more.
    for t in (i / 100 for i in range(101)):
        s = score_policy(rows, type(fitted.policy)(fitted.policy.weights, fitted.policy.bias, t))
        assert s.false_refusal_rate > 0.2 or s.refusal_recall <= fitted.refusal_recall
    strict = fit_answerability(rows, max_frr=0.0)
    assert strict.false_refusal_rate == 0.0 and strict.refusal_recall <= fitted.refusal_recall
    assert score_policy(rows, fitted.policy).refusal_recall == fitted.refusal_recall


def test_fusion_scoring_keeps_pinned_articles_first():
    from evals.tuning import Rankings, fused_ranking, score_fusion
    from kb.fusion import Candidates, Fusion
    from kb.schema import Chunk

    chunks = {c: Chunk(c, "doc", f"片段{c}", "文档", "speech", "doc.txt") for c in "xgyp"}
    q = Question("a", "问", "lookup", (Gold("d", "e"),))
    plain = Candidates(dense=(("x", 0.9), ("g", 0.8)), lexical=(("g", 5.0), ("y", 4.0)))
    r = Rankings(q, plain, {"g": True}, chunks, {})
    assert fused_ranking(r, Fusion(1.0, 1.0, 10))[0] == "g"
    assert score_fusion([r], Fusion(1.0, 0.0, 10)).mrr == 0.5
    pinned = Rankings(q, Candidates(dense=(("x", 0.9),), lexical=(("x", 5.0),), pinned=("p",)), {"p": True}, chunks, {})
    assert score_fusion([pinned], Fusion(1.0, 0.5, 20)).hit1 == 1.0


# --- on the real corpus -------------------------------------------------------------------------------------

def test_eval_command_writes_report(small_settings, tmp_path):
    from click.testing import CliRunner

    from bot.cli import cli

    out = tmp_path / "tmp"
    result = CliRunner().invoke(cli, ["--kb-dir", str(small_settings.kb_dir), "eval", "run", "--limit", "5",
                                      "--modes", "hybrid", "--report", str(out)])
    assert result.exit_code == 0, result.output
    assert "hybrid" in result.output and "拒答召回" in result.output
    for name in ("report.md", "metrics.json", "hit_at_k.png", "latency.png", "per_doc_hit5.png", "results.jsonl"):
        assert (out / name).exists(), name
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["meta"]["n_questions"] == 5 and set(metrics["retrieval"]) == {"hybrid"}
    again = CliRunner().invoke(cli, ["eval", "report", str(out)])
    assert again.exit_code == 0, again.output
    bad = CliRunner().invoke(cli, ["--kb-dir", str(small_settings.kb_dir), "eval", "run", "--modes", "fuzzy"])
    assert bad.exit_code == 1 and "未知检索模式" in bad.output
    commands = CliRunner().invoke(cli, ["eval", "--help"]).output
    for sub in ("run", "report", "compare", "calibrate", "tune", "convert-quiz", "study"):
        assert f"  {sub} " in commands, sub


def test_fusion_sweep_reproduces_hybrid_search(small_searcher):
    """The sweep re-fuses cached candidate lists; it must rank exactly as Searcher.search does."""
    from evals.tuning import collect_rankings, fused_ranking

    questions = [q for q in load_questions(DEFAULT_SET) if q.kind in ("paraphrase", "article")][:4]
    for r in collect_rankings(small_searcher, questions):
        expected = [h.chunk.chunk_id for h in small_searcher.search(r.question.question, k=10)]
        assert fused_ranking(r, small_searcher.fusion)[:10] == expected, r.question.id


@pytest.mark.corpus
def test_regression_gate_on_fixed_dev_subset(searcher, answerer, tmp_path):
    """The fixed subset in evals/floors.json must stay at or above its floors (raise them, never lower them)."""
    from evals.runner import DocIndex, kb_retrievers, run

    floors = json.loads(FLOORS.read_text(encoding="utf-8"))
    by_id = {q.id: q for q in load_questions(DEFAULT_SET)}
    questions = [by_id[i] for i in floors["ids"]]
    records = run(questions, kb_retrievers(searcher, ["hybrid"]), cache=tmp_path / "results.jsonl",
                  answerer=answerer, doc_index=lambda: DocIndex(searcher.kb.catalog))
    m = summarize(questions, records, ["hybrid"], 10)
    hybrid, answers = m["retrieval"]["hybrid"]["overall"], m["answers"]["overall"]
    misses = [(x["category"], x["id"]) for x in m["misses"]]
    f = floors["floors"]
    assert hybrid["hit@5"] >= f["hybrid_hit@5"], misses
    assert hybrid["mrr@10"] >= f["hybrid_mrr@10"], misses
    assert answers["refusal_recall"] >= f["refusal_recall"], misses
    assert answers["false_refusal_rate"] <= f["false_refusal_rate_max"], misses
    assert answers["citation_hit"] >= f["citation_hit"], misses
    assert answers["citation_article"] >= f["citation_article"], misses
