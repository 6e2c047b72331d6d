"""Report directories: metrics.json, report.md, charts, the LATEST pointer, regeneration from the cache."""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import charts
from .dataset import Question, dump_questions, load_questions
from .records import ANSWER_MODE, Record, load_records
from .render import render_markdown
from .summary import BASELINE_PREFIX, summarize

REPORTS_DIR = Path(__file__).with_name("reports")
LATEST = "LATEST"
RESULTS = "results.jsonl"
QUESTIONS = "questions.jsonl"
RUN = "run.json"
METRICS = "metrics.json"
REPORT = "report.md"
PER_DOC_MODES = ("baseline",)


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` through a temporary file and a rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write_report(out_dir: Path, questions: Sequence[Question], records: Mapping[tuple[str, str], Record],
                 meta: Mapping) -> dict:
    """Write questions.jsonl, run.json, metrics.json, report.md and the PNG charts; return the metrics.

    ``meta`` describes the run (set, modes, k, generation…); it must hold ``modes`` and ``k``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    modes, k = list(meta["modes"]), int(meta["k"])
    metrics = summarize(questions, records, modes, k)
    metrics = {"meta": {key: v for key, v in meta.items() if key != "keys"}, **metrics}
    metrics["meta"]["n_questions"] = len(questions)
    metrics["meta"]["n_answerable"] = sum(1 for q in questions if q.answerable)
    _write_text(out_dir / QUESTIONS, dump_questions(questions))
    _write_text(out_dir / RUN, json.dumps({**meta, "keys": sorted(r.key for r in records.values())},
                                          ensure_ascii=False, indent=1))
    _write_text(out_dir / METRICS, json.dumps(metrics, ensure_ascii=False, indent=1))
    metrics["charts"] = _charts(out_dir, metrics, records)
    _write_text(out_dir / REPORT, render_markdown(metrics, out_dir.name))
    return metrics


def _charts(out_dir: Path, metrics: Mapping, records: Mapping[tuple[str, str], Record]) -> list[str]:
    retrieval = metrics["retrieval"]
    written = []
    if retrieval:
        charts.hit_curves({m: r["curve"] for m, r in retrieval.items()}, out_dir / charts.HITK_PNG)
        # Ours and the plain recipe only: six bars per document would be unreadable.
        per_doc = {m: {d: (v["title"], v["hit@5"], v["n"]) for d, v in r["by_doc"].items()}
                   for m, r in retrieval.items() if m in PER_DOC_MODES or not m.startswith(BASELINE_PREFIX)}
        charts.per_doc_bars(per_doc, out_dir / charts.PER_DOC_PNG)
        written += [charts.HITK_PNG, charts.PER_DOC_PNG]
    latencies: dict[str, list[float]] = {}
    for (_, mode), rec in records.items():
        latencies.setdefault(mode, []).append(rec.latency_ms)
    order = [m for m in retrieval] + ([ANSWER_MODE] if ANSWER_MODE in latencies else [])
    charts.latency_histogram({m: latencies[m] for m in order if m in latencies}, out_dir / charts.LATENCY_PNG)
    return written + [charts.LATENCY_PNG]


def regenerate(out_dir: Path) -> dict:
    """Re-render a report directory from its cached results, computing nothing; raises FileNotFoundError."""
    out_dir = Path(out_dir)
    for name in (RUN, QUESTIONS, RESULTS):
        if not (out_dir / name).exists():
            raise FileNotFoundError(f"{out_dir / name} 不存在：该目录不是完整的评测报告，请先运行 `djkb eval --report {out_dir}`")
    meta = json.loads((out_dir / RUN).read_text(encoding="utf-8"))
    questions = load_questions(out_dir / QUESTIONS)
    cached = load_records(out_dir / RESULTS)
    wanted = set(meta.get("keys", ()))
    records = {(r.qid, r.mode): r for key, r in cached.items() if key in wanted}
    return write_report(out_dir, questions, records, meta)


def write_latest(root: Path, out_dir: Path) -> None:
    """Point ``root/LATEST`` at ``out_dir`` (its name when inside ``root``, else its absolute path)."""
    out_dir = Path(out_dir).resolve()
    root = Path(root).resolve()
    name = out_dir.name if out_dir.parent == root else str(out_dir)
    _write_text(root / LATEST, name + "\n")


def latest_report(root: Path = REPORTS_DIR) -> Path | None:
    """Return the latest report directory: the one LATEST names, else the newest holding metrics.json."""
    root = Path(root)
    pointer = root / LATEST
    if pointer.exists():
        target = Path(pointer.read_text(encoding="utf-8").strip())
        target = target if target.is_absolute() else root / target
        if (target / METRICS).exists():
            return target
    found = [p for p in root.glob("*/") if (p / METRICS).exists()] if root.is_dir() else []
    return max(found, key=lambda p: (p / METRICS).stat().st_mtime, default=None)


def load_metrics(path: Path) -> dict:
    """Return the metrics of a report directory or metrics.json file; raises FileNotFoundError."""
    path = Path(path)
    file = path / METRICS if path.is_dir() else path
    if not file.exists():
        raise FileNotFoundError(f"找不到 {file}：请给出评测报告目录（含 metrics.json）")
    return json.loads(file.read_text(encoding="utf-8"))
