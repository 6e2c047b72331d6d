"""Entry points behind ``djkb eval``: a full run, calibration, fusion tuning and quiz conversion."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kb.config import Settings
from kb.errors import DjkbError
from kb.retrieve import MODES

from .dataset import DEFAULT_SET, Question, dump_questions, load_questions
from .report import REPORTS_DIR, RESULTS, write_latest, write_report

Progress = Callable[[str, int, int], None]
CALIBRATION_SETS = (DEFAULT_SET, DEFAULT_SET.with_name("cadre-dev.jsonl"))
"""The sets the answerability model is fitted on: the dev halves only, never a test split."""
BASELINE_CACHE = ".baseline-cache"


@dataclass(frozen=True)
class EvalOptions:
    """What ``djkb eval`` runs."""

    set_path: Path = DEFAULT_SET
    modes: tuple[str, ...] = MODES
    k: int = 10
    limit: int | None = None
    answers: bool = True
    baseline: bool = False
    report_dir: Path | None = None
    reports_root: Path = REPORTS_DIR


def parse_modes(text: str) -> tuple[str, ...]:
    """Return the modes of a comma list such as ``hybrid,dense``; raises DjkbError for an unknown mode."""
    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise DjkbError(f"未知检索模式 {', '.join(bad) or '（空）'}（可选：{', '.join(MODES)}）")
    return modes


def select(questions: Sequence[Question], limit: int | None) -> list[Question]:
    """Return the first ``limit`` questions (all when None)."""
    return list(questions[:limit] if limit else questions)


def _open(settings: Settings):
    from bot.answer import Answerer
    from kb.base import KnowledgeBase
    from kb.retrieve import Searcher

    searcher = Searcher(KnowledgeBase.open(settings))
    if not searcher.chunks:
        raise DjkbError(f"知识库 {settings.kb_dir} 为空，请先运行 `djkb ingest PATH`")
    return searcher, Answerer(searcher)


def default_report_dir(root: Path) -> Path:
    """Return ``root/<timestamp>`` for a new report."""
    return Path(root) / dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def run_eval(settings: Settings, options: EvalOptions, progress: Progress | None = None,
             searcher=None, answerer=None, build_progress: Progress | None = None) -> tuple[Path, dict]:
    """Run a question set and write its report; return the report directory and the metrics.

    ``build_progress`` reports the one-time embedding of the baseline's store.

    Raises DatasetError for a bad question set and DjkbError for an empty or unusable knowledge base.
    """
    from .runner import DocIndex, kb_retrievers, run

    questions = select(load_questions(options.set_path), options.limit)
    if searcher is None:
        searcher, answerer = _open(settings)
    out_dir = Path(options.report_dir) if options.report_dir else default_report_dir(options.reports_root)
    retrievers = kb_retrievers(searcher, options.modes)
    modes = list(options.modes)
    if options.baseline:
        from .baseline import Baseline

        baseline = Baseline(settings, Path(options.reports_root) / BASELINE_CACHE, progress=build_progress, k=options.k)
        retrievers += baseline.retrievers()
        modes += [r.mode for r in baseline.retrievers()]
    records = run(questions, retrievers, cache=out_dir / RESULTS, k=options.k,
                  answerer=answerer if options.answers else None,
                  doc_index=lambda: DocIndex(searcher.kb.catalog), progress=progress)
    meta = {"set": str(options.set_path), "kb_dir": str(settings.kb_dir), "generation": searcher.manifest.generation,
            "modes": modes, "k": options.k, "answers": options.answers, "limit": options.limit,
            "created": dt.datetime.now().isoformat(timespec="seconds")}
    metrics = write_report(out_dir, questions, records, meta)
    if Path(out_dir).resolve().parent == Path(options.reports_root).resolve():
        write_latest(options.reports_root, out_dir)
    return out_dir, metrics


def calibrate(settings: Settings, set_paths: Sequence[Path] = CALIBRATION_SETS, limit: int | None = None,
              progress: Progress | None = None, answerer=None):
    """Return the current answerability model's score on the sets and a model fitted on them (tuning.fit_answerability)."""
    from bot.assess import DEFAULT_ANSWERABILITY

    from .tuning import collect_evidence, fit_answerability, score_policy

    questions = [q for path in set_paths for q in select(load_questions(path), limit)]
    if answerer is None:
        _, answerer = _open(settings)
    rows = collect_evidence(answerer, questions, progress)
    return score_policy(rows, DEFAULT_ANSWERABILITY), fit_answerability(rows)


def tune_fusion(settings: Settings, set_path: Path = DEFAULT_SET, limit: int | None = None,
                progress: Progress | None = None, searcher=None):
    """Return every fusion setting's scores on the set's answerable questions and the best one."""
    from .tuning import best_fusion, collect_rankings, sweep_fusion

    questions = select(load_questions(set_path), limit)
    if searcher is None:
        searcher, _ = _open(settings)
    scores = sweep_fusion(collect_rankings(searcher, questions, progress))
    return scores, best_fusion(scores)


def default_banks(settings: Settings) -> list[Path]:
    """Return the quiz banks beside the corpus: ``<corpus>/../questions/*.json``."""
    return sorted((Path(settings.corpus).parent / "questions").glob("*.json"))


def convert_quiz(settings: Settings, banks: Sequence[Path], out: Path, progress: Progress | None = None):
    """Convert quiz banks into a question set written to ``out``; return the Conversion."""
    from kb.catalog import Catalog

    from .quizbank import convert, load_docs

    if not banks:
        raise DjkbError(f"没有找到题库：请用 --quiz-bank 指定，或把 JSON 题库放在 {Path(settings.corpus).parent / 'questions'}")
    docs = load_docs(Catalog(Path(settings.kb_dir)))
    if not docs:
        raise DjkbError(f"知识库 {settings.kb_dir} 为空，请先运行 `djkb ingest PATH`")
    result = convert(banks, docs, Path(settings.corpus), progress)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(dump_questions(result.questions), encoding="utf-8")
    return result
