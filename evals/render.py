"""Markdown for metrics: the report page, the compact terminal table and the side-by-side comparison."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from .matching import MIN_COVER, MIN_RUN
from .summary import BASELINE_PREFIX

RETRIEVAL_COLS = (("hit@1", "hit@1"), ("hit@3", "hit@3"), ("hit@5", "hit@5"), ("hit@10", "hit@10"),
                  ("mrr@10", "MRR@10"), ("ndcg@10", "nDCG@10"), ("article@1", "条款@1"),
                  ("latency_p50_ms", "p50 ms"), ("latency_p95_ms", "p95 ms"))
ANSWER_COLS = (("refusal_recall", "拒答召回"), ("false_refusal_rate", "误拒率"), ("citation_hit", "引用含证据"),
               ("citation_hit_all", "引用含证据（拒答计为未中）"),
               ("citation_precision", "引用精确率"), ("citation_recall", "引用召回率"),
               ("citation_article", "条款引用正确"), ("faithfulness", "忠实度"),
               ("latency_p50_ms", "p50 ms"), ("latency_p95_ms", "p95 ms"))
# Metrics where a smaller number is better; everything else improves upwards.
LOWER_IS_BETTER = frozenset({"false_refusal_rate", "latency_p50_ms", "latency_p95_ms"})


def fmt(value, key: str = "") -> str:
    """Return a metric value for a table: 3 decimals, milliseconds as integers, ``–`` for missing."""
    if value is None:
        return "–"
    if key.endswith("_ms"):
        return f"{value:.0f}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Return a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _retrieval_rows(retrieval: Mapping) -> list[list[str]]:
    return [[mode, str(r["overall"]["n"])] + [fmt(r["overall"].get(k), k) for k, _ in RETRIEVAL_COLS]
            for mode, r in retrieval.items()]


def _answer_row(a: Mapping) -> list[str]:
    return [str(a["n"])] + [fmt(a.get(k), k) for k, _ in ANSWER_COLS]


def summary_tables(metrics: Mapping) -> str:
    """Return the compact overall tables printed by ``djkb eval``."""
    parts = []
    if metrics["retrieval"]:
        parts.append(table(["模式", "n"] + [t for _, t in RETRIEVAL_COLS], _retrieval_rows(metrics["retrieval"])))
    if metrics.get("answers"):
        parts.append(table(["回答 n"] + [t for _, t in ANSWER_COLS], [_answer_row(metrics["answers"]["overall"])]))
    return "\n\n".join(parts)


def _baseline_section(retrieval: Mapping) -> str:
    baselines = [m for m in retrieval if m.startswith(BASELINE_PREFIX)]
    ours = [m for m in retrieval if not m.startswith(BASELINE_PREFIX)]
    if not baselines or not ours:
        return ""
    rows = [[m, *(fmt(retrieval[m]["overall"].get(k)) for k in ("hit@1", "hit@5", "mrr@10"))]
            for m in ours + baselines]
    return ("## 与 LangChain 基线对比\n\n" + table(["系统", "hit@1", "hit@5", "MRR@10"], rows) + "\n\n"
            "基线为通行的 LangChain 做法：RecursiveCharacterTextSplitter(500, 50) 切块、同一嵌入模型、Chroma 向量检索，"
            "与 BM25 等权 EnsembleRetriever 融合。`baseline` 的 BM25 用默认的空格切词（str.split，对中文几乎无效，"
            "即人们实际照抄的配方）；`baseline-jieba` 改用 jieba 切词以示公平；`baseline-vector` 只用向量检索。\n")


def _by_kind(metrics: Mapping) -> str:
    out = ["## 按问题类型\n"]
    for mode, r in metrics["retrieval"].items():
        rows = [[kind, str(v["n"]), *(fmt(v.get(k), k) for k in ("hit@1", "hit@5", "mrr@10", "article@1",
                                                                 "latency_p50_ms", "latency_p95_ms"))]
                for kind, v in r["by_kind"].items()]
        out.append(f"### 检索：{mode}\n\n" + table(["类型", "n", "hit@1", "hit@5", "MRR@10", "条款@1", "p50 ms",
                                                  "p95 ms"], rows) + "\n")
    if metrics.get("answers"):
        rows = [[kind] + _answer_row(v) for kind, v in metrics["answers"]["by_kind"].items()]
        out.append("### 回答\n\n" + table(["类型", "n"] + [t for _, t in ANSWER_COLS], rows) + "\n")
    return "\n".join(out)


def _by_doc(metrics: Mapping) -> str:
    retrieval = metrics["retrieval"]
    answers = (metrics.get("answers") or {}).get("by_doc", {})
    docs = sorted({d for r in retrieval.values() for d in r["by_doc"]} | set(answers))
    modes = [m for m in retrieval if not m.startswith(BASELINE_PREFIX)]
    rows = []
    for d in docs:
        title = next((r["by_doc"][d]["title"] for r in retrieval.values() if d in r["by_doc"]),
                     answers.get(d, {}).get("title", d))
        n = next((r["by_doc"][d]["n"] for r in retrieval.values() if d in r["by_doc"]), "–")
        row = [title, str(n)]
        row += [fmt(retrieval[m]["by_doc"].get(d, {}).get("hit@5")) for m in modes]
        row += [fmt(retrieval[m]["by_doc"].get(d, {}).get("mrr@10")) for m in modes[:1]]
        row += [fmt(answers.get(d, {}).get(k)) for k in ("citation_hit", "citation_article", "false_refusal_rate")]
        row += [fmt(retrieval[m]["by_doc"].get(d, {}).get("latency_p50_ms"), "_ms") for m in modes[:1]]
        rows.append(row)
    header = (["文档", "n"] + [f"{m} hit@5" for m in modes] + [f"{m} MRR@10" for m in modes[:1]]
              + ["引用含证据", "条款引用正确", "误拒率"] + [f"{m} p50 ms" for m in modes[:1]])
    return "## 按文档\n\n" + table(header, rows) + "\n"


def _top_cell(top: Sequence[Mapping]) -> str:
    return "<br>".join(f"{i}. 《{t['doc_title']}》 {t['heading']}：{t['excerpt']}" for i, t in enumerate(top, 1))


def _misses(misses: Sequence[Mapping]) -> str:
    if not misses:
        return "## 未通过的问题\n\n没有：全部 hybrid hit@5 命中，拒答全部正确。\n"
    rows = []
    for m in misses:
        gold = "<br>".join(f"{g['doc'].split('/')[-1]} {g['article'] or ''}：{g['evidence']}" for g in m["gold"])
        note = m["category"]
        if m.get("first_rank"):
            note += f"（第 {m['first_rank']} 位才命中）"
        if m.get("answer"):
            note += f"<br>答：{m['answer'][:80]}"
        rows.append([note, m["id"], m["kind"], m["question"], gold or "–", _top_cell(m["top"])])
    counts = {}
    for m in misses:
        counts[m["category"]] = counts.get(m["category"], 0) + 1
    head = "，".join(f"{c} {n} 题" for c, n in counts.items())
    return (f"## 未通过的问题（{head}）\n\n"
            + table(["类别", "id", "类型", "问题", "标准证据", "前 3 条命中"], rows) + "\n")


def render_markdown(metrics: Mapping, name: str) -> str:
    """Return report.md for ``metrics`` (as written by report.write_report)."""
    meta = metrics["meta"]
    lines = [f"# 评测报告 {name}\n",
             f"- 问题集：`{meta.get('set')}`，{meta['n_questions']} 题（可回答 {meta['n_answerable']} 题）",
             f"- 知识库：`{meta.get('kb_dir')}`，generation {meta.get('generation')}；k = {meta.get('k')}",
             f"- 时间：{meta.get('created')}\n"]
    if metrics["retrieval"]:
        lines.append("## 检索（可回答问题；延迟含全部问题）\n\n"
                     + table(["模式", "n"] + [t for _, t in RETRIEVAL_COLS], _retrieval_rows(metrics["retrieval"])))
        lines.append("\n![hit@k](hit_at_k.png)\n")
    lines.append(_baseline_section(metrics["retrieval"]))
    if metrics.get("answers"):
        lines.append("## 回答（Answerer.ask，抽取式）\n\n"
                     + table(["n"] + [t for _, t in ANSWER_COLS], [_answer_row(metrics["answers"]["overall"])]))
    lines.append("\n![延迟](latency.png)\n")
    lines.append(_by_kind(metrics))
    if metrics["retrieval"]:
        lines.append(_by_doc(metrics))
        lines.append("![各文档 hit@5](per_doc_hit5.png)\n")
    lines.append(_misses(metrics.get("misses", ())))
    lines.append(f"---\n命中规则：片段规范化文本（NFKC、去空白）包含证据，或与证据的最长公共子串 ≥ 证据长度的 "
                 f"{MIN_COVER:.0%} 且 ≥ {MIN_RUN} 字（证据被切块边界截断时）。规则不看文档：语料中的讲话和学习材料常"
                 "全文转载法规。详见 evals/README.md。\n")
    return "\n".join(x for x in lines if x)


def _delta(key: str, a, b) -> tuple[str, str]:
    if a is None or b is None:
        return "", ""
    d = b - a
    tol = 0.5 if key.endswith("_ms") else 1e-9
    if abs(d) <= tol:
        return "=", ""
    better = (d < 0) if key in LOWER_IS_BETTER else (d > 0)
    arrow = "▲" if d > 0 else "▼"
    return f"**{arrow} {d:+.0f}**" if key.endswith("_ms") else f"**{arrow} {d:+.3f}**", ("更好" if better else "更差")


def compare_markdown(a: Mapping, b: Mapping, name_a: str = "A", name_b: str = "B") -> str:
    """Return a Markdown table of two runs' overall metrics side by side, changes marked ▲/▼ in bold."""
    rows = []
    for mode in list(dict.fromkeys(list(a["retrieval"]) + list(b["retrieval"]))):
        ra = a["retrieval"].get(mode, {}).get("overall", {})
        rb = b["retrieval"].get(mode, {}).get("overall", {})
        for key, title in RETRIEVAL_COLS:
            d, verdict = _delta(key, ra.get(key), rb.get(key))
            rows.append([f"{mode} {title}", fmt(ra.get(key), key), fmt(rb.get(key), key), d, verdict])
    aa = (a.get("answers") or {}).get("overall", {})
    ab = (b.get("answers") or {}).get("overall", {})
    if aa or ab:
        for key, title in ANSWER_COLS:
            d, verdict = _delta(key, aa.get(key), ab.get(key))
            rows.append([f"回答 {title}", fmt(aa.get(key), key), fmt(ab.get(key), key), d, verdict])
    head = f"# 评测对比：{name_a} → {name_b}\n\n"
    na, nb = a.get("meta", {}).get("n_questions"), b.get("meta", {}).get("n_questions")
    if na != nb:
        head += f"注意：两次评测的问题数不同（{na} 与 {nb}），数字不完全可比。\n\n"
    return head + table(["指标", name_a, name_b, "变化", "评价"], rows) + "\n"


def _policy(p) -> str:
    return f"Answerability(weights={p.weights}, bias={p.bias}, threshold={p.threshold})"


def policy_table(current, fitted) -> str:
    """Return the current and the fitted answerability models with their refusal recall and false refusals."""
    rows = [[name, _policy(s.policy), fmt(s.refusal_recall), fmt(s.false_refusal_rate)]
            for name, s in (("当前默认", current), ("拟合（误拒率 ≤ 0.05 时拒答召回最高）", fitted))]
    return table(["模型", "参数", "拒答召回", "误拒率"], rows)


def fusion_table(scores: Sequence, best, current=None, limit: int | None = None) -> str:
    """Return the fusion sweep as a Markdown table sorted best first (the first ``limit`` rows and the default)."""
    ranked = sorted(scores, key=lambda s: (-s.hit5, -s.mrr, -s.hit1))
    rows = []
    for s in ranked:
        f = s.fusion
        mark = " ◀ 最佳" if s is best else ""
        if current is not None and f == current:
            mark += " （当前默认）"
        rows.append([f"{f.dense_weight:g}", f"{f.lexical_weight:g}", f"{f.grams_weight:g}", str(f.k),
                     f"{f.regulation_boost:g}",
                     fmt(s.hit1), fmt(s.hit5), fmt(s.mrr) + mark])
    if limit:
        rows = rows[:limit] + [r for r in rows[limit:] if "当前默认" in r[-1]]
    return ("融合参数扫描（可回答问题；dense/lexical/字二元组各检索一次，50 个候选；按 hit@5、MRR@10 排序）\n\n"
            + table(["dense_weight", "lexical_weight", "grams_weight", "k", "regulation_boost", "hit@1", "hit@5",
                     "MRR@10"], rows)
            + f"\n\n最佳：{best.fusion}：hit@1 {best.hit1:.3f}，hit@5 {best.hit5:.3f}，MRR@10 {best.mrr:.3f}")
