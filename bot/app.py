"""The Gradio web app: lays out the 问答, 学习材料, 知识库 and 评测 tabs and wires their events to named handlers.

What an event does lives in bot/handlers.py (component values in, what to show out) over the UI-free engine
in bot/service.py; the JSON endpoints are bot/api.py; labels and messages are bot/messages.py.
"""
from __future__ import annotations

import functools
import inspect
import time
from dataclasses import dataclass

import gradio as gr

from kb.config import DEFAULT_HOST, DEFAULT_PORT, Settings

from . import limits
from . import messages as msg
from . import views
from .api import CONCURRENT, ENDPOINTS, Api
from .guard import UploadGate
from .handlers import Handlers, client_of, doc_choices, doc_table, user_errors
from .service import SOURCES, Service

CJK_FONTS = ["WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "sans-serif"]
DOC_COLUMN_WIDTHS = ["11%", "27%", "9%", "5%", "5%", "6%", "10%", "16%", "11%"]
# Read events that may run at once. On 2 cores, 8 keeps short questions from queueing behind long ones without
# thrashing (benchmarks/load.py: closed loop, 50 clients; README "Serving").
READ_CONCURRENCY = 8
IMPORT_POLL_S = 2.0
# Gradio keeps a copy of the page's state per session, and every API call is a session of its own (~0.1 MB each
# with the regulations' document lists, ~93 KB measured on a 5-document base): its default of 10,000 grew the
# server by ~100 MB a minute under load. 500 of the most recent sessions keep every open tab's conversation.
SESSIONS_KEPT = 500
CACHE_PURGE_S = (3600, 3600)  # Gradio deletes its temporary files older than an hour, every hour
# Gradio's own English strings of the upload box, in Chinese whatever the browser's language.
UPLOAD_TEXTS = {"upload_text.drop_file": msg.UPLOAD_DROP, "upload_text.click_to_upload": msg.UPLOAD_CLICK,
                "common.or": msg.UPLOAD_OR}
# The locales Gradio 6 ships translations for: each gets the Chinese upload texts.
GRADIO_LOCALES = ("ar", "ca", "ckb", "de", "en", "es", "et", "eu", "fa", "fr", "he", "id", "ja", "ko", "lt", "nb",
                  "pt-BR", "pt", "ro", "ru", "sv", "ta", "th", "tr", "uk", "ur", "uz", "zh-CN", "zh-TW")


@dataclass(frozen=True)
class QaTab:
    chatbot: gr.Chatbot
    question: gr.Textbox
    ask: gr.Button
    doc_type: gr.Dropdown
    doc: gr.Dropdown
    clear: gr.Button
    cards: gr.HTML
    turns: gr.State
    in_force: gr.Checkbox


@dataclass(frozen=True)
class StudyTab:
    topic: gr.Textbox
    n_items: gr.Slider
    seed: gr.Number
    make: gr.Button
    export: gr.Button
    view: gr.HTML
    md_file: gr.File
    docx_file: gr.File
    xlsx_file: gr.File
    shown: gr.State


@dataclass(frozen=True)
class Compare:
    old: gr.Textbox
    new: gr.Textbox
    run: gr.Button
    view: gr.HTML
    file: gr.File


@dataclass(frozen=True)
class KbTab:
    password: gr.Textbox
    files: gr.File
    upload: gr.Button
    del_doc: gr.Dropdown
    delete: gr.Button
    source: gr.Radio
    reingest: gr.Button
    status: gr.Markdown
    detail: gr.JSON
    table: gr.Dataframe
    refresh: gr.Button
    status_pick: gr.Dropdown
    set_status: gr.Button
    compare: Compare


@dataclass(frozen=True)
class EvalTab:
    refresh: gr.Button
    page: gr.Markdown


def _qa_tab(choices: list[tuple[str, str]]) -> QaTab:
    with gr.Tab("问答", id="qa"), gr.Row(equal_height=False):
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(label="对话", height=480, elem_id="djkb-chat", buttons=["copy"],
                                 placeholder="请在下方输入问题，或点击示例问题。")
            with gr.Row():
                question = gr.Textbox(show_label=False, placeholder="请输入问题，例如：预备党员的预备期是多长时间？",
                                      scale=5, elem_id="djkb-question", max_lines=4, max_length=limits.MAX_QUERY_CHARS)
                ask = gr.Button("提问", variant="primary", scale=1, elem_id="djkb-ask")
            gr.Examples([[q] for q in msg.EXAMPLES], inputs=[question], label="示例问题")
            with gr.Row():
                doc_type = gr.Dropdown(list(msg.DOC_TYPE_CHOICES), value="", label="文档类型", elem_id="djkb-doc-type")
                doc = gr.Dropdown(choices, value="", label="限定文档", filterable=True, elem_id="djkb-doc", scale=2)
                in_force = gr.Checkbox(True, label=msg.STATUS_FILTER, info=msg.STATUS_FILTER_INFO,
                                       elem_id="djkb-in-force")
                clear = gr.Button("清空对话", size="sm")
        with gr.Column(scale=2):
            gr.Markdown("### 引用依据")
            cards = gr.HTML(views.cards_placeholder(msg.CARDS_PLACEHOLDER), elem_id="djkb-cards")
    return QaTab(chatbot, question, ask, doc_type, doc, clear, cards, gr.State([]), in_force)


def _study_tab() -> StudyTab:
    with gr.Tab("学习材料", id="study"):
        gr.Markdown(msg.STUDY_INTRO)
        with gr.Row():
            topic = gr.Textbox(label="学习主题", placeholder="例如：民主生活会、预备党员、党费", scale=3,
                               elem_id="djkb-topic", max_length=limits.MAX_TOPIC_CHARS)
            n_items = gr.Slider(1, 30, value=10, step=1, label="题目数量")
            seed = gr.Number(0, precision=0, label="随机种子（换一组题）")
        with gr.Row():
            make = gr.Button("生成学习材料", variant="primary", elem_id="djkb-study")
            export = gr.Button("导出 Markdown、Word 和题库", elem_id="djkb-export")
        view = gr.HTML(elem_id="djkb-study-view")
        with gr.Row():
            md_file = gr.File(label="Markdown 文件", interactive=False, height=90, elem_id="djkb-md-file")
            docx_file = gr.File(label="Word 文件（.docx）", interactive=False, height=90, elem_id="djkb-docx-file")
            xlsx_file = gr.File(label="题库（.xlsx）", interactive=False, height=90, elem_id="djkb-xlsx-file")
    return StudyTab(topic, n_items, seed, make, export, view, md_file, docx_file, xlsx_file, gr.State(None))


def _kb_tab(service: Service, rows: list[dict]) -> KbTab:
    from ingest.readers import SUPPORTED_SUFFIXES

    access, writable = service.access, service.access.writable
    with gr.Tab("知识库", id="kb"):
        gr.Markdown(access.note, elem_id="djkb-access")
        password = gr.Textbox(label="管理员密码（输入后按回车）", type="password", visible=access.needs_password,
                              elem_id="djkb-password")
        with gr.Row(equal_height=False):
            with gr.Column():
                files = gr.File(label=f"上传文件（{' '.join(SUPPORTED_SUFFIXES)}；单个不超过 "
                                      f"{service.settings.max_upload_mb} MB，一次最多 {limits.MAX_FILES_PER_REQUEST} 个）",
                                file_count="multiple", interactive=writable and not access.needs_password,
                                elem_id="djkb-files")
                upload = gr.Button("上传并导入", variant="primary", interactive=writable, elem_id="djkb-upload")
            with gr.Column():
                del_doc = gr.Dropdown(doc_choices(rows)[1:], value=None, label="选择文档（删除或设定版本状态）",
                                      filterable=True, interactive=writable)
                delete = gr.Button("删除所选文档", variant="stop", interactive=writable)
                with gr.Row():
                    status_pick = gr.Dropdown(list(msg.STATUS_CHOICES), value=None, label="所选文档的版本状态",
                                              interactive=writable, elem_id="djkb-status-pick")
                    set_status = gr.Button("设定状态", interactive=writable, elem_id="djkb-set-status")
                source = gr.Radio([(msg.SOURCE_LABELS[s], s) for s in SOURCES], value="uploads",
                                  label="重新导入（增量，只处理有变化的文件）", interactive=writable)
                reingest = gr.Button("重新导入", interactive=writable, elem_id="djkb-reingest")
        status = gr.Markdown(elem_id="djkb-kb-status")
        with gr.Accordion("导入详情（JSON）", open=False):
            detail = gr.JSON(label="导入详情")
        table = gr.Dataframe(doc_table(rows), headers=list(msg.DOC_HEADERS), interactive=False, wrap=True,
                             label="知识库文档", max_height=480, elem_id="djkb-docs", column_widths=DOC_COLUMN_WIDTHS)
        refresh = gr.Button("刷新列表", size="sm")
        with gr.Accordion("版本对照", open=False):
            gr.Markdown(msg.COMPARE_INTRO)
            with gr.Row():
                cmp_old = gr.Textbox(label="旧版本（文档ID或标题）", elem_id="djkb-cmp-old")
                cmp_new = gr.Textbox(label="新版本（文档ID、标题或《标题》（2023年修订））", elem_id="djkb-cmp-new")
                cmp_run = gr.Button("对照", elem_id="djkb-cmp-run")
            cmp_view = gr.HTML(elem_id="djkb-cmp-view")
            cmp_file = gr.File(label="对照表（.docx）", interactive=False, height=90)
    return KbTab(password, files, upload, del_doc, delete, source, reingest, status, detail, table, refresh,
                 status_pick, set_status, Compare(cmp_old, cmp_new, cmp_run, cmp_view, cmp_file))


def _eval_tab() -> EvalTab:
    with gr.Tab("评测", id="eval"):
        refresh = gr.Button("刷新", size="sm")
        page = gr.Markdown(elem_id="djkb-eval")
    return EvalTab(refresh, page)


def _wire_qa(h: Handlers, qa: QaTab) -> None:
    gr.on([qa.question.submit, qa.ask.click], h.respond,
          inputs=[qa.question, qa.chatbot, qa.turns, qa.doc_type, qa.doc, qa.in_force],
          outputs=[qa.chatbot, qa.cards, qa.turns, qa.question], api_name="chat",
          concurrency_limit=READ_CONCURRENCY)
    qa.clear.click(h.clear, outputs=[qa.chatbot, qa.turns, qa.cards], api_visibility="private")
    qa.chatbot.clear(lambda: h.clear()[1:], outputs=[qa.turns, qa.cards], api_visibility="private")


def _wire_study(h: Handlers, st: StudyTab) -> None:
    files = [st.md_file, st.docx_file, st.xlsx_file]
    gr.on([st.make.click, st.topic.submit], h.no_downloads, outputs=files, api_visibility="private").then(
        h.study, inputs=[st.topic, st.n_items, st.seed], outputs=[st.view, st.shown], api_name="study")
    st.export.click(h.export, inputs=[st.topic, st.n_items, st.seed, st.shown],
                    outputs=files, api_name="export")


def _wire_kb(h: Handlers, kb: KbTab, qa: QaTab) -> None:
    lists = [kb.table, qa.doc, kb.del_doc]
    gr.on([kb.password.submit, kb.password.blur], h.unlock, inputs=[kb.password], outputs=[kb.status, kb.files],
          api_name="unlock", concurrency_limit=1)
    kb.upload.click(h.upload, inputs=[kb.files, kb.password],
                    outputs=[kb.status, kb.detail, *lists, kb.files], api_name="upload", concurrency_limit=1)
    kb.delete.click(h.delete, inputs=[kb.del_doc, kb.password], outputs=[kb.status, *lists],
                    api_visibility="private", concurrency_limit=1)
    kb.reingest.click(h.reingest, inputs=[kb.source, kb.password], outputs=[kb.status, kb.detail, *lists],
                      api_visibility="private", concurrency_limit=1)
    kb.refresh.click(h.documents, outputs=lists, api_visibility="private")
    kb.compare.run.click(h.compare, inputs=[kb.compare.old, kb.compare.new], outputs=[kb.compare.view, kb.compare.file],
                         api_visibility="private")
    kb.set_status.click(h.set_status, inputs=[kb.del_doc, kb.status_pick, kb.password], outputs=[kb.status, *lists],
                        api_visibility="private")


def _endpoint(method):
    """Return ``method`` with any error shown to the API client as a Chinese Gradio error (signature kept for the
    docs); a ``client`` parameter is filled from the request instead of by the caller."""
    signature = inspect.signature(method)
    if "client" not in signature.parameters:
        @functools.wraps(method)
        def call(*args, **kwargs):
            with user_errors():
                return method(*args, **kwargs)

        return call

    @functools.wraps(method)
    def call_with_client(*args, **kwargs):
        # Gradio passes the request where the signature below puts it: last.
        if "request" in kwargs:
            request = kwargs.pop("request")
        else:
            *args, request = args
        with user_errors():
            return method(*args, client=client_of(request), **kwargs)

    params = [p for p in signature.parameters.values() if p.name != "client"]
    params.append(inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                                    annotation=gr.Request))
    call_with_client.__signature__ = signature.replace(parameters=params)
    call_with_client.__annotations__ = {**{k: v for k, v in method.__annotations__.items() if k != "client"},
                                        "request": gr.Request}
    return call_with_client


def _register_api(api: Api) -> None:
    """Register the JSON endpoints of bot/api.py, each under its own name."""
    for name in ENDPOINTS:
        gr.api(_endpoint(getattr(api, name)), api_name=name,
               concurrency_limit=READ_CONCURRENCY if name in CONCURRENT else 1)


def _import_line(h: Handlers, service: Service) -> None:
    """The background import's progress line at the top of every tab, polled while the import runs."""
    state = service.import_state()
    line = gr.Markdown(state.message(), visible=bool(state.total), elem_id="djkb-import")
    timer = gr.Timer(IMPORT_POLL_S, active=state.running)
    timer.tick(h.import_status, outputs=[line, timer], api_visibility="private", concurrency_limit=None,
               show_progress="hidden")


def build_app(settings: Settings, *, host: str = DEFAULT_HOST, service: Service | None = None, searcher=None):
    """Return the Gradio Blocks app over ``settings.kb_dir``, loading the model and searcher once.

    ``host`` decides the write policy (read-only on a non-loopback bind without a password); ``searcher``
    reuses an opened knowledge base. Raises DjkbError if the knowledge base cannot be opened.
    """
    service = service or Service(settings, host=host, searcher=searcher)
    handlers = Handlers(service)
    rows = service.documents()
    with gr.Blocks(title=msg.TITLE, analytics_enabled=False, delete_cache=CACHE_PURGE_S) as demo:
        _register_api(Api(service))  # first, so that the private events' names cannot take theirs
        gr.Markdown(f"# {msg.TITLE}\n{msg.INTRO}")
        _import_line(handlers, service)
        qa = _qa_tab(doc_choices(rows))
        study = _study_tab()
        kb = _kb_tab(service, rows)
        ev = _eval_tab()
        _wire_qa(handlers, qa)
        _wire_study(handlers, study)
        _wire_kb(handlers, kb, qa)
        ev.refresh.click(handlers.eval_page, outputs=[ev.page], api_visibility="private")
        demo.load(handlers.load, outputs=[ev.page, kb.table, qa.doc, kb.del_doc], api_visibility="private")
    return demo


def launch(settings: Settings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
           prevent_thread_lock: bool = False, searcher=None, service: Service | None = None,
           ssl: tuple[str, str] | None = None):
    """Build the app, serve it on ``host:port`` (HTTPS with ``ssl`` = (certfile, keyfile)) and print its URL;
    block unless ``prevent_thread_lock``.

    Returns (demo, url). Raises DjkbError if the knowledge base cannot be opened.
    """
    from starlette.middleware import Middleware

    started = time.perf_counter()
    service = service or Service(settings, host=host, searcher=searcher)
    demo = build_app(settings, host=host, service=service)
    demo.queue(default_concurrency_limit=READ_CONCURRENCY)
    gate = Middleware(UploadGate, refusal=service.upload_refusal, limit_mb=settings.max_upload_mb,
                      files=limits.MAX_FILES_PER_REQUEST)
    _, url, _ = demo.launch(
        server_name=host, server_port=port, prevent_thread_lock=True, quiet=True, show_error=True,
        max_file_size=f"{settings.max_upload_mb}mb", allowed_paths=[str(service.reports_dir)],
        ssr_mode=False, footer_links=["api"], css=views.CSS, app_kwargs={"middleware": [gate]},
        state_session_capacity=SESSIONS_KEPT,
        theme=gr.themes.Default(primary_hue="red", font=CJK_FONTS, font_mono=["monospace"]),
        i18n=gr.I18n(**dict.fromkeys(GRADIO_LOCALES, UPLOAD_TEXTS)),
        ssl_certfile=ssl[0] if ssl else None, ssl_keyfile=ssl[1] if ssl else None, ssl_verify=False,
    )
    print(f"{msg.TITLE}已启动：{url}（启动用时 {time.perf_counter() - started:.1f} 秒；按 Ctrl+C 退出）", flush=True)
    if not prevent_thread_lock:
        demo.block_thread()
    return demo, url


__all__ = ["build_app", "launch"]
