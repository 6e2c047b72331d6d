"""The ``djkb eval`` commands: run a question set, re-render or compare reports, calibrate, tune, convert, study."""
from __future__ import annotations

from pathlib import Path

import click

from bot.clikit import bar, dump, fail, open_kb, settings_of
from kb.errors import DjkbError


@click.group("eval")
def eval_group() -> None:
    """评测检索、回答与学习材料。Evaluate retrieval, answers and study material."""


@eval_group.command("run")
@click.option("--set", "set_path", type=click.Path(dir_okay=False, path_type=Path),
              help="问题集 JSONL（默认 evals/datasets/dev.jsonl）")
@click.option("--modes", default="hybrid,dense,lexical", show_default=True, help="检索模式，逗号分隔")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              help="报告目录（默认 evals/reports/<时间>）；已有结果按缓存复用")
@click.option("--k", default=10, show_default=True, type=click.IntRange(1, 50))
@click.option("--limit", type=click.IntRange(1), help="只评测前 N 题")
@click.option("--no-answers", is_flag=True, help="不评测回答，只评测检索")
@click.option("--baseline", is_flag=True, help="同时评测 LangChain 基线（首次需嵌入全部语料，约 6–8 分钟）")
@click.pass_context
def run(ctx, set_path, modes, report_dir, k, limit, no_answers, baseline) -> None:
    """评测一个问题集的检索与回答，生成报告。Run a question set and write a report."""
    from evals import render, suite

    try:
        options = suite.EvalOptions(set_path=set_path or suite.DEFAULT_SET, modes=suite.parse_modes(modes), k=k,
                                    limit=limit, answers=not no_answers, baseline=baseline, report_dir=report_dir)
        out_dir, metrics = suite.run_eval(settings_of(ctx), options, progress=bar("评测"),
                                          build_progress=bar("嵌入基线片段"))
    except (DjkbError, FileNotFoundError) as exc:
        fail(exc)
    click.echo(render.summary_tables(metrics))
    click.echo(f"\n未通过 {len(metrics['misses'])} 项；报告：{out_dir / 'report.md'}")


@eval_group.command("report")
@click.argument("report_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
def report(report_dir: Path) -> None:
    """只用报告目录里缓存的结果重新生成报告（不加载模型）。Re-render a report from its cached results."""
    from evals import render
    from evals.report import regenerate

    try:
        metrics = regenerate(report_dir)
    except (DjkbError, FileNotFoundError) as exc:
        fail(exc)
    click.echo(render.summary_tables(metrics))
    click.echo(f"\n报告已重新生成：{report_dir / 'report.md'}")


@eval_group.command("compare")
@click.argument("a", type=click.Path(exists=True, path_type=Path))
@click.argument("b", type=click.Path(exists=True, path_type=Path))
def compare(a: Path, b: Path) -> None:
    """并排对比两次评测（▲/▼）。Compare two reports side by side."""
    from evals import render
    from evals.report import load_metrics

    try:
        click.echo(render.compare_markdown(load_metrics(a), load_metrics(b), a.name, b.name))
    except (DjkbError, FileNotFoundError) as exc:
        fail(exc)


@eval_group.command("calibrate")
@click.option("--set", "set_paths", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="拟合用的问题集（可多次；默认 dev.jsonl + cadre-dev.jsonl）")
@click.option("--limit", type=click.IntRange(1), help="每个集只用前 N 题")
@click.pass_context
def calibrate(ctx, set_paths, limit) -> None:
    """拟合可答性模型并选阈值（误拒 ≤ 0.05）。Fit the answerability model and its threshold."""
    from evals import render, suite

    try:
        current, fitted = suite.calibrate(settings_of(ctx), list(set_paths) or list(suite.CALIBRATION_SETS),
                                          limit, progress=bar("检索"))
    except (DjkbError, FileNotFoundError) as exc:
        fail(exc)
    click.echo(render.policy_table(current, fitted))


@eval_group.command("tune")
@click.option("--set", "set_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="问题集 JSONL（默认 evals/datasets/dev.jsonl）")
@click.option("--limit", type=click.IntRange(1), help="只用前 N 题")
@click.pass_context
def tune(ctx, set_path, limit) -> None:
    """扫描融合参数 Fusion。Sweep the fusion parameters."""
    from evals import render, suite
    from kb.fusion import DEFAULT_FUSION

    try:
        scores, best = suite.tune_fusion(settings_of(ctx), set_path or suite.DEFAULT_SET, limit,
                                         progress=bar("检索"))
    except (DjkbError, FileNotFoundError) as exc:
        fail(exc)
    current = next((s for s in scores if s.fusion == DEFAULT_FUSION), None)
    click.echo(render.fusion_table(scores, best, current.fusion if current else None, limit=30))


@eval_group.command("convert-quiz")
@click.argument("out", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--quiz-bank", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="题库 JSON（可多次；默认语料旁的 questions/*.json）")
@click.pass_context
def convert_quiz(ctx, out, quiz_bank) -> None:
    """把题库转换为问题集（默认写 evals/datasets/quiz.jsonl）。Convert quiz banks into a question set."""
    from evals import suite
    from evals.quizbank import DEFAULT_OUT

    settings = settings_of(ctx)
    out = out or DEFAULT_OUT
    try:
        result = suite.convert_quiz(settings, list(quiz_bank) or suite.default_banks(settings), out,
                                    progress=bar("定位题目"))
    except (DjkbError, FileNotFoundError) as exc:
        fail(exc)
    for bank, kept, total in result.yields:
        click.echo(f"{bank}：保留 {kept}/{total} 题（{kept / max(1, total):.0%}）")
    click.echo(f"已写入 {len(result.questions)} 题：{out}")


@eval_group.command("study")
@click.option("--topics", "topics_path", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="主题集 JSONL（默认 evals/datasets/topics.jsonl）")
@click.option("--half", type=click.Choice(["dev", "test", "all"]), default="all", show_default=True,
              help="dev＝奇数编号（调参用），test＝偶数编号")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@click.pass_context
def study(ctx: click.Context, topics_path: Path | None, half: str, as_json: bool) -> None:
    """评测学习材料：提纲对必备条文的召回率、转载引用数和练习题有效率。Evaluate study materials."""
    from evals import study as study_eval
    from kb.retrieve import Searcher

    try:
        topics = study_eval.load_topics(topics_path or study_eval.DEFAULT_TOPICS)
        results, summary = study_eval.run(Searcher(open_kb(settings_of(ctx))), topics, half=half,
                                          progress=bar("学习材料"))
    except (DjkbError, ValueError) as exc:
        fail(exc)
    if as_json:
        click.echo(dump({"summary": summary, "topics": [r.to_dict() for r in results]}))
        return
    for r in results:
        click.echo(f"{r.id} {r.topic}：召回 {r.covered}/{r.must}，要点 {r.points}，有效题 {r.valid}/{r.items}"
                   + (f"，缺：{'、'.join(r.missed)}" if r.missed else ""))
    for name, s in summary.items():
        click.echo(f"[{name}] 主题 {s['topics']}，召回率 {s['recall']:.3f}，转载引用 {s['reprint_points']}，"
                   f"有效题 {s['valid_share']:.3f}（{s['items']} 道），未说明的缺题 {s['unexplained_shortfalls']}")
