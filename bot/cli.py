"""The ``djkb`` command line: ingest, docs, remove, reindex, search, ask, serve; ``eval`` comes from evals."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from kb.config import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_TOP_K, load_settings
from kb.errors import DjkbError
from kb.schema import DOC_TYPES

from .clikit import bar, dump, fail, open_kb, settings_of
from .messages import repair_summary


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


@click.group()
@click.option("--kb-dir", type=click.Path(file_okay=False, path_type=Path), help="知识库目录（默认 .djkb 或 DJKB_HOME）")
@click.option("--chroma-url", help="Chroma 服务地址，如 http://127.0.0.1:8000（或 DJKB_CHROMA_URL）")
@click.option("--model", "embed_model", help="嵌入模型名称或路径（或 DJKB_EMBED_MODEL）")
@click.version_option(package_name="dangjian-kb")
@click.pass_context
def cli(ctx: click.Context, kb_dir: Path | None, chroma_url: str | None, embed_model: str | None) -> None:
    """djkb 党建知识库：离线检索与问答。Offline knowledge base for Chinese party-building texts."""
    try:
        ctx.obj = load_settings(kb_dir=kb_dir, chroma_url=chroma_url, embed_model=embed_model)
    except DjkbError as exc:
        fail(exc)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--if-empty", is_flag=True, help="仅当知识库为空时才导入（make run 使用）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果")
@click.pass_context
def ingest(ctx: click.Context, paths: tuple[Path, ...], if_empty: bool, as_json: bool) -> None:
    """导入文件或文件夹（.txt .md .html .docx .pdf）。Ingest files and folders."""
    from ingest.pipeline import ingest as run_ingest

    settings = settings_of(ctx)
    kb = open_kb(settings)
    if if_empty and kb.catalog.load().documents:
        click.echo(f"知识库 {settings.kb_dir} 已有文档，跳过导入。", err=True)
        return
    try:
        report = run_ingest(kb, list(paths), progress=bar("导入"), max_bytes=settings.max_upload_mb * 2**20)
    except DjkbError as exc:
        fail(exc)
    if as_json:
        click.echo(dump(report.to_dict()))
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

    settings = settings_of(ctx)
    try:
        manifest = Catalog(settings.kb_dir).load()
    except DjkbError as exc:
        fail(exc)
    rows = document_rows(manifest, resolve(manifest, load_overrides(settings.kb_dir)), full_paths=True)
    if as_json:
        click.echo(dump(rows))
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

    settings = settings_of(ctx)
    try:
        message = set_status(settings.kb_dir, doc, None if clear else new_status) if (new_status or clear) else None
        row = status_of(settings.kb_dir, doc)
    except DjkbError as exc:
        fail(exc)
    if as_json:
        click.echo(dump(row))
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

    kb = open_kb(settings_of(ctx))
    for target in targets:
        try:
            entry = run_remove(kb, target)
        except DjkbError as exc:
            fail(exc)
        click.echo(f"已删除：{entry.title}（{len(entry.chunk_ids)} 个片段）")


@cli.command()
@click.pass_context
def reindex(ctx: click.Context) -> None:
    """用当前嵌入模型重新嵌入全部片段。Re-embed every chunk with the current model."""
    from ingest.maintenance import reindex as run_reindex

    kb = open_kb(settings_of(ctx), check_model=False)
    try:
        n = run_reindex(kb, progress=bar("重新嵌入"))
    except DjkbError as exc:
        fail(exc)
    click.echo(f"已用 {kb.embedder.name} 重新嵌入 {n} 个片段。")


@cli.command()
@click.pass_context
def repair(ctx: click.Context) -> None:
    """检查并修复知识库：重建损坏的目录、补嵌缺失的向量，不删除任何完好的文档。Rebuild the catalog and check every document."""
    from kb.base import KnowledgeBase
    from ingest.maintenance import repair as run_repair

    try:
        kb = KnowledgeBase.open(settings_of(ctx), check_model=False, repairing=True)
        reps = run_repair(kb, progress=bar("检查"))
    except DjkbError as exc:
        fail(exc)
    click.echo(f"检查完成：知识库共 {len(kb.catalog.load().documents)} 篇文档。" + repair_summary(reps))


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
    searcher = Searcher(open_kb(settings_of(ctx)))
    for q in questions:
        try:
            hits = searcher.search(str(q["question"]), k=top_k, mode=mode, filters=filters)
        except DjkbError as exc:
            fail(exc)
        if batch:
            click.echo(dump({"id": q.get("id"), "hits": [h.to_dict() for h in hits]}))
        elif as_json:
            click.echo(dump([h.to_dict() for h in hits]))
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
    settings = settings_of(ctx)
    answerer = Answerer(Searcher(open_kb(settings)), llm=ChatClient.from_settings(settings))
    filters = _filters(doc_type, doc, None, None, all_editions)
    questions = _jsonl(batch) if batch else [{"id": None, "question": question}]
    for q in questions:
        try:
            turns = answerer.converse([str(h) for h in q.get("history") or []], filters)
            answer = answerer.ask(str(q["question"]), turns, filters=filters)
        except DjkbError as exc:
            fail(exc)
        if batch or as_json:
            click.echo(dump(_answer_json(answer, q.get("id") if batch else None)))
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
        result = compare_editions(settings_of(ctx).kb_dir, old, new)
    except DjkbError as exc:
        fail(exc)
    if docx_path:
        to_docx(result, docx_path)
    click.echo(dump(result.to_dict()) if as_json else to_text(result, show_all))
    if docx_path and not as_json:
        click.echo(f"已导出：{docx_path}")


@cli.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option("--ingest", "corpus", type=click.Path(path_type=Path),
              help="启动后在后台导入该目录（先导入党内法规；已导入且未变的文件跳过），导入期间即可提问")
@click.option("--ssl-certfile", type=click.Path(path_type=Path), help="HTTPS 证书文件（与 --ssl-keyfile 同用）")
@click.option("--ssl-keyfile", type=click.Path(path_type=Path), help="HTTPS 私钥文件")
@click.option("--wait-chroma", default=60, show_default=True, type=click.IntRange(0, 3600),
              help="Chroma 服务未就绪时最多等待的秒数")
@click.pass_context
def serve(ctx, host: str, port: int, corpus: Path | None, ssl_certfile: Path | None, ssl_keyfile: Path | None,
          wait_chroma: int) -> None:
    """启动网页应用（问答、学习材料、知识库、评测）。Start the Gradio web app."""
    from bot.app import launch
    from bot.serving import check_port, check_ssl, limit_malloc_arenas, open_service

    settings = settings_of(ctx)
    limit_malloc_arenas()
    try:
        ssl = check_ssl(ssl_certfile, ssl_keyfile)
        check_port(host, port)
        service = open_service(settings, host, wait_chroma, lambda line: click.echo(line, err=True))
        service.prepare_checks()
        if corpus is not None:
            service.start_import(corpus)
        launch(settings, host=host, port=port, service=service, ssl=ssl)
    except DjkbError as exc:
        fail(exc)
    except OSError as exc:  # the port was taken between the check and the start
        fail(DjkbError(f"无法启动服务：{exc.strerror or exc}（{host}:{port}）"))


def _register_eval() -> None:
    from evals.cli import eval_group

    cli.add_command(eval_group)


_register_eval()


def main() -> None:
    cli(prog_name="djkb")


if __name__ == "__main__":
    main()
