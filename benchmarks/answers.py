"""Answer benchmark: issue #9's figures on every question set, this commit beside the commit before the #9 work.

    python -m benchmarks.answers [--kb-dir .djkb-test] [--before 5cbcbe5^] [--before-kb .djkb-before]
                                 [--corpus ../shared/corpus] [--sets dev,cadre-test,...]

Both sides run ``djkb eval run --modes hybrid`` of their own code on the same sets, and both are scored here, by this
commit's matching rules, from their per-question results: refusal recall, false refusals, citations holding the
evidence over all answerable questions (refusals as misses), hit@1, hit@5, colloquial hit@5, follow-ups citing the
evidence, and answer latency p50/p95 (timed by each side's eval, in process). The earlier commit is exported with
``git archive`` and run with this virtual environment; its knowledge base (``--before-kb``) is kept current by that
commit's own ingest (the first time the whole corpus, torch embedding then: about 11 minutes on 2 cores). It knew neither the kinds
``colloquial`` and ``followup`` nor a ``history``, so it gets colloquial questions as ``paraphrase`` and a follow-up
without its earlier turn, as a user of that version would have asked it. Figures are printed, not asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

from evals.dataset import Question, load_questions
from evals.matching import matched_places

from .common import percentiles

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "5cbcbe5^"  # the commit before the first #9 commit (one parsed Query, term map, cadre sets)
SETS = ("dev", "cadre-dev", "fresh-dev", "blind3-dev", "blind4-dev",
        "cadre-test", "fresh-test", "blind3-test", "blind4-test", "refuse-heldout")
OLD_KINDS = {"colloquial": "paraphrase", "followup": "paraphrase"}
COLUMNS = ("refusal recall", "false refusals", "cite all", "hit@1", "hit@5", "colloquial hit@5", "follow-ups cite",
           "p50 ms", "p95 ms")


def export(rev: str, into: Path) -> Path:
    """Return a folder holding the files of ``rev`` (``git archive``, no work tree of its own)."""
    data = subprocess.run(["git", "archive", "--format=tar", rev], cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def old_form(src: Path, dst: Path) -> Path:
    """Write ``src`` as the earlier eval reads it: its seven kinds, its fields only."""
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as out:
        for line in f:
            if line.strip():
                row = json.loads(line)
                row["kind"] = OLD_KINDS.get(row["kind"], row["kind"])
                kept = {k: row.get(k) for k in ("id", "question", "kind", "doc", "article", "evidence")}
                kept |= {k: row[k] for k in ("doc2", "article2", "evidence2") if row.get(k) is not None}
                out.write(json.dumps(kept, ensure_ascii=False) + "\n")
    return dst


def djkb(code: Path, kb_dir: Path, *args: str) -> None:
    """Run the ``djkb`` command of the code in ``code`` (its own packages first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(code), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    cmd = [sys.executable, "-c", "import sys; from bot.cli import main; sys.argv[0] = 'djkb'; main()",
           "--kb-dir", str(kb_dir), *args]
    subprocess.run(cmd, cwd=code, env=env, check=True, stdout=subprocess.DEVNULL)


def figures(questions: list[Question], results: Path) -> dict[str, float | None]:
    """Return the COLUMNS of one run, scored from its results.jsonl by this commit's matching."""
    by_id = {q.id: q for q in questions}
    answers, hits = {}, {}
    for line in results.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        (answers if r["mode"] == "answer" else hits)[r["qid"]] = r
    answerable = [q for q in questions if q.answerable]
    refuse = [q for q in questions if not q.answerable]

    def cites(q: Question) -> bool:
        a = answers[q.id]
        return not a["refused"] and any(matched_places(c["text"], q.gold) for c in a["citations"])

    def rank(q: Question) -> int | None:
        return next((i for i, h in enumerate(hits[q.id]["hits"][:10], 1) if matched_places(h["text"], q.gold)), None)

    def share(rows: list[Question], test) -> float | None:
        return sum(map(test, rows)) / len(rows) if rows else None

    colloquial = [q for q in answerable if q.kind == "colloquial"]
    follow = [q for q in answerable if q.kind == "followup"]
    p50, p95 = percentiles([answers[q.id]["latency_ms"] for q in by_id.values()])
    return {"refusal recall": share(refuse, lambda q: answers[q.id]["refused"]),
            "false refusals": share(answerable, lambda q: answers[q.id]["refused"]),
            "cite all": share(answerable, cites),
            "hit@1": share(answerable, lambda q: rank(q) == 1),
            "hit@5": share(answerable, lambda q: (rank(q) or 99) <= 5),
            "colloquial hit@5": share(colloquial, lambda q: (rank(q) or 99) <= 5),
            "follow-ups cite": share(follow, cites), "p50 ms": p50, "p95 ms": p95}


def run_set(code: Path, kb_dir: Path, dataset: Path, report: Path) -> Path:
    """Run one set through the eval of the code in ``code`` (``djkb eval run``, or ``djkb eval`` before evals/cli.py)."""
    command = ["eval", "run"] if (code / "evals" / "cli.py").exists() else ["eval"]
    djkb(code, kb_dir, *command, "--set", str(dataset), "--modes", "hybrid", "--report", str(report))
    return report / "results.jsonl"


def cell(value: float | None, column: str) -> str:
    if value is None:
        return "—"
    return f"{value:.0f}" if column.endswith("ms") else f"{value:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb-dir", type=Path, default=ROOT / ".djkb-test", help="this commit's knowledge base")
    ap.add_argument("--before", default=BEFORE, help="the commit to compare with")
    ap.add_argument("--before-kb", type=Path, default=ROOT / ".djkb-before", help="its knowledge base (built once)")
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--sets", default=",".join(SETS))
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="djkb-answers-") as tmp:
        tmp = Path(tmp)
        old = export(args.before, tmp / "before")
        print(f"{args.before_kb}: {args.before}'s ingest (the whole corpus the first time, then nothing) …", flush=True)
        djkb(old, args.before_kb.resolve(), "ingest", str(args.corpus.resolve()))
        print(f"| set | side | {' | '.join(COLUMNS)} |\n|---|---|{'---|' * len(COLUMNS)}", flush=True)
        for name in args.sets.split(","):
            dataset = ROOT / "evals" / "datasets" / f"{name}.jsonl"
            questions = load_questions(dataset)
            now = figures(questions, run_set(ROOT, args.kb_dir.resolve(), dataset, tmp / f"now-{name}"))
            then = figures(questions, run_set(old, args.before_kb.resolve(), old_form(dataset, tmp / f"{name}.jsonl"),
                                              tmp / f"before-{name}"))
            for side, values in ((args.before, then), ("now", now)):
                print(f"| {name} | {side} | {' | '.join(cell(values[c], c) for c in COLUMNS)} |", flush=True)


if __name__ == "__main__":
    main()
