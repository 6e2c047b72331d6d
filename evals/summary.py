"""Scoring every record and aggregating the scores overall, per question kind and per document."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import metrics as M
from .dataset import Question
from .matching import matched_places
from .records import ANSWER_MODE, Record

RETRIEVAL_KEYS = tuple(f"hit@{c}" for c in M.CUTOFFS) + ("mrr@10", "ndcg@10", "article@1")
BASELINE_PREFIX = "baseline"
ANSWER_KEYS = ("citation_hit", "citation_precision", "citation_recall", "citation_article", "faithfulness")


def score_retrieval(q: Question, rec: Record, k: int) -> dict:
    """Return one question's retrieval scores (quality scores only for answerable questions)."""
    out: dict = {"latency_ms": rec.latency_ms}
    if not q.answerable:
        return out
    matched = [matched_places(h.text, q.gold) for h in rec.hits[:k]]
    for c in M.CUTOFFS:
        out[f"hit@{c}"] = M.hit_at(matched, c)
    out["curve"] = [M.hit_at(matched, c) for c in range(1, k + 1)]
    out["mrr@10"] = M.reciprocal_rank(matched, 10)
    out["ndcg@10"] = M.ndcg(matched, len(q.gold), 10)
    out["article@1"] = M.article_correct(rec.hits[0] if rec.hits else None, q.gold, rec.gold_titles)
    out["first_rank"] = M.first_rank(matched, k)
    return out


def score_answer(q: Question, rec: Record) -> dict:
    """Return one question's answer scores."""
    out: dict = {"latency_ms": rec.latency_ms, "refused": bool(rec.refused)}
    if rec.refused:
        return out
    out["faithfulness"] = M.faithfulness(rec.answer or "", {i: c.text for i, c in enumerate(rec.citations, 1)})
    if q.answerable:
        cited = [matched_places(c.text, q.gold) for c in rec.citations]
        out["citation_hit"] = 1.0 if any(cited) else 0.0
        out["citation_precision"] = M.citation_precision(cited)
        out["citation_recall"] = M.citation_recall(cited, len(q.gold))
        out["citation_article"] = M.citation_article(rec.citations, q.gold, rec.gold_titles)
    return out


def _latency(rows: Sequence[dict]) -> dict:
    lat = [r["latency_ms"] for r in rows]
    return {"latency_p50_ms": M.percentile(lat, 50), "latency_p95_ms": M.percentile(lat, 95)}


def _retrieval_group(rows: Sequence[tuple[Question, dict]]) -> dict:
    ans = [s for q, s in rows if q.answerable]
    out = {"n": len(ans), **{key: M.mean(s.get(key) for s in ans) for key in RETRIEVAL_KEYS}}
    out["n_article"] = sum(1 for s in ans if s.get("article@1") is not None)
    return {**out, **_latency([s for _, s in rows])}


def _answer_group(rows: Sequence[tuple[Question, dict]]) -> dict:
    refuse = [s for q, s in rows if not q.answerable]
    ans = [s for q, s in rows if q.answerable]
    out = {
        "n": len(rows), "n_refuse": len(refuse),
        "refusal_recall": M.mean(1.0 if s["refused"] else 0.0 for s in refuse),
        "false_refusal_rate": M.mean(1.0 if s["refused"] else 0.0 for s in ans),
    }
    out.update({key: M.mean(s.get(key) for s in ans if not s["refused"]) for key in ANSWER_KEYS})
    # issue #9's measure: over every answerable question, a refusal counting as a miss
    out["citation_hit_all"] = M.mean(0.0 if s["refused"] else s.get("citation_hit", 0.0) for s in ans)
    out["faithfulness"] = M.mean(s.get("faithfulness") for _, s in rows)
    return {**out, **_latency([s for _, s in rows])}


def _groups(rows: Sequence[tuple[Question, dict]], titles: Mapping[str, str], agg) -> dict:
    by_kind: dict[str, list] = defaultdict(list)
    by_doc: dict[str, list] = defaultdict(list)
    for q, s in rows:
        by_kind[q.kind].append((q, s))
        for doc in q.docs:
            by_doc[doc].append((q, s))
    return {
        "overall": agg(rows),
        "by_kind": {kind: agg(r) for kind, r in sorted(by_kind.items())},
        "by_doc": {doc: {"title": titles.get(doc, Path(doc).stem), **agg(r)} for doc, r in sorted(by_doc.items())},
    }


def doc_titles(questions: Sequence[Question], records: Mapping[tuple[str, str], Record]) -> dict[str, str]:
    """Return a display title for each gold document path (the stored title of the file, else its name)."""
    out: dict[str, str] = {}
    for q in questions:
        rec = next((r for (qid, _), r in records.items() if qid == q.id), None)
        for g, titles in zip(q.gold, rec.gold_titles if rec else ()):
            if titles and g.doc not in out:
                out[g.doc] = titles[0]
    return out


def summarize(questions: Sequence[Question], records: Mapping[tuple[str, str], Record],
              modes: Sequence[str], k: int) -> dict:
    """Return all metrics: per retrieval mode and for answers, overall, by kind and by document, plus misses.

    ``records`` maps (question id, mode) to its record; questions without a record for a mode are skipped there.
    """
    titles = doc_titles(questions, records)
    out: dict = {"retrieval": {}, "answers": None}
    for mode in modes:
        rows = [(q, score_retrieval(q, records[(q.id, mode)], k)) for q in questions if (q.id, mode) in records]
        if not rows:
            continue
        if mode.startswith(BASELINE_PREFIX):
            for _, s in rows:  # the recipe's chunks know no articles: article accuracy does not apply
                s["article@1"] = None
        groups = _groups(rows, titles, _retrieval_group)
        curves = [s["curve"] for q, s in rows if q.answerable]
        groups["curve"] = [M.mean(c[i] for c in curves) for i in range(k)] if curves else []
        out["retrieval"][mode] = groups
    rows = [(q, score_answer(q, records[(q.id, ANSWER_MODE)])) for q in questions if (q.id, ANSWER_MODE) in records]
    if rows:
        out["answers"] = _groups(rows, titles, _answer_group)
    ours = [m for m in modes if not m.startswith(BASELINE_PREFIX)]
    out["misses"] = misses(questions, records, k, "hybrid" if "hybrid" in ours else (ours or ["hybrid"])[0])
    return out


def _top(rec: Record | None, n: int = 3) -> list[dict]:
    if rec is None:
        return []
    return [{"doc_title": h.doc_title, "heading": h.heading, "article": h.article,
             "excerpt": h.text[:90].replace("\n", " ") + ("…" if len(h.text) > 90 else "")} for h in rec.hits[:n]]


def misses(questions: Sequence[Question], records: Mapping[tuple[str, str], Record], k: int,
           mode: str = "hybrid") -> list[dict]:
    """Return every hit@5 miss of ``mode``, wrong refusal and missed refusal, each with its top-3 hits."""
    out = []
    for q in questions:
        hybrid = records.get((q.id, mode))
        answer = records.get((q.id, ANSWER_MODE))
        base = {"id": q.id, "kind": q.kind, "question": q.question,
                "gold": [{"doc": g.doc, "article": g.article, "evidence": g.evidence} for g in q.gold]}
        if q.answerable and hybrid is not None:
            s = score_retrieval(q, hybrid, k)
            if not s["hit@5"]:
                out.append({**base, "category": "检索未命中", "first_rank": s["first_rank"], "top": _top(hybrid)})
        if answer is None:
            continue
        if q.answerable and answer.refused:
            out.append({**base, "category": "误拒答", "top": _top(answer)})
        if not q.answerable and not answer.refused:
            out.append({**base, "category": "漏拒答", "answer": answer.answer, "top": _top(answer)})
    return out
