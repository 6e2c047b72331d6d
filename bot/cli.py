"""The ``djkb`` command line: ingest, docs, remove, reindex, search, ask, serve, eval."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from kb.config import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_TOP_K, Settings, load_settings
from kb.errors import DjkbError
from kb.schema import DOC_TYPES


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj


def _fail(exc: Exception) -> None:
    raise click.ClickException(str(exc)) from exc


def _bar(label: str):
    """Return a progress callback drawing a tqdm bar on stderr."""
    from tqdm import tqdm

    state: dict = {}

    def update(name: str, i: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(total=total, desc=label, unit="件", file=sys.stderr, dynamic_ncols=True)
        bar.set_postfix_str(name[:30], refresh=False)
        bar.update(i - bar.n)
        if i == total:
            bar.close()

    return update


def _open_kb(settings: Settings, check_model: bool = True):
    from kb.base import KnowledgeBase

    try:
        return KnowledgeBase.open(settings, check_model=check_model)
    except DjkbError as exc:
        _fail(exc)


def _jsonl(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8-sig") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise click.BadParameter(f"{path} 第 {n} 行不是合法 JSON：{exc}") from exc
                if not isinstance(row, dict) or not str(row.get("question", "")).strip():
                    raise click.BadParameter(f"{path} 第 {n} 行缺少 question 字段")
                rows.append(row)
    return rows


def _dump(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


@click.group()
@click.option("--kb-dir", type=click.Path(file_okay=False, path_type=Path), help="知识库目录（默认 .djkb 或 DJKB_HOME）")
@click.option("--chroma-url", help="Chroma 服务地址，如 http://127.0.0.1:8000（或 DJKB_CHROMA_URL）")
@click.option("--model", "embed_model", help="嵌入模型名称或路径（或 DJKB_EMBED_MODEL）")
@click.version_option(package_name="dangjian-kb")
@click.pass_context
def cli(ctx: click.Context, kb_dir: Path | None, chroma_url: str | None, embed_model: str | None) -> None:
    """djkb 党建知识库：离线检索与问答。Offline knowledge base for Chinese party-building texts."""
    ctx.obj = load_settings(kb_dir=kb_dir, chroma_url=chroma_url, embed_model=embed_model)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--if-empty", is_flag=True, help="仅当知识库为空时才导入（make run 使用）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果")
@click.pass_context
def ingest(ctx: click.Context, paths: tuple[Path, ...], if_empty: bool, as_json: bool) -> None:
    """导入文件或文件夹（.txt .md .html .docx .pdf）。Ingest files and folders."""
    from ingest.pipeline import ingest as run_ingest

    settings = _settings(ctx)
    kb = _open_kb(settings)
    if if_empty and kb.catalog.load().documents:
        click.echo(f"知识库 {settings.kb_dir} 已有文档，跳过导入。", err=True)
        return
    try:
        report = run_ingest(kb, list(paths), progress=_bar("导入"), max_bytes=settings.max_upload_mb * 2**20)
    except DjkbError as exc:
        _fail(exc)
    if as_json:
        click.echo(_dump(report.to_dict()))
    else:
        click.echo(f"新增 {len(report.added)} 篇，更新 {len(report.updated)} 篇，未变 {len(report.unchanged)} 篇，"
                   f"重复 {len(report.duplicates)} 篇，失败 {len(report.failures)} 篇；新增片段 {report.chunks_added} 个；"
                   f"用时 {report.seconds:.1f} 秒（嵌入 {report.embed_seconds:.1f} 秒）")
        if report.recovered:
            click.echo(f"已修复上次中断留下的 {report.recovered} 处不一致。")
        for path, same in report.duplicates:
            click.echo(f"  重复：{path} 与 {same} 内容相同，只保存一份")
        for path, reason in report.failures:
            click.echo(f"  失败：{path}：{reason}", err=True)
    if report.failures and not (report.added or report.updated or report.unchanged or report.duplicates):
        sys.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def docs(ctx: click.Context, as_json: bool) -> None:
    """列出知识库中的文档：版本、状态、类型、片段数、条数、完整性检查。List documents."""
    from bot.service import document_rows
    from kb.catalog import Catalog
    from kb.status import load_overrides, resolve

    settings = _settings(ctx)
    manifest = Catalog(settings.kb_dir).load()
    rows = document_rows(manifest, resolve(manifest, load_overrides(settings.kb_dir)), full_paths=True)
    if as_json:
        click.echo(_dump(rows))
        return
    if not rows:
        click.echo("知识库为空。运行 `djkb ingest PATH` 导入文档。")
    for r in rows:
        state = f"  [{r['status']}]" if r.get("status") else ""
        click.echo(f"{r['doc_id']}  {r['doc_type']:<10} 片段 {r['chunks']:>4}  条 {r['articles']:>4}  "
                   f"{r['audit']:<6}  {r['cited_as']}{state}")


@cli.command()
@click.argument("doc")
@click.option("--set", "new_status", type=click.Choice(["现行有效", "已被修订", "已废止", "未知"]),
              help="设定文档状态（管理员）")
@click.option("--clear", is_flag=True, help="清除设定，恢复自动判断")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, doc: str, new_status: str | None, clear: bool, as_json: bool) -> None:
    """查看或设定文档的版本状态（按文档 ID 或标题）。Show or override a document's edition status."""
    from bot.editions import set_status, status_of

    settings = _settings(ctx)
    try:
        message = set_status(settings.kb_dir, doc, None if clear else new_status) if (new_status or clear) else None
        row = status_of(settings.kb_dir, doc)
    except DjkbError as exc:
        _fail(exc)
    if as_json:
        click.echo(_dump(row))
        return
    if message:
        click.echo(message)
    click.echo(f"{row['cited_as']}  {row['status']}（依据：{row['status_basis']}；{row['evidence'] or '无'}）")
    for key, label in (("supersedes", "取代"), ("superseded_by", "被取代")):
        if row[key]:
            click.echo(f"  {label}：" + "、".join(x["edition"] + (f"（{x['doc_id']}）" if x["doc_id"] else "")
                                             for x in row[key]))


@cli.command()
@click.argument("targets", nargs=-1, required=True)
@click.pass_context
def remove(ctx: click.Context, targets: tuple[str, ...]) -> None:
    """删除文档（按路径或文档 ID）。Remove documents by path or id."""
    from ingest.pipeline import remove as run_remove

    kb = _open_kb(_settings(ctx))
    for target in targets:
        try:
            entry = run_remove(kb, target)
        except DjkbError as exc:
            _fail(exc)
        click.echo(f"已删除：{entry.title}（{len(entry.chunk_ids)} 个片段）")


@cli.command()
@click.pass_context
def reindex(ctx: click.Context) -> None:
    """用当前嵌入模型重新嵌入全部片段。Re-embed every chunk with the current model."""
    from ingest.pipeline import reindex as run_reindex

    kb = _open_kb(_settings(ctx), check_model=False)
    try:
        n = run_reindex(kb, progress=_bar("重新嵌入"))
    except DjkbError as exc:
        _fail(exc)
    click.echo(f"已用 {kb.embedder.name} 重新嵌入 {n} 个片段。")


def _filters(doc_type: tuple[str, ...], doc: tuple[str, ...], date_from: str | None, date_to: str | None,
             all_editions: bool = False):
    from kb.retrieve import Filters

    return Filters(doc_types=doc_type, doc_ids=doc, date_from=date_from, date_to=date_to, in_force=not all_editions)


_ALL_EDITIONS = click.option("--all-editions", is_flag=True, help="也检索已被修订、已废止的版本（默认只检索现行有效版本）")


@cli.command()
@click.argument("query", required=False)
@click.option("--top-k", "-k", default=DEFAULT_TOP_K, show_default=True, type=click.IntRange(1, 100))
@click.option("--mode", type=click.Choice(["hybrid", "dense", "lexical"]), default="hybrid", show_default=True)
@click.option("--doc-type", multiple=True, type=click.Choice(DOC_TYPES), help="按文档类型过滤（可多次）")
@click.option("--doc", multiple=True, help="按文档 ID 过滤（可多次）")
@click.option("--date-from", help="起始日期 YYYY-MM-DD")
@click.option("--date-to", help="截止日期 YYYY-MM-DD")
@click.option("--batch", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="JSONL 问题文件")
@click.option("--json", "as_json", is_flag=True)
@_ALL_EDITIONS
@click.pass_context
def search(ctx, query, top_k, mode, doc_type, doc, date_from, date_to, batch, as_json, all_editions) -> None:
    """检索相关段落。Search the knowledge base."""
    from kb.retrieve import Searcher

    if not query and not batch:
        raise click.UsageError("请给出查询文本，或用 --batch 指定问题文件")
    filters = _filters(doc_type, doc, date_from, date_to, all_editions)
    questions = _jsonl(batch) if batch else [{"id": None, "question": query}]
    searcher = Searcher(_open_kb(_settings(ctx)))
    for q in questions:
        try:
            hits = searcher.search(str(q["question"]), k=top_k, mode=mode, filters=filters)
        except DjkbError as exc:
            _fail(exc)
        if batch:
            click.echo(_dump({"id": q.get("id"), "hits": [h.to_dict() for h in hits]}))
        elif as_json:
            click.echo(_dump([h.to_dict() for h in hits]))
        else:
            if not hits:
                click.echo("没有找到相关段落。")
            for h in hits:
                c = h.chunk
                click.echo(f"[{h.rank}] {h.score:.4f} {c.cited_as} {c.heading}")
                click.echo("    " + c.text[:200].replace("\n", " ") + ("…" if len(c.text) > 200 else ""))


def _answer_json(answer, qid=None) -> dict:
    d = answer.to_dict()
    if qid is not None:
        d = {"id": qid, **d}
    if answer.refused:
        d["related"] = [h.to_dict() for h in answer.related]
    return d


@cli.command()
@click.argument("question", required=False)
@click.option("--batch", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="JSONL 问题文件")
@click.option("--doc-type", multiple=True, type=click.Choice(DOC_TYPES))
@click.option("--doc", multiple=True, help="按文档 ID 过滤（可多次）")
@click.option("--json", "as_json", is_flag=True)
@_ALL_EDITIONS
@click.pass_context
def ask(ctx, question, batch, doc_type, doc, as_json, all_editions) -> None:
    """提问并给出带出处的回答。Answer a question with verified citations."""
    from bot.answer import Answerer
    from bot.llm import ChatClient
    from kb.retrieve import Searcher

    if not question and not batch:
        raise click.UsageError("请给出问题，或用 --batch 指定问题文件")
    settings = _settings(ctx)
    answerer = Answerer(Searcher(_open_kb(settings)), llm=ChatClient.from_settings(settings))
    filters = _filters(doc_type, doc, None, None, all_editions)
    questions = _jsonl(batch) if batch else [{"id": None, "question": question}]
    for q in questions:
        try:
            answer = answerer.ask(str(q["question"]), filters=filters)
        except DjkbError as exc:
            _fail(exc)
        if batch or as_json:
            click.echo(_dump(_answer_json(answer, q.get("id") if batch else None)))
            continue
        if answer.rewritten_query and answer.rewritten_query != answer.query:
            click.echo(f"（理解为：{answer.rewritten_query}）")
        click.echo(answer.answer)
        for n in answer.notices:
            click.echo(f"\n{n.text}")
        for c in answer.citations:
            ch = c.chunk
            click.echo(f"\n[{c.n}] {ch.cited_as} {ch.heading}\n    {ch.text}")
        for h in answer.related:
            if answer.refused:
                click.echo(f"\n可能相关：《{h.chunk.doc_title}》 {h.chunk.heading}\n    {h.chunk.text[:160]}")


@cli.command()
@click.argument("old")
@click.argument("new")
@click.option("--json", "as_json", is_flag=True)
@click.option("--docx", "docx_path", type=click.Path(dir_okay=False, path_type=Path), help="导出 Word 对照表")
@click.option("--all", "show_all", is_flag=True, help="也列出未变的条文")
@click.pass_context
def compare(ctx, old: str, new: str, as_json: bool, docx_path: Path | None, show_all: bool) -> None:
    """逐条对照两个版本（按内容对齐）：新增、删除、修改、未变。Compare two editions article by article."""
    from bot.compare import compare_editions, to_docx, to_text

    try:
        result = compare_editions(_settings(ctx).kb_dir, old, new)
    except DjkbError as exc:
        _fail(exc)
    if docx_path:
        to_docx(result, docx_path)
    click.echo(_dump(result.to_dict()) if as_json else to_text(result, show_all))
    if docx_path and not as_json:
        click.echo(f"已导出：{docx_path}")


@cli.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.pass_context
def serve(ctx, host: str, port: int) -> None:
    """启动网页应用（问答、学习材料、知识库、评测）。Start the Gradio web app."""
    from bot.app import launch

    launch(_settings(ctx), host=host, port=port)


@cli.command("eval")
@click.option("--set", "set_path", type=click.Path(dir_okay=False, path_type=Path),
              help="问题集 JSONL（默认 evals/datasets/dev.jsonl）")
@click.option("--modes", default="hybrid,dense,lexical", show_default=True, help="检索模式，逗号分隔")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              help="报告目录（默认 evals/reports/<时间>）；已有结果按缓存复用")
@click.option("--k", default=10, show_default=True, type=click.IntRange(1, 50))
@click.option("--limit", type=click.IntRange(1), help="只评测前 N 题")
@click.option("--no-answers", is_flag=True, help="不评测回答，只评测检索")
@click.option("--baseline", is_flag=True, help="同时评测 LangChain 基线（首次需嵌入全部语料，约 6–8 分钟）")
@click.option("--regenerate", is_flag=True, help="只用 --report 目录的缓存结果重新生成报告")
@click.option("--compare", nargs=2, type=click.Path(exists=True, path_type=Path), help="对比两次评测：A B")
@click.option("--calibrate", is_flag=True, help="扫描拒答阈值 RefusalPolicy")
@click.option("--tune-fusion", is_flag=True, help="扫描融合参数 Fusion")
@click.option("--convert-quiz", "quiz_out", is_flag=False, flag_value=":default:",
              help="把题库转换为问题集，写入给定文件（不给文件名时写 evals/datasets/quiz.jsonl）")
@click.option("--quiz-bank", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="题库 JSON（可多次；默认语料旁的 questions/*.json）")
@click.pass_context
def eval_(ctx, set_path, modes, report_dir, k, limit, no_answers, baseline, regenerate, compare, calibrate,
          tune_fusion, quiz_out, quiz_bank) -> None:
    """评测检索与回答，生成报告；也可对比、校准拒答、调融合参数、转换题库。Evaluate retrieval and answers."""
    from evals import render, suite
    from evals.report import load_metrics, regenerate as rerender

    settings = _settings(ctx)
    try:
        if compare:
            a, b = (load_metrics(p) for p in compare)
            click.echo(render.compare_markdown(a, b, compare[0].name, compare[1].name))
            return
        if regenerate:
            if not report_dir:
                raise click.UsageError("--regenerate 需要 --report 目录")
            metrics = rerender(report_dir)
            click.echo(render.summary_tables(metrics))
            click.echo(f"\n报告已重新生成：{report_dir / 'report.md'}")
            return
        if quiz_out:
            from evals.quizbank import DEFAULT_OUT

            quiz_out = DEFAULT_OUT if quiz_out == ":default:" else Path(quiz_out)
            result = suite.convert_quiz(settings, list(quiz_bank) or suite.default_banks(settings), quiz_out,
                                        progress=_bar("定位题目"))
            for bank, kept, total in result.yields:
                click.echo(f"{bank}：保留 {kept}/{total} 题（{kept / max(1, total):.0%}）")
            click.echo(f"已写入 {len(result.questions)} 题：{quiz_out}")
            return
        set_path = set_path or suite.DEFAULT_SET
        if calibrate:
            current, fitted = suite.calibrate(settings, [set_path], limit, progress=_bar("检索"))
            click.echo(render.policy_table(current, fitted))
            return
        if tune_fusion:
            from kb.retrieve import DEFAULT_FUSION

            scores, best = suite.tune_fusion(settings, set_path, limit, progress=_bar("检索"))
            current = next((s for s in scores if s.fusion == DEFAULT_FUSION), None)
            click.echo(render.fusion_table(scores, best, current.fusion if current else None, limit=30))
            return
        options = suite.EvalOptions(set_path=set_path, modes=suite.parse_modes(modes), k=k, limit=limit,
                                    answers=not no_answers, baseline=baseline, report_dir=report_dir)
        out_dir, metrics = suite.run_eval(settings, options, progress=_bar("评测"),
                                          build_progress=_bar("嵌入基线片段"))
    except (DjkbError, FileNotFoundError) as exc:
        _fail(exc)
    click.echo(render.summary_tables(metrics))
    click.echo(f"\n未通过 {len(metrics['misses'])} 项；报告：{out_dir / 'report.md'}")


@cli.command("eval-study")
@click.option("--topics", "topics_path", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="主题集 JSONL（默认 evals/datasets/topics.jsonl）")
@click.option("--half", type=click.Choice(["dev", "test", "all"]), default="all", show_default=True,
              help="dev＝奇数编号（调参用），test＝偶数编号")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@click.pass_context
def eval_study(ctx: click.Context, topics_path: Path | None, half: str, as_json: bool) -> None:
    """评测学习材料：提纲对必备条文的召回率、转载引用数和练习题有效率。Evaluate study materials."""
    from evals import study

    settings = _settings(ctx)
    try:
        topics = study.load_topics(topics_path or study.DEFAULT_TOPICS)
        from kb.retrieve import Searcher

        results, summary = study.run(Searcher(_open_kb(settings)), topics, half=half, progress=_bar("学习材料"))
    except (DjkbError, ValueError) as exc:
        _fail(exc)
    if as_json:
        click.echo(_dump({"summary": summary, "topics": [r.to_dict() for r in results]}))
        return
    for r in results:
        click.echo(f"{r.id} {r.topic}：召回 {r.covered}/{r.must}，要点 {r.points}，有效题 {r.valid}/{r.items}"
                   + (f"，缺：{'、'.join(r.missed)}" if r.missed else ""))
    for name, s in summary.items():
        click.echo(f"[{name}] 主题 {s['topics']}，召回率 {s['recall']:.3f}，转载引用 {s['reprint_points']}，"
                   f"有效题 {s['valid_share']:.3f}（{s['items']} 道），未说明的缺题 {s['unexplained_shortfalls']}")


def main() -> None:
    cli(prog_name="djkb")


if __name__ == "__main__":
    main()
