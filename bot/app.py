"""The Gradio web app: 问答, 学习材料, 知识库 and 评测 tabs, and a named API endpoint for every function."""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from html import escape
from pathlib import Path

from kb.config import DEFAULT_HOST, DEFAULT_PORT, Settings
from kb.errors import DjkbError, NotFound
from kb.schema import Answer

from . import views
from .service import DOC_TYPE_CHOICES, SOURCES, Service, default_reports_dir, report_summary, turn_for

TITLE = "党建知识库"
EXAMPLES = ("党员领导干部的民主生活会多久开一次？", "党员可以信仰宗教吗？", "党章第十条", "预备党员的预备期是多长时间？")
DOC_HEADERS = ["文档ID", "标题", "类型", "片段", "条", "字数", "完整性检查", "来源文件", "导入时间"]
TYPE_NAMES = {"regulation": "党内法规", "speech": "讲话与学习材料", "other": "其他文件"}
SOURCE_CHOICES = (("上传目录（uploads）", "uploads"), ("语料目录（DJKB_CORPUS）", "corpus"))
CJK_FONTS = ["WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "sans-serif"]


@contextmanager
def _user_errors() -> Iterator[None]:
    """Show a DjkbError to the user (or API client) as a Gradio error with its Chinese message."""
    import gradio as gr

    try:
        yield
    except DjkbError as exc:
        raise gr.Error(str(exc), print_exception=False) from exc


def _failure(exc: DjkbError) -> str:
    """Show ``exc`` as a warning toast and return it as an escaped status line."""
    import gradio as gr

    gr.Warning(str(exc))
    return f"【失败】{escape(str(exc))}"


def _doc_rows(service: Service):
    import pandas as pd

    rows = [[r["doc_id"], r["title"], TYPE_NAMES.get(r["doc_type"], r["doc_type"]), r["chunks"], r["articles"],
             r["chars"], r["audit"], "、".join(r["sources"]), r["ingested_at"]] for r in service.documents()]
    return pd.DataFrame(rows, columns=DOC_HEADERS)


def _final_message(answer: Answer) -> str:
    text = views.answer_message(answer, answer.rewritten_query, answer.query)
    return text + (f"\n\n（提示：{answer.notice}）" if answer.notice else "")


def build_app(settings: Settings, *, host: str = DEFAULT_HOST, service: Service | None = None, searcher=None,
              reports_dir: Path | None = None):
    """Return the Gradio Blocks app over ``settings.kb_dir``, loading the model and searcher once.

    ``host`` decides the write policy (read-only on a non-loopback bind without a password); ``searcher``
    reuses an opened knowledge base. Raises DjkbError if the knowledge base cannot be opened.
    """
    import gradio as gr

    service = service or Service(settings, host=host, searcher=searcher, reports_dir=reports_dir)
    access = service.access
    from ingest.readers import SUPPORTED_SUFFIXES

    def doc_updates():
        choices = service.doc_choices()
        return gr.Dropdown(choices=choices), gr.Dropdown(choices=choices[1:], value=None)

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"# {TITLE}\n离线检索与问答：每个回答都附有出处，可展开原文核对。")
        turns = gr.State([])
        study_state = gr.State(None)

        # ---------------------------------------------------------------- 问答
        with gr.Tab("问答", id="qa"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(label="对话", height=480, elem_id="djkb-chat", buttons=["copy"],
                                         placeholder="请在下方输入问题，或点击示例问题。")
                    with gr.Row():
                        question = gr.Textbox(show_label=False, placeholder="请输入问题，例如：预备党员的预备期是多长时间？",
                                              scale=5, elem_id="djkb-question", max_lines=4)
                        ask_btn = gr.Button("提问", variant="primary", scale=1, elem_id="djkb-ask")
                    gr.Examples([[q] for q in EXAMPLES], inputs=[question], label="示例问题")
                    with gr.Row():
                        doc_type_box = gr.Dropdown(list(DOC_TYPE_CHOICES), value="", label="文档类型",
                                                   elem_id="djkb-doc-type")
                        doc_box = gr.Dropdown(service.doc_choices(), value="", label="限定文档", filterable=True,
                                              elem_id="djkb-doc", scale=2)
                        clear_btn = gr.Button("清空对话", size="sm")
                with gr.Column(scale=2):
                    gr.Markdown("### 引用依据")
                    cards = gr.HTML("<div class='djkb-cards'>提问后，这里显示回答所依据的原文段落。</div>",
                                    elem_id="djkb-cards")

        def respond(message, chat, history, doc_type, doc):
            message = (message or "").strip()
            if not message:
                gr.Warning("请输入问题")
                yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
                return
            chat = list(chat or []) + [{"role": "user", "content": escape(message)},
                                       {"role": "assistant", "content": "正在检索…"}]
            yield chat, "<div class='djkb-cards'>正在检索…</div>", gr.skip(), ""
            answer = None
            try:
                for part in service.stream(message, list(history or []), doc_type or "", doc or ""):
                    if isinstance(part, Answer):
                        answer = part
                    else:
                        chat[-1] = {"role": "assistant", "content": views.answer_message(part)}
                        yield chat, gr.skip(), gr.skip(), gr.skip()
            except DjkbError as exc:
                chat[-1] = {"role": "assistant", "content": _failure(exc)}
                yield chat, "<div class='djkb-cards'></div>", gr.skip(), gr.skip()
                return
            chat[-1] = {"role": "assistant", "content": _final_message(answer)}
            shown = [c.chunk for c in answer.citations] or [h.chunk for h in answer.related]
            html = views.answer_cards(answer, service.query_words(answer.rewritten_query or message),
                                      service.contexts(shown))
            yield chat, html, list(history or []) + [turn_for(answer)], gr.skip()

        gr.on([question.submit, ask_btn.click], respond, inputs=[question, chatbot, turns, doc_type_box, doc_box],
              outputs=[chatbot, cards, turns, question], api_name="chat", concurrency_limit=4)
        clear_btn.click(lambda: ([], [], "<div class='djkb-cards'></div>"), outputs=[chatbot, turns, cards],
                        api_visibility="private")
        chatbot.clear(lambda: ([], "<div class='djkb-cards'></div>"), outputs=[turns, cards], api_visibility="private")

        # ---------------------------------------------------------------- 学习材料
        with gr.Tab("学习材料", id="study"):
            gr.Markdown("输入学习主题，生成要点提纲（逐字摘自原文，注明出处）和练习题（填空题、选择题，附答案）。")
            with gr.Row():
                topic = gr.Textbox(label="学习主题", placeholder="例如：民主生活会、预备党员、党费", scale=3,
                                   elem_id="djkb-topic")
                n_items = gr.Slider(1, 30, value=10, step=1, label="题目数量")
                seed = gr.Number(0, precision=0, label="随机种子（换一组题）")
            with gr.Row():
                study_btn = gr.Button("生成学习材料", variant="primary", elem_id="djkb-study")
                export_btn = gr.Button("导出 Markdown 和 Word", elem_id="djkb-export")
            study_view = gr.HTML(elem_id="djkb-study-view")
            with gr.Row():
                md_file = gr.File(label="Markdown 文件", interactive=False, height=90, elem_id="djkb-md-file")
                docx_file = gr.File(label="Word 文件（.docx）", interactive=False, height=90,
                                    elem_id="djkb-docx-file")

        def make_study(t, n, s):
            try:
                outline, quiz = service.study(t, int(n), int(s or 0))
            except DjkbError as exc:
                return f"<p class='djkb-refused'>{_failure(exc)}</p>", gr.skip()
            return views.study_html(outline, quiz), ((t or "").strip(), int(n), int(s or 0), outline, quiz)

        def export(t, n, s, cached):
            key = ((t or "").strip(), int(n), int(s or 0))
            with _user_errors():
                outline, quiz = cached[3:] if cached and tuple(cached[:3]) == key else service.study(*key)
                md, docx = service.export(outline, quiz)
            return str(md), str(docx)

        gr.on([study_btn.click, topic.submit], make_study, inputs=[topic, n_items, seed],
              outputs=[study_view, study_state], api_name="study")
        export_btn.click(export, inputs=[topic, n_items, seed, study_state], outputs=[md_file, docx_file],
                         api_name="export")

        # ---------------------------------------------------------------- 知识库
        with gr.Tab("知识库", id="kb"):
            gr.Markdown(access.note, elem_id="djkb-access")
            password = gr.Textbox(label="管理员密码", type="password", visible=access.needs_password,
                                  elem_id="djkb-password")
            with gr.Row(equal_height=False):
                with gr.Column():
                    files = gr.File(label=f"上传文件（{' '.join(SUPPORTED_SUFFIXES)}；单个不超过 "
                                          f"{settings.max_upload_mb} MB）", file_count="multiple",
                                    interactive=access.writable, elem_id="djkb-files")
                    upload_btn = gr.Button("上传并导入", variant="primary", interactive=access.writable,
                                           elem_id="djkb-upload")
                with gr.Column():
                    del_doc = gr.Dropdown(service.doc_choices()[1:], value=None, label="删除文档", filterable=True,
                                          interactive=access.writable)
                    del_btn = gr.Button("删除所选文档", variant="stop", interactive=access.writable)
                    source = gr.Radio(list(SOURCE_CHOICES), value="uploads", label="重新导入（增量，只处理有变化的文件）",
                                      interactive=access.writable)
                    reingest_btn = gr.Button("重新导入", interactive=access.writable, elem_id="djkb-reingest")
            kb_status = gr.Markdown(elem_id="djkb-kb-status")
            with gr.Accordion("导入详情（JSON）", open=False):
                kb_detail = gr.JSON(label="导入详情")
            docs_table = gr.Dataframe(_doc_rows(service), headers=DOC_HEADERS, interactive=False, wrap=True,
                                      label="知识库文档", max_height=480, elem_id="djkb-docs",
                                      column_widths=["11%", "27%", "9%", "5%", "5%", "6%", "10%", "16%", "11%"])
            refresh_btn = gr.Button("刷新列表", size="sm")

        # Refusals and errors go to the status line: raising would mark every output (the table too) as failed.
        def upload(paths, pw, progress=gr.Progress()):
            pairs = [(Path(p), Path(p).name) for p in (paths or [])]
            try:
                outcomes = service.upload(pairs, pw, progress=lambda name, i, total: progress(
                    (i, total), desc=f"正在导入 {name}"))
            except DjkbError as exc:
                return _failure(exc), {"ok": False, "error": str(exc), "files": []}, *[gr.skip()] * 4
            lines = [("【成功】" if o.ok else "【失败】") + f"{o.name}：{o.message}" for o in outcomes]
            detail = {"ok": all(o.ok for o in outcomes), "files": [o.to_dict() for o in outcomes]}
            return ("\n".join(f"- {escape(x)}" for x in lines), detail,
                    _doc_rows(service), *doc_updates(), None)

        def delete_ui(doc_id, pw):
            try:
                message = service.delete(doc_id or "", pw)
            except DjkbError as exc:
                return _failure(exc), *[gr.skip()] * 3
            return f"【成功】{escape(message)}", _doc_rows(service), *doc_updates()

        def reingest_ui(src, pw, progress=gr.Progress()):
            try:
                report = service.reingest(src, pw, progress=lambda name, i, total: progress(
                    (i, total), desc=f"正在导入 {name}"))
            except DjkbError as exc:
                return _failure(exc), {"ok": False, "error": str(exc)}, *[gr.skip()] * 3
            return (escape(report_summary(report)), report.to_dict(),
                    _doc_rows(service), *doc_updates())

        upload_btn.click(upload, inputs=[files, password],
                         outputs=[kb_status, kb_detail, docs_table, doc_box, del_doc, files], api_name="upload")
        del_btn.click(delete_ui, inputs=[del_doc, password], outputs=[kb_status, docs_table, doc_box, del_doc],
                      api_visibility="private")
        reingest_btn.click(reingest_ui, inputs=[source, password],
                           outputs=[kb_status, kb_detail, docs_table, doc_box, del_doc], api_visibility="private")
        refresh_btn.click(lambda: (_doc_rows(service), *doc_updates()), outputs=[docs_table, doc_box, del_doc],
                          api_visibility="private")

        # ---------------------------------------------------------------- 评测
        with gr.Tab("评测", id="eval"):
            eval_refresh = gr.Button("刷新", size="sm")
            eval_md = gr.Markdown(elem_id="djkb-eval")

        def eval_view():
            report = views.load_report(service.reports_dir)
            if report is None:
                return views.NO_REPORT
            return f"**报告目录**：`{report.directory.name}`\n\n" + report.page_markdown()

        eval_refresh.click(eval_view, outputs=[eval_md], api_visibility="private")
        demo.load(lambda: (eval_view(), _doc_rows(service), *doc_updates()),
                  outputs=[eval_md, docs_table, doc_box, del_doc], api_visibility="private")

        _register_api(gr, service)
    return demo


def _register_api(gr, service: Service) -> None:
    """Register the JSON endpoints: /ask /search /outline /quiz /documents /context /delete /reingest /eval_report."""

    def ask(question: str, doc_type: str = "", doc: str = "") -> dict:
        """Answer a question with citations (the JSON of `djkb ask --json`)."""
        with _user_errors():
            answer = service.ask(question, doc_type, doc)
        d = answer.to_dict()
        if answer.refused:
            d["related"] = [h.to_dict() for h in answer.related]
        return d

    def search(query: str, k: int = 10, doc_type: str = "", doc: str = "", mode: str = "hybrid") -> list[dict]:
        """Return the best passages for a query (the JSON of `djkb search --json`)."""
        with _user_errors():
            return [h.to_dict() for h in service.search(query, k, doc_type, doc, mode)]

    def outline(topic: str, doc_type: str = "", doc: str = "") -> dict:
        """Return the key requirements on a topic, grouped by document (regulations first)."""
        with _user_errors():
            return service.outline(topic, doc_type, doc).to_dict()

    def quiz(topic: str, n: int = 10, seed: int = 0, doc_type: str = "", doc: str = "") -> list[dict]:
        """Return quiz items (fill-in and multiple choice) on a topic, with answers and sources."""
        with _user_errors():
            return [item.to_dict() for item in service.quiz(topic, n, seed, doc_type, doc)]

    def documents() -> list[dict]:
        """List the stored documents with their statistics and audit results."""
        return service.documents()

    def context(chunk_id: str) -> dict:
        """Return a passage's whole article (or section) with the document text around it."""
        chunk = service.searcher.chunks.get(chunk_id)
        if chunk is None:
            with _user_errors():
                raise NotFound(f"知识库中没有片段 {chunk_id}")
        ctx = service.context(chunk)
        around = ctx.to_dict() if ctx else {"before": "", "focus": chunk.text, "after": ""}
        return {"chunk_id": chunk_id, "doc_title": chunk.doc_title, "heading_path": chunk.heading,
                "article": chunk.article, **around}

    def delete(doc: str, password: str = "") -> dict:
        """Delete a document by id or title (needs the admin password when one is set)."""
        with _user_errors():
            return {"ok": True, "message": service.delete(doc, password)}

    def reingest(source: str = "uploads", password: str = "") -> dict:
        """Ingest the uploads folder ('uploads') or the corpus folder ('corpus') again, incrementally."""
        with _user_errors():
            report = service.reingest(source, password)
        return {"ok": True, "message": report_summary(report), "report": report.to_dict()}

    def eval_report() -> dict:
        """Return the latest evaluation report (report.md, metrics, chart names)."""
        report = views.load_report(service.reports_dir)
        return report.to_dict() if report else {"found": False, "message": views.NO_REPORT}

    for fn in (ask, search, outline, quiz, documents, context, delete, reingest, eval_report):
        gr.api(fn, api_name=fn.__name__, concurrency_limit=4 if fn in (ask, search, context) else 1)


def launch(settings: Settings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
           prevent_thread_lock: bool = False, searcher=None, service: Service | None = None,
           reports_dir: Path | None = None):
    """Build the app, serve it on ``host:port`` and print its URL; block unless ``prevent_thread_lock``.

    Returns (demo, url). Raises DjkbError if the knowledge base cannot be opened.
    """
    import gradio as gr

    started = time.perf_counter()
    demo = build_app(settings, host=host, service=service, searcher=searcher, reports_dir=reports_dir)
    demo.queue(default_concurrency_limit=1)
    reports = service.reports_dir if service else Path(reports_dir) if reports_dir else default_reports_dir()
    _, url, _ = demo.launch(
        server_name=host, server_port=port, prevent_thread_lock=True, quiet=True, show_error=True,
        max_file_size=f"{settings.max_upload_mb}mb", allowed_paths=[str(reports)],
        ssr_mode=False, footer_links=["api"], css=views.CSS,
        theme=gr.themes.Default(primary_hue="red", font=CJK_FONTS, font_mono=["monospace"]),
    )
    print(f"{TITLE}已启动：{url}（启动用时 {time.perf_counter() - started:.1f} 秒；按 Ctrl+C 退出）", flush=True)
    if not prevent_thread_lock:
        demo.block_thread()
    return demo, url


__all__ = ["SOURCES", "build_app", "launch"]
